//! A connection `tcp-request content switch-mode http` made HTTP parks when quiet between
//! requests as any keep-alive connection (`park`): the session runs on the client's own
//! socket, the inspected bytes already served.

use super::park_tests::{parked, server};
use crate::park;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Sends `raw` and reads one `ok` answer.
async fn exchange(c: &mut TcpStream, raw: &[u8]) -> String {
    c.write_all(raw).await.expect("send");
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

#[test]
fn a_switched_connection_parks_between_requests() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let srv = server().await;
        let cfg = fulcrum_config::load_sources(&[fulcrum_config::Source {
            name: "t",
            text: &format!(
                "defaults\n  timeout client 5s\n  timeout server 5s\n  timeout connect 1s\n\
                 frontend f\n  mode tcp\n  bind 127.0.0.1:1\n  tcp-request inspect-delay 5s\n\
                 \x20 tcp-request content switch-mode http if HTTP\n\
                 \x20 tcp-request content reject\n  default_backend b\n\
                 backend b\n  mode http\n  server s {srv}\n"
            ),
        }])
        .config;
        let g = crate::state::build(&cfg, None).expect("build");
        let fe = g.frontends["f"].clone();
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let a = l.local_addr().expect("addr");
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((c, peer)) = l.accept().await {
                let (fe, stop) = (fe.clone(), stop.clone());
                // As the listener: the TCP session, then the HTTP one it hands over.
                tokio::spawn(async move {
                    if let Some(up) = crate::tcp::serve(fe.clone(), c, peer, a, None).await {
                        super::serve_upgraded(fe, up, stop, None, ()).await;
                    }
                });
            }
        });
        let mut c = TcpStream::connect(a).await.expect("connect");
        let first = exchange(&mut c, b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        assert!(parked(1).await, "parked: {}", park::parked());
        // Woken by its next request, served, and parked again.
        let second = exchange(&mut c, b"GET /2 HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert!(second.starts_with("HTTP/1.1 200"), "{second}");
        assert!(parked(1).await);
        drop(c);
        assert!(parked(0).await, "closed while parked");
    });
}
