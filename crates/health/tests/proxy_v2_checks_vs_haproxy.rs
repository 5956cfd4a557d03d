//! The PROXY header of health checks to a `send-proxy-v2` server, run by the real haproxy 2.6
//! and then by fulcrum on the same config against a recording server: haproxy sends version
//! 2's 16-byte LOCAL header (no addresses) before a check's first bytes, for a `tcp-check`
//! sequence (with an implicit connect and with `connect default`), an `option httpchk` check and
//! `check-send-proxy`; both must send the same bytes
//! and log the same `option log-health-checks` lines.

mod common;

use common::versus;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Seen = Arc<Mutex<BTreeSet<Vec<u8>>>>;

/// Records the first bytes of each connection (up to its first CRLF after the header, or what
/// came in 300 ms), then answers `+PONG` and an HTTP 200.
async fn recorder(seen: Seen) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut b = [0u8; 512];
                let until = tokio::time::Instant::now() + std::time::Duration::from_millis(300);
                while !got.ends_with(b"\r\n\r\n") && !got.ends_with(b"PING\r\n") {
                    match tokio::time::timeout_at(until, s.read(&mut b)).await {
                        Ok(Ok(n)) if n > 0 => got.extend_from_slice(&b[..n]),
                        _ => break,
                    }
                }
                let answer: &[u8] = if got.ends_with(b"PING\r\n") {
                    b"+PONG\r\n"
                } else {
                    b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"
                };
                let _ = s.write_all(answer).await;
                seen.lock().expect("lock").insert(got);
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_v2_headers_on_checks_as_haproxy() {
    if !versus::available("proxy_v2_headers_on_checks_as_haproxy", &[]) {
        return;
    }
    let tmp = versus::TempDir::new("proxy-v2-checks");
    let seen = Seen::default();
    let port = recorder(seen.clone()).await;
    let syslog = versus::Syslog::bind();
    let srv = |extra: &str| {
        format!("    server s 127.0.0.1:{port} check inter 300 fall 1 rise 1{extra}\n")
    };
    let mut text = versus::head(syslog.port(), "tcp", "600ms", "seq");
    text += "backend seq\n    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n";
    text += &srv(" send-proxy-v2");
    text += "backend http\n    option httpchk GET /v2\n";
    text += &srv(" send-proxy-v2");
    text += "backend dflt\n    option tcp-check\n    tcp-check connect default\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n";
    text += &srv(" send-proxy-v2");
    text += "backend checkonly\n    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n";
    text += &srv(" send-proxy-v2 check-send-proxy");
    let both = versus::run_both(&tmp.0, &text, &syslog, 4, &seen).await;
    assert!(
        both.theirs_seen
            .iter()
            .any(|b| b.starts_with(b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00PING")),
        "{:?}",
        both.theirs_seen
    );
    assert_eq!(both.ours, both.theirs, "the same log-health-checks lines");
    assert_eq!(
        both.ours_seen, both.theirs_seen,
        "the same bytes on the wire"
    );
}
