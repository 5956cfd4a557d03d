//! `option http-buffer-request` with the `req.body`, `req.body_len`, `req.body_size` and
//! `req.body_param` fetches, in ACLs and in a `return lf-string` value, run side by side with
//! the real haproxy 2.6 on the same config: Content-Length and chunked bodies, a deny on a
//! body parameter, a body still forwarded whole after it was buffered, and `Expect:
//! 100-continue` answered by the proxy. Status lines and bodies are compared.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

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
         frontend web\n  bind 127.0.0.1:{http}\n  option http-buffer-request\n\
         \x20 http-request deny deny_status 403 if {{ req.body_param(user) -m str evil }}\n\
         \x20 http-request deny deny_status 413 if {{ req.body_len gt 40 }}\n\
         \x20 http-request return status 200 content-type text/plain lf-string \"len=%[req.body_len] size=%[req.body_size] body=%[req.body] user=%[req.body_param(user)]\" if {{ path /show }}\n\
         \x20 default_backend app\n\
         backend app\n  server s1 {server}\n"
    )
}

const REQUESTS: &[&str] = &[
    "POST /show HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: close\r\n\r\nuser=bob&x=1",
    "POST /show HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nuser=\r\n2\r\nal\r\n0\r\n\r\n",
    "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\nConnection: close\r\n\r\nuser=evil",
    "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 14\r\nConnection: close\r\n\r\nuser=bob&a=b&c",
    "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 50\r\nConnection: close\r\n\r\n01234567890123456789012345678901234567890123456789",
    "GET /show HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
];

/// The status line and the body of `raw`'s answer.
fn summary(buf: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(buf).into_owned();
    let status = text.lines().next().unwrap_or("").to_string();
    let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    (status, body)
}

async fn exchange(http: u16, raw: &[u8]) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(v4(http))
        .await
        .expect("connect");
    s.write_all(raw).await.expect("send");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
    buf
}

/// A client that sends `Expect: 100-continue` and its body only after the proxy's `100`.
async fn expect_continue(http: u16) -> (String, String) {
    let mut s = tokio::net::TcpStream::connect(v4(http))
        .await
        .expect("connect");
    s.write_all(b"POST /show HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut got = Vec::new();
    let mut b = [0u8; 512];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut b))
            .await
            .expect("an interim answer within 3 s")
            .expect("read");
        assert!(n > 0, "closed before 100 Continue");
        got.extend_from_slice(&b[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 100 Continue\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    s.write_all(b"user=cat").await.expect("body");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut rest)).await;
    let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
    let mut all = got[end..].to_vec();
    all.extend_from_slice(&rest);
    summary(&all)
}

async fn run(http: u16) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for raw in REQUESTS {
        out.push(summary(&exchange(http, raw.as_bytes()).await));
    }
    out.push(expect_continue(http).await);
    out
}

#[tokio::test]
async fn request_body_fetches_match_haproxy() {
    let server = Backend::start("app").await;
    let fh = free_port();
    let f = start(&cfg(fh, server.addr)).await;
    let ours = run(fh).await;
    f.shutdown(Duration::from_secs(1)).await;
    // Not vacuous: the body was seen by the rules and still reached the server.
    assert_eq!(
        ours[0].1, "len=12 size=12 body=user=bob&x=1 user=bob",
        "{ours:?}"
    );
    assert_eq!(ours[1].1, "len=7 size=7 body=user=al user=al", "{ours:?}");
    assert!(ours[2].0.contains(" 403 "), "{ours:?}");
    assert_eq!(ours[3].1, "user=bob&a=b&c", "{ours:?}");
    assert!(ours[4].0.contains(" 413 "), "{ours:?}");
    assert_eq!(ours[6].1, "len=8 size=8 body=user=cat user=cat", "{ours:?}");

    let hh = free_port();
    let Some(_h) = Haproxy::start(&cfg(hh, server.addr), v4(hh)).await else {
        return;
    };
    let theirs = run(hh).await;
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(o, t, "answer {i}: fulcrum (left) vs haproxy (right)");
    }
}

fn wait_cfg(http: u16, server: SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:{http}\n  http-request wait-for-body time 300ms at-least 4\n\
         \x20 http-request return status 200 content-type text/plain lf-string \"len=%[req.body_len] size=%[req.body_size] body=%[req.body]\"\n\
         \x20 default_backend app\n\
         backend app\n  server s1 {server}\n"
    )
}

const WAITS: &[&str] = &[
    // All of it.
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
    // At least 4 bytes: the rules go on without the rest.
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabcdef",
    // Fewer: 408 after 300 ms.
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nConnection: close\r\n\r\nab",
    // No body: nothing to wait for.
    "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
];

async fn run_waits(http: u16) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for raw in WAITS {
        out.push(summary(&exchange(http, raw.as_bytes()).await));
    }
    out
}

#[tokio::test]
async fn wait_for_body_matches_haproxy() {
    let server = Backend::start("app").await;
    let fh = free_port();
    let f = start(&wait_cfg(fh, server.addr)).await;
    let ours = run_waits(fh).await;
    f.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ours[0].1, "len=10 size=10 body=0123456789", "{ours:?}");
    assert_eq!(ours[1].1, "len=6 size=10 body=abcdef", "{ours:?}");
    assert!(ours[2].0.contains(" 408 "), "{ours:?}");
    assert_eq!(ours[3].1, "len=0 size=0 body=", "{ours:?}");

    let hh = free_port();
    let Some(_h) = Haproxy::start(&wait_cfg(hh, server.addr), v4(hh)).await else {
        return;
    };
    let theirs = run_waits(hh).await;
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(o, t, "answer {i}: fulcrum (left) vs haproxy (right)");
    }
}

/// A body larger than the buffer: the rules see a bufferful, the server gets all of it.
#[tokio::test]
async fn a_body_larger_than_the_buffer_is_forwarded_whole() {
    let server = Backend::start("app").await;
    let fh = free_port();
    let f = start(&format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:{fh}\n  option http-buffer-request\n\
         \x20 http-request set-header x-seen %[req.body_len]\n  default_backend app\n\
         backend app\n  server s1 {}\n",
        server.addr
    ))
    .await;
    let body: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut raw = format!(
        "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    let answer = exchange(fh, &raw).await;
    f.shutdown(Duration::from_secs(1)).await;
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an answer head")
        + 4;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        summary(&answer)
    );
    assert!(answer[end..] == body[..], "the body came back changed");
    let seen = server
        .heads()
        .iter()
        .find_map(|h| {
            h.lines()
                .find_map(|l| l.strip_prefix("x-seen: ").map(|v| v.parse::<usize>()))
        })
        .expect("x-seen reached the server")
        .expect("a number");
    assert!(seen > 1000 && seen < body.len(), "rules saw {seen} bytes");
}
