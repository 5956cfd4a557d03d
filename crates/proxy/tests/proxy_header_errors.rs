//! `bind ... accept-proxy`: every way a connection can fail to bring a PROXY protocol header
//! is logged as HAProxy 2.6 words it (`conn_err_code_str`: closed or reset before a byte,
//! timeout, truncated, not a header, invalid field, unhandled protocol), on a UDP syslog
//! socket, and `option dontlognull` drops the two with no byte (closed, reset).
//!
//! fulcrum only: haproxy 2.6 writes these lines only when the bytes arrive after it has
//! processed the accept (an error found while accepting frees the connection without a line):
//! three runs of these cases against haproxy each left different ones unlogged. Each message
//! below is one haproxy wrote in those runs for that case.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How the client ends after sending its bytes.
#[derive(Clone, Copy)]
enum End {
    /// Half-closes (FIN) and waits for the proxy to close.
    Fin,
    /// Resets (SO_LINGER 0).
    Reset,
    /// Keeps the connection open until the proxy gives up (`timeout client`).
    Wait,
}

const CASES: &[(&str, &[u8], End, &str)] = &[
    (
        "nothing, then a close",
        b"",
        End::Fin,
        "Connection closed while waiting for PROXY protocol header",
    ),
    (
        "nothing, then a reset",
        b"",
        End::Reset,
        "Connection error while waiting for PROXY protocol header",
    ),
    (
        "nothing until the timeout",
        b"",
        End::Wait,
        "Timeout while waiting for PROXY protocol header",
    ),
    (
        "an HTTP request",
        b"GET / HTTP/1.1\r\n\r\n",
        End::Fin,
        "Received something which does not look like a PROXY protocol header",
    ),
    (
        "a v1 header cut short",
        b"PROXY TCP4 1.2.3.4",
        End::Fin,
        "Truncated PROXY protocol header received",
    ),
    (
        "a few bytes, then a reset",
        b"PROX",
        End::Reset,
        "Truncated PROXY protocol header received",
    ),
    (
        "a v1 header with a bad port",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 x 2\r\n",
        End::Fin,
        "Received an invalid PROXY protocol header",
    ),
    (
        "a v1 header of an unknown protocol",
        b"PROXY TCP9 1.2.3.4 5.6.7.8 1 2\r\n",
        End::Fin,
        "Received an unhandled protocol in the PROXY protocol header",
    ),
    (
        "a v2 signature of another version",
        b"\r\n\r\n\x00\r\nQUIT\n\x99\x11\x00\x0c\0\0\0\0\0\0\0\0\0\0\0\0",
        End::Fin,
        "Received something which does not look like a PROXY protocol header",
    ),
    (
        "a v2 header of an unknown family",
        b"\r\n\r\n\x00\r\nQUIT\n\x21\x71\x00\x0c\0\0\0\0\0\0\0\0\0\0\0\0",
        End::Fin,
        "Received an invalid PROXY protocol header",
    ),
    (
        "a v2 header cut short",
        b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\0\0\0\0",
        End::Fin,
        "Truncated PROXY protocol header received",
    ),
];

fn config(syslog: u16, plain: u16, quiet: u16, backend: SocketAddr) -> String {
    format!(
        "global\n  log 127.0.0.1:{syslog} local0\n\
         defaults\n  mode http\n  log global\n  option httplog\n  timeout connect 1s\n  timeout client 1s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{plain} accept-proxy\n  default_backend b\n\
         frontend q\n  bind 127.0.0.1:{quiet} accept-proxy\n  option dontlognull\n  default_backend b\n\
         backend b\n  server s {backend}\n"
    )
}

/// Sends `bytes` to `port`, ends as `end` says; returns the client's port.
async fn client(port: u16, bytes: &[u8], end: End) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let me = s.local_addr().expect("local").port();
    if !bytes.is_empty() {
        s.write_all(bytes).await.expect("send");
    }
    match end {
        End::Reset => {
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .expect("linger");
            drop(s);
        }
        End::Fin | End::Wait => {
            if matches!(end, End::Fin) {
                let _ = s.shutdown().await;
            }
            // Until the proxy closes (bounded: `timeout client` is 1 s).
            let mut buf = [0u8; 64];
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        }
    }
    me
}

#[tokio::test]
async fn every_missing_proxy_header_is_logged_in_haproxys_words() {
    let syslog = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let sport = syslog.local_addr().expect("addr").port();
    let backend = Backend::start("app").await;
    let (plain, quiet) = (free_port(), free_port());
    let handle = start(&config(sport, plain, quiet, backend.addr)).await;
    for p in [plain, quiet] {
        assert!(wait_listening(SocketAddr::from(([127, 0, 0, 1], p))).await);
    }
    // The readiness probes closed without a byte: `f` logged them.
    drain_syslog(&syslog).await;
    for (what, bytes, end, message) in CASES {
        let port = client(plain, bytes, *end).await;
        let line = syslog_message(&syslog).await;
        assert!(
            line.starts_with(&format!("127.0.0.1:{port} [")),
            "{what}: a line for this connection: {line}"
        );
        assert!(
            line.ends_with(&format!("] f/1: {message}")),
            "{what}: {line}"
        );
    }
    // `option dontlognull`: a connection without a byte is not logged, any other is.
    client(quiet, b"", End::Fin).await;
    client(quiet, b"", End::Reset).await;
    let port = client(quiet, b"GET / HTTP/1.1\r\n\r\n", End::Fin).await;
    let line = syslog_message(&syslog).await;
    assert!(
        line.starts_with(&format!("127.0.0.1:{port} ["))
            && line.contains("q/1: Received something"),
        "under dontlognull only the HTTP request is logged: {line}"
    );
    handle.shutdown(Duration::from_secs(1)).await;
}
