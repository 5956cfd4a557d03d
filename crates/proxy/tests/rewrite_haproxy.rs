//! Request-line and header rewrites (`set-method set-path set-pathq set-query set-uri
//! replace-path replace-uri replace-header replace-value del-header -m set-status`) side by
//! side with the real haproxy 2.6: the backend receives the same request line and headers,
//! the client the same status line and rewritten response header.
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
         \x20 http-request set-method POST if {{ path_beg /m }}\n\
         \x20 http-request set-path /np%[path] if {{ path_beg /p }}\n\
         \x20 http-request set-query a=%[url_param(x)] if {{ path_beg /q }}\n\
         \x20 http-request set-pathq /pq if {{ path_beg /z }}\n\
         \x20 http-request set-uri /u2?%[query] if {{ path_beg /u }}\n\
         \x20 http-request replace-path ^/rp/(.*) /replaced/\\1\n\
         \x20 http-request replace-uri ^/ru(.*) /uri\\1\n\
         \x20 http-request replace-header X-H ^(a+)(.*) [\\2|\\1]\n\
         \x20 http-request replace-value X-V ^b$ B\n\
         \x20 http-request del-header X-Del -m beg\n\
         \x20 http-request set-header X-Url %[url]\n\
         \x20 http-response set-status 299 reason Fine if {{ status 200 }}\n\
         \x20 http-response replace-header X-Server ^(.*)$ srv-\\1\n\
         \x20 default_backend b\n\
         backend b\n  server s {server}\n"
    )
}

const TARGETS: &[&str] = &[
    "/m?x=1",
    "/p/a?x=2",
    "/q?x=3&y=4",
    "/z/q?x",
    "/u/v?k=v",
    "/rp/x/y?z",
    "/ru/a?b",
];

/// (status line, x-server) the client got, and (request line, X- headers) the backend got.
async fn run(front: u16, server: &Backend) -> (Vec<(String, String)>, Vec<(String, Vec<String>)>) {
    let mut client = Vec::new();
    for t in TARGETS {
        let mut c = Client::connect(addr(front)).await.expect("connect");
        let raw = format!(
            "GET {t} HTTP/1.1\r\nHost: h\r\nX-H: aab\r\nX-V: a, b,b\r\nX-Del-1: x\r\nX-Delta: y\r\nX-Keep: k\r\n\r\n"
        );
        c.send_raw(raw.as_bytes()).await.expect("send");
        let r = c.read_response(false).await.expect("answer");
        let first = r.head.lines().next().unwrap_or("").to_string();
        client.push((first, r.header("x-server").unwrap_or("").to_string()));
    }
    let seen = server
        .heads()
        .iter()
        .map(|h| {
            let line = h.lines().next().unwrap_or("").to_string();
            let xs = x_fields(h);
            (line, xs)
        })
        .collect();
    (client, seen)
}

#[tokio::test]
async fn rewrites_as_haproxy_rewrites() {
    let server = Backend::start("app").await;
    let front = free_port();
    let h = start(&cfg(front, server.addr)).await;
    let ours = run(front, &server).await;
    h.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ours.1[1].0, "GET /np/p/a?x=2 HTTP/1.1", "{ours:?}");
    assert!(ours.1[0].1.contains(&"x-h=[b|aa]".to_string()), "{ours:?}");
    assert_eq!(ours.0[0].0, "HTTP/1.1 299 Fine", "{ours:?}");

    let server2 = Backend::start("app").await;
    let hfront = free_port();
    let Some(_haproxy) = Haproxy::start(&cfg(hfront, server2.addr), addr(hfront)).await else {
        return;
    };
    let theirs = run(hfront, &server2).await;
    for (i, (o, t)) in ours.1.iter().zip(&theirs.1).enumerate() {
        assert_eq!(
            o, t,
            "{}: what the backend received, fulcrum vs haproxy",
            TARGETS[i]
        );
    }
    assert_eq!(
        ours.0, theirs.0,
        "status lines and x-server: fulcrum vs haproxy"
    );
}
