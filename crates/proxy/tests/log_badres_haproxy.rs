//! A server answer that does not parse is HAProxy's `PH` (the proxy refused it while reading
//! headers), not `SH` (the server aborted): a status line that is not HTTP, a header line
//! without a colon, an invalid `Content-Length`; an answer cut before its head ends is `SH`.
//! Each is a 502 to the client. The same config is run by fulcrum and by the real haproxy,
//! the `option httplog` lines read from a UDP syslog socket and compared once ports, dates
//! and timers are masked. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails.

mod common;
use common::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// What the server writes for each path; it keeps the connection open a moment after
/// (so a refusal comes from the bytes, not from the close) unless the answer is cut.
fn answer(path: &str) -> (&'static [u8], bool) {
    match path {
        "/not-http" => (b"hi\r\n\r\n", true),
        "/no-colon" => (
            b"HTTP/1.1 200 OK\r\nBad Header\r\nContent-Length: 0\r\n\r\n",
            true,
        ),
        "/bad-length" => (b"HTTP/1.1 200 OK\r\nContent-Length: zz\r\n\r\n", true),
        _ => (b"HTTP/1.1 200 OK\r\nX-Cut: y\r\n", false),
    }
}

const PATHS: [&str; 4] = ["/not-http", "/no-colon", "/bad-length", "/cut"];

#[tokio::test]
async fn bad_answers_are_logged_as_haproxy() {
    let server = head_server(|mut s, head| async move {
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let (bytes, hold) = answer(&path);
        let _ = s.write_all(bytes).await;
        if hold {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
    .await;
    let cfg = move |s: &Setup<'_>| {
        format!(
            "{}frontend web\n  bind 127.0.0.1:{}\n  option httplog\n  default_backend app\n\
             backend app\n  retries 0\n  server s1 {server}\n",
            s.head("http"),
            s.ports[0],
        )
    };
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        for path in PATHS {
            let raw = format!("GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
            let a = side.exchange(0, raw.as_bytes()).await;
            assert!(a.starts_with(b"HTTP/1.1 502"), "{} {path}: {a:?}", side.who);
            out.push(mask_line(&side.line().await));
        }
        out
    };
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    // Not vacuous without haproxy: the flags haproxy 2.6.12 writes.
    let flags: Vec<&str> = ours
        .iter()
        .map(|l| l.split_whitespace().nth(9).unwrap_or(""))
        .collect();
    assert_eq!(flags, ["PH--", "PH--", "PH--", "SH--"], "{ours:#?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
