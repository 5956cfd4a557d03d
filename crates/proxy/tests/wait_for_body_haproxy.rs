//! `http-request wait-for-body` in the middle of a frontend's rule chain, with a condition,
//! side by side with the real haproxy 2.6 on the same config: a rule before the wait answers
//! without waiting (even with the body still missing), the wait is skipped when its condition
//! does not hold, and the rules after it see the body (`req.body_len`, `req.body_param`)
//! whether it came with the head or later, in two parts. Status lines and bodies are
//! compared. A backend's `wait-for-body` (the frontend's `allow` skipped its own wait and the
//! rules after it), and a frontend's wait making the backend's a no-op. Under
//! FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

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
    run_these(http, REQUESTS).await
}

async fn run_these(http: u16, requests: &[&[&str]]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in requests {
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

fn backend_cfg(http: u16, server: SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:{http}\n\
         \x20 http-request allow if {{ path_beg /allow }}\n\
         \x20 http-request wait-for-body time 1s\n\
         \x20 http-request deny deny_status 403 if {{ path_beg /allow/deny }}\n\
         \x20 http-request return status 200 content-type text/plain lf-string \"fe len=%[req.body_len]\" if {{ path_beg /fe }}\n\
         \x20 use_backend waits if {{ path_beg /be }} || {{ path_beg /allow }}\n\
         \x20 default_backend app\n\
         backend waits\n\
         \x20 http-request set-var(txn.m) method\n\
         \x20 http-request wait-for-body time 1s if {{ var(txn.m) -m str POST }}\n\
         \x20 http-request return status 200 content-type text/plain lf-string \"be len=%[req.body_len] body=%[req.body]\"\n\
         backend app\n  server s1 {server}\n"
    )
}

const TWO_PARTS: &[&[&str]] = &[
    &[
        "POST /allow HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: close\r\n\r\nuser=",
        "ann&x=1",
    ],
    &[
        "POST /allow/deny HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: close\r\n\r\nuser=",
        "bob&x=1",
    ],
    &[
        "POST /fe HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: close\r\n\r\nuser=",
        "cid&x=1",
    ],
    &[
        "POST /be HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: close\r\n\r\nuser=",
        "dan&x=1",
    ],
];

#[tokio::test]
async fn a_backend_waits_for_the_body_as_haproxy() {
    let app = Backend::start("app").await;
    let port = free_port();
    let proxy = start(&backend_cfg(port, app.addr)).await;
    let ours = run_these(port, TWO_PARTS).await;
    proxy.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ours[0].1, "be len=12 body=user=ann&x=1", "{ours:?}");
    assert_eq!(
        ours[1].1, "be len=12 body=user=bob&x=1",
        "allow ends the frontend's chain, the deny after its wait included: {ours:?}"
    );
    assert_eq!(ours[2].1, "fe len=12", "{ours:?}");

    let hport = free_port();
    let Some(_haproxy) = Haproxy::start(&backend_cfg(hport, app.addr), v4(hport)).await else {
        return;
    };
    let theirs = run_these(hport, TWO_PARTS).await;
    assert_eq!(ours, theirs, "fulcrum vs haproxy");
}
