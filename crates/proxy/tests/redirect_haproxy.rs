//! `http-request redirect` with its options (`code`, `drop-query`, `append-slash`,
//! `set-cookie`, `clear-cookie`) for `location`, `prefix` and `scheme`, side by side with the
//! real haproxy 2.6: the same requests get the same status, Location and Set-Cookie. Before,
//! the options were parsed and ignored.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

fn cfg(front: u16, server: SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{front}\n\
         \x20 http-request redirect prefix /new drop-query append-slash code 301 if {{ path_beg /a }}\n\
         \x20 http-request redirect prefix /keep code 307 if {{ path_beg /b }}\n\
         \x20 http-request redirect scheme https drop-query set-cookie SEEN=1 if {{ path_beg /c }}\n\
         \x20 http-request redirect location /gone clear-cookie SID= code 303 if {{ path_beg /d }}\n\
         \x20 http-request redirect prefix / drop-query append-slash if {{ path_beg /e }}\n\
         \x20 http-request deny deny_status 429 content-type text/plain string \"slow down\" hdr X-Why limit if {{ path_beg /f }}\n\
         \x20 http-request deny deny_status 404 if {{ path_beg /g }}\n\
         \x20 default_backend b\n\
         backend b\n  server s {server}\n"
    )
}

const PATHS: &[&str] = &[
    "/a/x?q=1",
    "/a/dir/?q=1",
    "/b/y?z=2",
    "/c/p?q",
    "/d",
    "/e?x=1",
    "/f",
    "/g",
];

async fn answers(front: u16) -> Vec<(u16, String, String, String)> {
    let mut out = Vec::new();
    for p in PATHS {
        let mut c = Client::connect(addr(front)).await.expect("connect");
        c.send_raw(format!("GET {p} HTTP/1.1\r\nHost: example.com\r\n\r\n").as_bytes())
            .await
            .expect("send");
        let r = c.read_response(false).await.expect("answer");
        let body = if r.status == 429 {
            format!("{} {}", r.header("x-why").unwrap_or(""), r.text())
        } else {
            String::new()
        };
        out.push((
            r.status,
            r.header("location").unwrap_or("").to_string(),
            r.header("set-cookie").unwrap_or("").to_string(),
            body,
        ));
    }
    out
}

#[tokio::test]
async fn redirects_answer_as_haproxy_answers() {
    let server = Backend::start("app").await;
    let front = free_port();
    let h = start(&cfg(front, server.addr)).await;
    let ours = answers(front).await;
    h.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        ours[0],
        (301, "/new/a/x/".into(), String::new(), String::new()),
        "{ours:?}"
    );
    assert_eq!(ours[6].3, "limit slow down", "{ours:?}");
    assert_eq!(ours[7].0, 404, "{ours:?}");
    assert_eq!(ours[2].1, "/keep/b/y?z=2", "{ours:?}");
    assert_eq!(ours[3].2, "SEEN=1; path=/;", "{ours:?}");

    let hfront = free_port();
    let Some(_haproxy) = Haproxy::start(&cfg(hfront, server.addr), addr(hfront)).await else {
        return;
    };
    let theirs = answers(hfront).await;
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(
            o, t,
            "{}: (status, location, set-cookie, deny body) fulcrum vs haproxy",
            PATHS[i]
        );
    }
}
