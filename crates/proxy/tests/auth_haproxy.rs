//! `userlist` sections, `http-request auth`, the `http_auth(L)` / `http_auth_group(L)` /
//! `http_auth_user|pass|type` fetches and `http-request tarpit` side by side with the real
//! haproxy 2.6 on the same configuration: the same statuses and response heads (401 with its
//! Basic challenge, the tarpit's error page after `timeout tarpit`), and the same headers the
//! backend receives. Passwords: plain, SHA-512, SHA-256 and MD5 crypt(3) hashes.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

fn cfg(front: u16, server: SocketAddr) -> String {
    format!(
        "userlist L\n\
         \x20 group admins users alice\n\
         \x20 group ops\n\
         \x20 user alice insecure-password wonder\n\
         \x20 user bob password $6$fulcrum6$o3YcGebx4B2wFTnz6RlLaUtP.pFCFtmNtXUD.aHTEXsFO8FhXYnu/iT8JyP3NLkzLRrMtkY6yq7V496biQEV80 groups ops\n\
         \x20 user carol password $1$fulcrum1$maRdlUvIl/k/044ZvD7hO0\n\
         \x20 user dave password $5$fulcrum5$b71KolCrs7MINGmwsyog1KLBQz3FdIbluF33NMrYrrB groups ops,admins\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         \x20 timeout tarpit 400ms\n\
         frontend f\n  bind 127.0.0.1:{front}\n\
         \x20 acl admin http_auth_group(L) admins\n\
         \x20 http-request tarpit deny_status 429 if {{ path_beg /slow }}\n\
         \x20 http-request tarpit if {{ path_beg /tar500 }}\n\
         \x20 http-request auth realm Admin\\ area if {{ path_beg /admin }} !admin\n\
         \x20 http-request auth if {{ path_beg /any }} !{{ http_auth(L) }}\n\
         \x20 http-request set-header X-User %[http_auth_user]\n\
         \x20 http-request set-header X-Pass %[http_auth_pass]\n\
         \x20 http-request set-header X-Type %[http_auth_type]\n\
         \x20 http-request set-header X-Ok %[http_auth(L)]\n\
         \x20 http-request set-header X-Grp %[http_auth_group(L)]\n\
         \x20 http-request set-header X-Ops yes if {{ http_auth_group(L) ops }}\n\
         \x20 default_backend b\n\
         backend b\n  server s {server}\n"
    )
}

const CASES: &[(&str, Option<&str>)] = &[
    ("/admin/x", None),
    ("/admin/x", Some("Basic YWxpY2U6d29uZGVy")), // alice:wonder (admins)
    ("/admin/x", Some("Basic Ym9iOmJvYnBhc3M=")), // bob:bobpass (ops only)
    ("/admin/x", Some("Basic ZGF2ZTpkYXZlcGFzcw==")), // dave:davepass (ops, admins)
    ("/any/x", None),
    ("/any/x", Some("Basic Ym9iOndyb25n")),     // bob:wrong
    ("/any/x", Some("Basic Ym9iOmJvYnBhc3M=")), // bob:bobpass
    ("/any/x", Some("Basic Y2Fyb2w6Y2Fyb2xwYXNz")), // carol:carolpass (MD5)
    ("/any/x", Some("Bearer abc.def")),
    ("/any/x", Some("Basic !!notbase64")),
    ("/free", Some("Basic ZGF2ZTpkYXZlcGFzcw==")),
    ("/free", None),
];

/// Per request on its own connection: status, response head lines (sorted, without the
/// date-like ones), body; and the X- headers the backend received.
async fn run(front: u16, server: &Backend) -> (Vec<(u16, Vec<String>, String)>, Vec<Vec<String>>) {
    let mut answers = Vec::new();
    for (p, auth) in CASES {
        let mut c = Client::connect(addr(front)).await.expect("connect");
        let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
        c.send_raw(format!("GET {p} HTTP/1.1\r\nHost: h\r\n{auth}\r\n").as_bytes())
            .await
            .expect("send");
        let r = c.read_response(false).await.expect("answer");
        let mut head: Vec<String> = r
            .head
            .lines()
            .skip(1)
            .filter(|l| !l.to_ascii_lowercase().starts_with("x-server"))
            .map(|l| l.to_ascii_lowercase())
            .collect();
        head.sort();
        let first = r.head.lines().next().unwrap_or("").to_string();
        head.insert(0, first);
        answers.push((
            r.status,
            head,
            String::from_utf8_lossy(&r.body).into_owned(),
        ));
    }
    let seen = server.heads().iter().map(|h| x_fields(h)).collect();
    (answers, seen)
}

/// Status and seconds until the answer of a tarpitted request.
async fn tarpit(front: u16, path: &str) -> (u16, f64, bool, String) {
    let mut c = Client::connect(addr(front)).await.expect("connect");
    let t = Instant::now();
    c.send_raw(format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let r = c.read_response(false).await.expect("answer");
    let took = t.elapsed().as_secs_f64();
    let closed = c.closed_within(Duration::from_millis(500)).await;
    (r.status, took, closed, r.head.to_ascii_lowercase())
}

#[tokio::test]
async fn auth_and_tarpit_behave_as_haproxy() {
    let server = Backend::start("app").await;
    let front = free_port();
    let h = start(&cfg(front, server.addr)).await;
    let ours = run(front, &server).await;
    let ours_slow = tarpit(front, "/slow").await;
    let ours_500 = tarpit(front, "/tar500").await;
    h.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ours.0[0].0, 401, "{ours:?}");
    assert!(
        ours.0[0]
            .1
            .iter()
            .any(|l| l == "www-authenticate: basic realm=\"admin area\""),
        "{ours:?}"
    );
    assert_eq!(ours.0[1].0, 200, "alice is an admin: {ours:?}");
    assert_eq!(ours.0[2].0, 401, "bob is not: {ours:?}");
    assert_eq!(ours.0[6].0, 200, "bob's SHA-512 password: {ours:?}");
    assert_eq!(ours.0[7].0, 200, "carol's MD5 password: {ours:?}");
    assert_eq!(ours_slow.0, 429);
    assert!(ours_slow.1 >= 0.39, "held {ours_slow:?}");
    assert!(!ours_slow.2, "kept open after the tarpit, as haproxy 2.6");
    assert_eq!(ours_500.0, 500);

    let server2 = Backend::start("app").await;
    let hfront = free_port();
    let Some(_haproxy) = Haproxy::start(&cfg(hfront, server2.addr), addr(hfront)).await else {
        return;
    };
    let theirs = run(hfront, &server2).await;
    let theirs_slow = tarpit(hfront, "/slow").await;
    let theirs_500 = tarpit(hfront, "/tar500").await;
    for (i, (o, t)) in ours.0.iter().zip(&theirs.0).enumerate() {
        assert_eq!(o, t, "request {i} {:?}: fulcrum vs haproxy", CASES[i]);
    }
    assert_eq!(
        ours.1, theirs.1,
        "headers the backend received: fulcrum vs haproxy"
    );
    assert_eq!(
        (ours_slow.0, ours_slow.2, &ours_slow.3),
        (theirs_slow.0, theirs_slow.2, &theirs_slow.3)
    );
    assert_eq!(
        (ours_500.0, ours_500.2, &ours_500.3),
        (theirs_500.0, theirs_500.2, &theirs_500.3)
    );
    assert!(theirs_slow.1 >= 0.39, "haproxy held {theirs_slow:?}");
}
