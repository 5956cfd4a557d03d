//! `http-request set-timeout server TIME` side by side with the real haproxy 2.6: a server
//! that answers after 1.5 s is cut with a 504 after the rule's 300 ms on the paths the rule
//! matches, and waited for (the backend's `timeout server 5s`) elsewhere. `set-timeout
//! server EXPR` (a sample expression giving milliseconds) with the values haproxy 2.6 reads
//! differently: 0 and a value that is no number leave the timeout, a negative one expires at
//! once, `2s` is 2 ms.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

/// A server that reads a request head and answers 200 after 1.5 s.
async fn slow() -> SocketAddr {
    head_server(|mut s, _| async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await;
    })
    .await
}

fn cfg(front: u16, server: SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{front}\n\
         \x20 default_backend b\n\
         backend b\n  server s {server}\n\
         \x20 http-request set-timeout server 300ms if {{ path_beg /short }}\n"
    )
}

/// (status, seconds) for /short and /long.
async fn run(front: u16) -> Vec<(u16, f64)> {
    let mut out = Vec::new();
    for p in ["/short", "/long"] {
        let mut c = Client::connect(addr(front)).await.expect("connect");
        let t = Instant::now();
        c.send_raw(format!("GET {p} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes())
            .await
            .expect("send");
        let r = c.read_response(false).await.expect("answer");
        out.push((r.status, t.elapsed().as_secs_f64()));
    }
    out
}

fn check(who: &str, got: &[(u16, f64)]) {
    assert_eq!(got[0].0, 504, "{who}: {got:?}");
    assert!(
        got[0].1 >= 0.29 && got[0].1 < 1.2,
        "{who}: cut after 300 ms: {got:?}"
    );
    assert_eq!(got[1].0, 200, "{who}: {got:?}");
    assert!(got[1].1 >= 1.4, "{who}: waited for the server: {got:?}");
}

#[tokio::test]
async fn set_timeout_server_as_haproxy() {
    let server = slow().await;
    let front = free_port();
    let h = start(&cfg(front, server)).await;
    let ours = run(front).await;
    h.shutdown(Duration::from_secs(1)).await;
    check("fulcrum", &ours);

    let hfront = free_port();
    let Some(_haproxy) = Haproxy::start(&cfg(hfront, server), addr(hfront)).await else {
        return;
    };
    let theirs = run(hfront).await;
    check("haproxy", &theirs);
}

fn expr_cfg(front: u16, server: SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 600ms\n\
         listen l\n  bind 127.0.0.1:{front}\n\
         \x20 http-request set-timeout server req.hdr(x-t)\n\
         \x20 server s {server}\n"
    )
}

/// (x-t value, status, when) per request: "at once" (under 0.2 s), "300ms", "default"
/// (the backend's 600 ms) or "server" (the 1.5 s answer).
async fn run_expr(front: u16) -> Vec<(&'static str, u16, &'static str)> {
    let mut out = Vec::new();
    for t in ["300", "0", "-5", "3000", "abc", "2s", ""] {
        let mut c = Client::connect(addr(front)).await.expect("connect");
        let started = Instant::now();
        c.send_raw(format!("GET / HTTP/1.1\r\nHost: h\r\nx-t: {t}\r\n\r\n").as_bytes())
            .await
            .expect("send");
        let r = c.read_response(false).await.expect("answer");
        let s = started.elapsed().as_secs_f64();
        let when = match s {
            s if s < 0.2 => "at once",
            s if s < 0.45 => "300ms",
            s if s < 1.2 => "default",
            _ => "server",
        };
        out.push((t, r.status, when));
    }
    out
}

#[tokio::test]
async fn set_timeout_expression_as_haproxy() {
    let server = slow().await;
    let front = free_port();
    let h = start(&expr_cfg(front, server)).await;
    let ours = run_expr(front).await;
    h.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ours[0], ("300", 504, "300ms"), "{ours:?}");
    assert_eq!(ours[3], ("3000", 200, "server"), "{ours:?}");

    let hfront = free_port();
    let Some(_haproxy) = Haproxy::start(&expr_cfg(hfront, server), addr(hfront)).await else {
        return;
    };
    let theirs = run_expr(hfront).await;
    assert_eq!(ours, theirs, "(x-t, status, when): fulcrum vs haproxy");
}
