//! Idle server connections: kept for reuse (two requests of one client connection share one
//! server connection), then closed once idle past the purge delay (HAProxy's default
//! `pool-purge-delay`, 5 s), even when no request comes any more. The server is a real
//! listener of the test that watches its side of the connection.

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// A keep-alive HTTP server: answers every request on a connection; reports each accepted
/// connection's lifetime end (EOF from the proxy) on `closed`.
async fn server(accepted: Arc<AtomicUsize>, closed: mpsc::UnboundedSender<Instant>) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        for _ in 0..100 {
            let Ok((mut c, _)) = l.accept().await else {
                return;
            };
            accepted.fetch_add(1, Ordering::SeqCst);
            let closed = closed.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                loop {
                    match c.read(&mut buf).await {
                        Ok(0) | Err(_) => {
                            let _ = closed.send(Instant::now());
                            return;
                        }
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let _ = c
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                            .await;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn idle_server_connections_are_reused_then_purged() {
    let accepted = Arc::new(AtomicUsize::new(0));
    let (tx, mut closed) = mpsc::unbounded_channel();
    let srv = server(accepted.clone(), tx).await;
    let port = free_port();
    let proxy = start(&format!(
        "global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n\
         frontend fe\n  bind 127.0.0.1:{port}\n  default_backend be\nbackend be\n  server s {srv}\n"
    ))
    .await;
    let mut c = Client::connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("connect");
    assert_eq!(c.get("/1").await.expect("first").status, 200);
    assert_eq!(c.get("/2").await.expect("second").status, 200);
    drop(c);
    let idle_from = Instant::now();
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the second request reused the server connection"
    );
    // Still pooled a moment later...
    assert!(
        tokio::time::timeout(Duration::from_secs(2), closed.recv())
            .await
            .is_err(),
        "kept idle for reuse"
    );
    // ...and closed by the proxy once past the purge delay (bounded wait).
    let at = tokio::time::timeout(Duration::from_secs(15), closed.recv())
        .await
        .expect("idle connection purged")
        .expect("server running");
    eprintln!(
        "idle server connection closed after {:?}",
        at.duration_since(idle_from)
    );
    assert!(
        at.duration_since(idle_from) >= fulcrum_proxy::pool::PURGE_DELAY.mul_f32(0.9),
        "not before the purge delay"
    );
    proxy.shutdown(Duration::from_secs(1)).await;
}
