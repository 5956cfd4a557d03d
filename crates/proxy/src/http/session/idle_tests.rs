//! An idle keep-alive client connection holds no transaction buffers: they are in the
//! thread's pool between requests, taken again when the next request arrives, and a request
//! already waiting (pipelined) is served without giving them back.

use super::park_tests::{frontend, server};
use crate::http::bufs;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads `n` whole answers (each ends with the 2-byte body `ok`).
async fn answers(c: &mut TcpStream, n: usize) -> String {
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while got.windows(2).filter(|w| w == b"ok").count() < n {
        let k = tokio::time::timeout(Duration::from_secs(5), c.read(&mut chunk))
            .await
            .expect("answer in time")
            .expect("read");
        assert!(k > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..k]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Waits (bounded) until this thread's pool holds `n` sets.
async fn pooled(n: usize) -> bool {
    for _ in 0..500 {
        if bufs::pooled() == n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

#[test]
fn idle_keep_alive_connections_hold_no_buffers() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let srv = server().await;
        let fe = frontend(&format!(
            "defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 1s\n\
             frontend f\n  bind 127.0.0.1:1\n  default_backend b\nbackend b\n  server s {srv}\n"
        ));
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let a = l.local_addr().expect("addr");
        let (_tx, rx) = tokio::sync::watch::channel(false);
        // Sessions run on this (the test's) thread, so its pool is theirs.
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                tokio::task::spawn_local(async move {
                    while let Ok((c, peer)) = l.accept().await {
                        tokio::task::spawn_local(super::serve(fe.clone(), c, (peer, a), Default::default(), rx.clone(), None, ()));
                    }
                });
                let start = bufs::pooled();
                let mut c = TcpStream::connect(a).await.expect("connect");
                c.write_all(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\n").await.expect("send");
                assert!(answers(&mut c, 1).await.starts_with("HTTP/1.1 200"));
                // Idle after one request: its set is back in the pool.
                assert!(pooled(start + 1).await, "pool holds {}", bufs::pooled());
                // Two pipelined requests: both answered, then idle again with one set pooled.
                c.write_all(b"GET /2 HTTP/1.1\r\nHost: t\r\n\r\nGET /3 HTTP/1.1\r\nHost: t\r\n\r\n")
                    .await
                    .expect("send");
                let two = answers(&mut c, 2).await;
                assert_eq!(two.matches("HTTP/1.1 200").count(), 2, "{two}");
                assert!(pooled(start + 1).await, "pool holds {}", bufs::pooled());
                // A second connection's request borrows the same set and gives it back: two
                // idle connections, one set, in the pool.
                let mut d = TcpStream::connect(a).await.expect("connect");
                d.write_all(b"GET /4 HTTP/1.1\r\nHost: t\r\n\r\n").await.expect("send");
                assert!(answers(&mut d, 1).await.starts_with("HTTP/1.1 200"));
                assert!(pooled(start + 1).await, "pool holds {}", bufs::pooled());
                // Closing returns nothing more (the set was already pooled).
                drop(c);
                drop(d);
                tokio::time::sleep(Duration::from_millis(20)).await;
                assert_eq!(bufs::pooled(), start + 1);
            })
            .await;
    });
}
