//! How a proxy closes a connection to a server that will carry no other request, side by
//! side with the real HAProxy 2.6: after a complete answer that says `connection: close`
//! (the server leaving its end open), and after one whose body the server ends by closing.
//! HAProxy closes a server connection whose end it has not read with a reset (SO_LINGER 0:
//! no TIME_WAIT on either end, no FIN/ACK exchange after the close), one it read to the end
//! with a FIN. The server reports what its next read saw: `reset`, `end`, or `open` when
//! nothing came within 3 s. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that answers each connection's one request and then reads on: `/close` gets a
/// 2-byte answer with `connection: close` and the server keeps its end open; `/until-close`
/// gets an answer delimited by the server's close (it half-closes). It records, per
/// connection, what its read after the answer saw.
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn server() -> Server {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut tmp = [0u8; 4096];
                    match s.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
                let until_close = buf.starts_with(b"GET /until-close");
                let answer: &[u8] = if until_close {
                    b"HTTP/1.1 200 OK\r\n\r\nbody until close"
                } else {
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                };
                if s.write_all(answer).await.is_err() {
                    return;
                }
                if until_close {
                    let _ = s.shutdown().await;
                }
                let mut tmp = [0u8; 64];
                let what =
                    match tokio::time::timeout(Duration::from_secs(3), s.read(&mut tmp)).await {
                        Ok(Ok(0)) => "end".to_string(),
                        Ok(Ok(n)) => format!("{n} bytes"),
                        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                            "reset".to_string()
                        }
                        Ok(Err(e)) => format!("error {e}"),
                        Err(_) => "open".to_string(),
                    };
                let path = if until_close {
                    "/until-close"
                } else {
                    "/close"
                };
                record.lock().expect("seen").push(format!("{path}: {what}"));
            });
        }
    });
    Server { addr, seen }
}

/// The server's record of its `n`-th connection, once it has it (bounded: 5 s).
async fn seen(srv: &Server, n: usize) -> String {
    for _ in 0..500 {
        if let Some(s) = srv.seen.lock().expect("seen").get(n) {
            return s.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    format!("connection {n}: nothing recorded")
}

#[tokio::test]
async fn server_connections_close_as_haproxy_closes_them() {
    let cfg = |s: &Setup<'_>| {
        let addr = std::fs::read_to_string(s.dir.join("server")).expect("server address");
        format!(
            "{}frontend f\n  bind 127.0.0.1:{}\n  default_backend b\nbackend b\n  server s {}\n",
            s.head("http"),
            s.ports[0],
            addr.trim()
        )
    };
    let servers: Arc<Mutex<Vec<Server>>> = Arc::new(Mutex::new(Vec::new()));
    let prepare = |dir: std::path::PathBuf| {
        let servers = servers.clone();
        async move {
            let srv = server().await;
            std::fs::write(dir.join("server"), srv.addr.to_string()).expect("write");
            servers.lock().expect("servers").push(srv);
        }
    };
    let drive = |side: Arc<Side>| {
        let servers = servers.clone();
        async move {
            let srv = servers.lock().expect("servers").pop().expect("server");
            let mut out = Vec::new();
            for (n, path) in ["/close", "/until-close"].into_iter().enumerate() {
                let raw = format!("GET {path} HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n");
                let answer = side.exchange(0, raw.as_bytes()).await;
                let status = String::from_utf8_lossy(&answer)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                out.push(format!("{path}: {status}; server {}", seen(&srv, n).await));
            }
            out
        }
    };
    let (ours, theirs) = side_by_side_with(1, prepare, cfg, drive).await;
    assert_eq!(
        ours,
        [
            "/close: HTTP/1.1 200 OK; server /close: reset",
            "/until-close: HTTP/1.1 200 OK; server /until-close: end",
        ],
        "fulcrum"
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
