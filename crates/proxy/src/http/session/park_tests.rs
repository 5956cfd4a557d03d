//! A keep-alive client connection quiet for `park::PARK_AFTER` is parked: its task ends, the
//! thread's lot holds it; its next request is served (a new task), its keep-alive timeout and
//! a stop close it as they did in its task.

use crate::park;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A server answering every request on a connection with `200` and a 2-byte body.
pub(super) async fn server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(n) = s.read(&mut chunk).await {
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..p + 4);
                        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if s.write_all(r).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    a
}

/// Sends a request and reads its whole answer.
pub(super) async fn request(c: &mut TcpStream, path: &str) -> String {
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    while !got.ends_with(b"ok") {
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut chunk))
            .await
            .expect("answer in time")
            .expect("read");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Waits (bounded) until this thread's lot holds `n` connections.
pub(super) async fn parked(n: usize) -> bool {
    for _ in 0..500 {
        if park::parked() == n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

/// Frontend `f` of the configuration `text`, compiled.
pub(super) fn frontend(text: &str) -> std::sync::Arc<crate::state::Frontend> {
    let source = fulcrum_config::Source { name: "t", text };
    let cfg = fulcrum_config::load_sources(&[source]).config;
    let g = crate::state::build(&cfg, None).expect("build");
    g.frontends["f"].clone()
}

/// Reads until the proxy closes the connection; how long it took.
async fn closed_after(c: &mut TcpStream) -> Duration {
    let t = Instant::now();
    let mut b = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut b))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without a byte: {:?}", &b[..n]);
    t.elapsed()
}

#[test]
fn quiet_keep_alive_connections_are_parked_without_a_task() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let srv = server().await;
        let fe = frontend(&format!(
            "defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 1s\n\
             timeout http-keep-alive 700ms\n\
             frontend f\n  bind 127.0.0.1:1\n  default_backend b\nbackend b\n  server s {srv}\n"
        ));
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let a = l.local_addr().expect("addr");
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((c, peer)) = l.accept().await {
                tokio::spawn(super::serve(fe.clone(), c, (peer, a), Default::default(), stop.clone(), None, ()));
            }
        });
        let metrics = tokio::runtime::Handle::current().metrics();
        let base = metrics.num_alive_tasks();
        let mut c = TcpStream::connect(a).await.expect("connect");
        assert!(request(&mut c, "/1").await.starts_with("HTTP/1.1 200"));
        assert!(parked(1).await, "parked: {}", park::parked());
        // Tasks now: the two accept loops, the server's connection (kept in the idle pool)
        // and the lot: the session's task has ended.
        let tasks = metrics.num_alive_tasks();
        assert_eq!(tasks, base + 2, "the server's connection and the lot");
        // Its next request is served (in a new task), then it parks again.
        assert!(request(&mut c, "/2").await.starts_with("HTTP/1.1 200"));
        let answered = Instant::now();
        assert!(parked(1).await);
        assert_eq!(metrics.num_alive_tasks(), tasks, "no task left behind");
        // `timeout http-keep-alive` closes it, counted from the end of the last answer.
        let waited = answered.elapsed() + closed_after(&mut c).await;
        assert!(waited >= Duration::from_millis(690), "closed after {waited:?}");
        assert!(parked(0).await);
        // A stop closes the parked connections.
        let mut d = TcpStream::connect(a).await.expect("connect");
        assert!(request(&mut d, "/3").await.starts_with("HTTP/1.1 200"));
        assert!(parked(1).await);
        let t = Instant::now();
        stop_tx.send(true).expect("stop");
        closed_after(&mut d).await;
        assert!(t.elapsed() < Duration::from_millis(500), "{:?}", t.elapsed());
        assert!(parked(0).await);
    });
}
