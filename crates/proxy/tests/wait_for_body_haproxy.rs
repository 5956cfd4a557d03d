//! `http-request wait-for-body` in the middle of a frontend's rule chain, with a condition,
//! side by side with the real haproxy 2.6 on the same config: a rule before the wait answers
//! without waiting (even with the body still missing), the wait is skipped when its condition
//! does not hold, and the rules after it see the body (`req.body_len`, `req.body_param`)
//! whether it came with the head or later, in two parts. Status lines and bodies are
//! compared. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn cfg(http: u16, server: SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:{http}\n\
         \x20 http-request deny deny_status 401 if {{ path /deny }}\n\
         \x20 http-request wait-for-body time 1s if METH_POST\n\
         \x20 http-request deny deny_status 403 if {{ req.body_param(user) -m str evil }}\n\
         \x20 http-request return status 200 content-type text/plain lf-string \"len=%[req.body_len] user=%[req.body_param(user)]\" if {{ path /show }}\n\
         \x20 default_backend app\n\
         backend app\n  server s1 {server}\n"
    )
}

/// Requests as parts sent 300 ms apart.
const REQUESTS: &[&[&str]] = &[
    &["POST /show HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: close\r\n\r\nuser=bob&x=1"],
    &[
        "POST /show HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: close\r\n\r\nuser=",
        "ann&x=1",
    ],
    &["POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\nConnection: close\r\n\r\nuser=evil"],
    &["POST /deny HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\nConnection: close\r\n\r\nabc"],
    &["GET /echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"],
];

async fn exchange(http: u16, parts: &[&str]) -> (String, String) {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(v4(http)).await.ok()?;
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            s.write_all(p.as_bytes()).await.ok()?;
        }
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        Some(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(4), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.lines().next().unwrap_or("").to_string();
    let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    (status, body)
}

async fn run(http: u16) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in REQUESTS {
        out.push(exchange(http, r).await);
    }
    out
}

#[tokio::test]
async fn the_chain_pauses_at_wait_for_body_as_haproxy() {
    let app = Backend::start("app").await;
    let port = free_port();
    let proxy = start(&cfg(port, app.addr)).await;
    let ours = run(port).await;
    proxy.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ours[0].1, "len=12 user=bob", "{ours:?}");
    assert_eq!(
        ours[1].1, "len=12 user=ann",
        "the body's second part: {ours:?}"
    );
    assert!(ours[2].0.contains(" 403 "), "{ours:?}");
    assert!(ours[3].0.contains(" 401 "), "before the wait: {ours:?}");
    assert!(ours[4].0.contains(" 200 "), "{ours:?}");

    let hport = free_port();
    let Some(_haproxy) = Haproxy::start(&cfg(hport, app.addr), v4(hport)).await else {
        return;
    };
    let theirs = run(hport).await;
    let strip = |v: &[(String, String)]| {
        // The backend names itself the same way for both; error pages are haproxy's own.
        v.iter()
            .map(|(s, b)| (s.clone(), b.lines().next().unwrap_or("").to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&ours), strip(&theirs), "fulcrum vs haproxy");
}
