//! A connection `tcp-request content switch-mode http` made HTTP parks when quiet between
//! requests as any keep-alive connection (`park`): the session runs on the client's own
//! socket, the inspected bytes already served.

use super::park_tests::{frontend, parked, request, server};
use crate::park;
use tokio::net::{TcpListener, TcpStream};

#[test]
fn a_switched_connection_parks_between_requests() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let srv = server().await;
        let fe = frontend(&format!(
            "defaults\n  timeout client 5s\n  timeout server 5s\n  timeout connect 1s\n\
             frontend f\n  mode tcp\n  bind 127.0.0.1:1\n  tcp-request inspect-delay 5s\n\
             \x20 tcp-request content switch-mode http if HTTP\n\
             \x20 tcp-request content reject\n  default_backend b\n\
             backend b\n  mode http\n  server s {srv}\n"
        ));
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let a = l.local_addr().expect("addr");
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((c, peer)) = l.accept().await {
                let (fe, stop) = (fe.clone(), stop.clone());
                // As the listener: the TCP session, then the HTTP one it hands over.
                tokio::spawn(async move {
                    if let Some(up) =
                        crate::tcp::serve(fe.clone(), c, (peer, a), Default::default(), None).await
                    {
                        super::serve_upgraded(fe, up, stop, None, ()).await;
                    }
                });
            }
        });
        let mut c = TcpStream::connect(a).await.expect("connect");
        let first = request(&mut c, "/1").await;
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        assert!(parked(1).await, "parked: {}", park::parked());
        // Woken by its next request, served, and parked again.
        let second = request(&mut c, "/2").await;
        assert!(second.starts_with("HTTP/1.1 200"), "{second}");
        assert!(parked(1).await);
        drop(c);
        assert!(parked(0).await, "closed while parked");
    });
}
