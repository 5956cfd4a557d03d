//! An idle keep-alive client connection holds no shared server connection: it goes to the
//! thread's idle pool when the client turns idle (`http-reuse safe`, HAProxy's default), and
//! the pool keeps only what the server needs (one here, clients taking turns). Private
//! connections stay with their client: `http-reuse never`, and a server's NTLM/Negotiate
//! challenge. `http-reuse always` lets a first request take an idle connection. The server
//! is a real listener of the test that counts its connections and sees them close; the
//! sessions run on the test's thread, so its pool is theirs.

use crate::counters::Ctr;
use crate::pool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the test server saw: connections accepted, connections the proxy closed.
#[derive(Default)]
struct Seen {
    accepted: AtomicUsize,
    closed: AtomicUsize,
}

/// A keep-alive server: `GET /auth` gets a 401 with an NTLM challenge, anything else a 200
/// with the 2-byte body `ok`.
async fn server(seen: Arc<Seen>) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            seen.accepted.fetch_add(1, Ordering::SeqCst);
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    while let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let auth = buf.starts_with(b"GET /auth ");
                        buf.drain(..p + 4);
                        let r: &[u8] = if auth {
                            b"HTTP/1.1 401 Unauthorized\r\nwww-authenticate: NTLM\r\ncontent-length: 2\r\n\r\nno"
                        } else {
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                        };
                        if s.write_all(r).await.is_err() {
                            return;
                        }
                    }
                }
                seen.closed.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    a
}

/// Sends `GET path` and reads its whole answer (the 2-byte body); the status.
async fn get(c: &mut TcpStream, path: &str) -> u16 {
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(p) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            if got.len() >= p + 4 + 2 {
                break;
            }
        }
        let k = tokio::time::timeout(Duration::from_secs(5), c.read(&mut chunk))
            .await
            .expect("answer in time")
            .expect("read");
        assert!(k > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..k]);
    }
    std::str::from_utf8(&got[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("status")
}

/// Waits (bounded) until `f` holds.
async fn until(f: impl Fn() -> bool) -> bool {
    for _ in 0..500 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

/// Runs `body` against a frontend whose backend has `reuse` lines, the sessions on this thread.
fn with_proxy<F, Fut>(reuse: &str, body: F)
where
    F: FnOnce(std::net::SocketAddr, Arc<Seen>, Arc<crate::backend::Backend>) -> Fut + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let reuse = reuse.to_string();
    rt.block_on(async move {
        let seen = Arc::new(Seen::default());
        let srv = server(seen.clone()).await;
        let cfg = fulcrum_config::load_sources(&[fulcrum_config::Source {
            name: "t",
            text: &format!(
                "defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 1s\n\
                 frontend f\n  bind 127.0.0.1:1\n  default_backend b\nbackend b\n{reuse}  server s {srv}\n"
            ),
        }])
        .config;
        let g = crate::state::build(&cfg, None).expect("build");
        let fe = g.frontends["f"].clone();
        let be = g.backends["b"].clone();
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let a = l.local_addr().expect("addr");
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                tokio::task::spawn_local(async move {
                    while let Ok((c, peer)) = l.accept().await {
                        tokio::task::spawn_local(super::serve(
                            fe.clone(),
                            c,
                            (peer, a),
                            Default::default(),
                            rx.clone(),
                            None,
                            (),
                        ));
                    }
                });
                body(a, seen, be).await;
            })
            .await;
        pool::retain(&|_| false);
    });
}

#[test]
fn idle_client_gives_its_server_connection_to_the_pool() {
    with_proxy("", |a, seen, be| async move {
        let mut c = TcpStream::connect(a).await.expect("connect");
        assert_eq!(get(&mut c, "/1").await, 200);
        // Idle: the server connection is in the pool, not with the client.
        assert!(until(|| pool::idle_count() == 1).await, "pooled");
        // The client's next request takes it back: still one server connection, reused.
        assert_eq!(get(&mut c, "/2").await, 200);
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 1);
        assert_eq!(be.counters.get(Ctr::Reuse), 1, "counted as a reuse");
        assert_eq!(be.counters.get(Ctr::Connect), 1);
        assert!(until(|| pool::idle_count() == 1).await, "pooled again");
        // Another client's first request gets its own (`safe`); once it is idle too, the
        // pool keeps one connection (one was in use at a time) and closes the other.
        let mut d = TcpStream::connect(a).await.expect("connect");
        assert_eq!(get(&mut d, "/3").await, 200);
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
        assert!(
            until(|| seen.closed.load(Ordering::SeqCst) == 1).await,
            "the extra idle connection closed"
        );
        assert_eq!(pool::idle_count(), 1);
        // Both clients still work, on the pooled connection.
        assert_eq!(get(&mut c, "/4").await, 200);
        assert_eq!(get(&mut d, "/5").await, 200);
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn http_reuse_never_keeps_connections_private() {
    with_proxy("  http-reuse never\n", |a, seen, be| async move {
        let mut c = TcpStream::connect(a).await.expect("connect");
        let mut d = TcpStream::connect(a).await.expect("connect");
        assert_eq!(get(&mut c, "/1").await, 200);
        assert_eq!(get(&mut d, "/2").await, 200);
        assert_eq!(get(&mut c, "/3").await, 200);
        assert_eq!(get(&mut d, "/4").await, 200);
        // One server connection per client, each reused by its own client only.
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
        assert_eq!(be.counters.get(Ctr::Reuse), 2);
        assert_eq!(pool::idle_count(), 0, "nothing shared");
        // A client's close closes its server connection.
        drop(c);
        assert!(until(|| seen.closed.load(Ordering::SeqCst) == 1).await);
        assert_eq!(pool::idle_count(), 0);
        assert_eq!(get(&mut d, "/5").await, 200);
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn ntlm_challenge_binds_the_connection_to_its_client() {
    with_proxy("", |a, seen, _be| async move {
        let mut c = TcpStream::connect(a).await.expect("connect");
        assert_eq!(get(&mut c, "/auth").await, 401);
        // Private from now on: not in the pool while the client is idle...
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(pool::idle_count(), 0);
        // ...so another client's later request opens its own connection...
        let mut d = TcpStream::connect(a).await.expect("connect");
        assert_eq!(get(&mut d, "/1").await, 200);
        assert_eq!(get(&mut d, "/2").await, 200);
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
        // ...and the bound client keeps using its own.
        assert_eq!(get(&mut c, "/3").await, 200);
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
        drop(c);
        assert!(until(|| seen.closed.load(Ordering::SeqCst) == 1).await);
    });
}

#[test]
fn http_reuse_always_lets_first_requests_reuse() {
    with_proxy("  http-reuse always\n", |a, seen, be| async move {
        let mut c = TcpStream::connect(a).await.expect("connect");
        assert_eq!(get(&mut c, "/1").await, 200);
        assert!(until(|| pool::idle_count() == 1).await);
        let mut d = TcpStream::connect(a).await.expect("connect");
        assert_eq!(get(&mut d, "/2").await, 200);
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 1);
        assert_eq!(be.counters.get(Ctr::Reuse), 1);
    });
}
