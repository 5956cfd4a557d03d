//! The cookie fetches side by side with the real haproxy 2.6 on one config: with and
//! without a name (`req.cook cook req.cook_cnt cook_cnt req.cook_val cook_val` on the
//! request's `Cookie` lines, `res.cook scook res.cook_cnt scook_cnt res.cook_val scook_val`
//! on a response's `Set-Cookie` lines), in header values and in ACLs (`deny if { cook_cnt gt
//! 2 }`: 403 past two cookies, counted over every `Cookie` line; every occurrence tried by
//! `-m str` and `cook_val(a) eq N`). The client's statuses and `X-` response headers and the
//! `X-` headers the backend received must be equal.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

fn cfg(front: u16, inner: u16, server: SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{front}\n\
         \x20 http-request deny deny_status 403 if {{ cook_cnt gt 2 }}\n\
         \x20 http-request set-header X-Cook \"[%[req.cook]] [%[cook]] [%[req.cook(a)]] [%[cook(b)]]\"\n\
         \x20 http-request set-header X-Cnt \"%[req.cook_cnt] %[cook_cnt] %[req.cook_cnt(a)] %[cook_cnt(b)]\"\n\
         \x20 http-request set-header X-Val \"%[req.cook_val] %[cook_val] %[req.cook_val(a)] %[cook_val(b)]\"\n\
         \x20 http-request set-header X-Any2 yes if {{ req.cook -m str 2 }}\n\
         \x20 http-request set-header X-A1 yes if {{ cook_val(a) eq 1 }}\n\
         \x20 http-request set-header X-Found yes if {{ cook -m found }}\n\
         \x20 http-response set-header X-Res \"[%[res.cook]] [%[scook]] [%[res.cook(x)]] [%[scook(Path)]] [%[res.cook(y)]]\"\n\
         \x20 http-response set-header X-Res-Cnt \"%[res.cook_cnt] %[scook_cnt] %[res.cook_cnt(x)] %[scook_cnt(Path)]\"\n\
         \x20 http-response set-header X-Res-Val \"%[res.cook_val] %[scook_val] %[res.cook_val(x)] %[scook_val(y)]\"\n\
         \x20 http-response set-header X-Res-Acl yes if {{ res.cook_val(x) eq 11 }}\n\
         \x20 use_backend setter if {{ path_beg /set }}\n\
         \x20 default_backend b\n\
         backend b\n  server s {server}\n\
         backend setter\n  server s 127.0.0.1:{inner}\n\
         frontend inner\n  bind 127.0.0.1:{inner}\n\
         \x20 http-request return status 200 content-type text/plain string ok hdr Set-Cookie \"x=11; Path=/; Expires=Wed, 21 Oct 2015 07:28:00 GMT\" hdr Set-Cookie \"y = 2 ; b=9\" hdr Set-Cookie \"noeq; x=5\" if {{ path /set1 }}\n\
         \x20 http-request return status 200 content-type text/plain string ok hdr Set-Cookie flag hdr Set-Cookie \"Path=/q\" if {{ path /set2 }}\n\
         \x20 http-request return status 200 content-type text/plain string ok hdr Set-Cookie \"a=1, x=2\" hdr Set-Cookie '$v=1; x=3' hdr Set-Cookie 'y=\"q;x=3\"; x=4' hdr Set-Cookie \"x=1; x=2; y=3\" if {{ path /set3 }}\n\
         \x20 http-request return status 200 content-type text/plain string ok\n"
    )
}

/// (path, extra request header lines)
const REQS: &[(&str, &str)] = &[
    ("/p1", "Cookie: a=1; b=2\r\n"),
    ("/p2", "Cookie: a=1; b=2; a=3\r\n"),
    ("/p3", "Cookie: a=1, b=2, c=3\r\n"),
    ("/p4", "Cookie: c=3\r\nCookie: a=2\r\n"),
    ("/p5", "Cookie: a=1\r\nCookie: b=2\r\nCookie: c=3\r\n"),
    ("/p6", "Cookie: b; a=1\r\n"),
    ("/p7", "Cookie: a = 1 ; $Version=1\r\n"),
    ("/p8", "Cookie: a=\"q;x\"\r\nCookie: b=2\r\n"),
    ("/p9", ""),
    ("/p10", "Cookie: =7; a=\r\n"),
    ("/p11", "Cookie: a=x=y; b=-12z\r\n"),
    ("/p12", "Cookie: a=\r\nCookie: b; a=\r\n"),
    ("/set1", "Cookie: a=1\r\n"),
    ("/set2", ""),
    ("/set3", ""),
    ("/set4", ""),
];

/// The requests, each on its own connection ([`x_exchanges`]).
async fn run(front: u16, server: &Backend) -> XExchanges {
    let heads: Vec<String> = REQS
        .iter()
        .map(|(p, extra)| format!("GET {p} HTTP/1.1\r\nHost: h\r\n{extra}\r\n"))
        .collect();
    x_exchanges(front, server, &heads, false).await
}

#[tokio::test]
async fn cookie_fetches_as_haproxy() {
    let server = Backend::start("app").await;
    let (front, inner) = (free_port(), free_port());
    let h = start(&cfg(front, inner, server.addr)).await;
    assert!(wait_listening(addr(inner)).await);
    let ours = run(front, &server).await;
    h.shutdown(Duration::from_secs(1)).await;
    let statuses: Vec<u16> = ours.0.iter().map(|a| a.0).collect();
    assert_eq!(
        statuses,
        [200, 403, 403, 200, 403, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
        "{ours:#?}"
    );
    let set1 = &ours.0[12].1;
    assert!(set1.contains(&"x-res-cnt=6 6 2 0".to_string()), "{set1:?}");
    assert!(
        ours.1[0].contains(&"x-cnt=2 2 1 1".to_string()),
        "{:?}",
        ours.1
    );

    let server2 = Backend::start("app").await;
    let (hfront, hinner) = (free_port(), free_port());
    let Some(_haproxy) = Haproxy::start(&cfg(hfront, hinner, server2.addr), addr(hfront)).await
    else {
        return;
    };
    assert!(wait_listening(addr(hinner)).await);
    let theirs = run(hfront, &server2).await;
    assert_eq!(theirs.0.len(), REQS.len());
    assert_eq!(ours.1.len(), theirs.1.len(), "requests the backend got");
    for (i, (o, t)) in ours.0.iter().zip(&theirs.0).enumerate() {
        assert_eq!(
            o, t,
            "request {} {:?}: (status, response headers) fulcrum vs haproxy",
            i, REQS[i]
        );
    }
    assert_eq!(
        ours.1, theirs.1,
        "headers the backend received: fulcrum vs haproxy"
    );
}
