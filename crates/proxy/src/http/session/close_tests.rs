//! A connection that closes after its answer: when the whole answer is written at once, its
//! FIN leaves in the same segment (MSG_MORE, then the `shutdown`), not in one of its own. The
//! server is the test's, answering only when told (so the client's request is acknowledged
//! first and the segments counted are the answer's); the session runs on the test's thread.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// TCP_INFO of `s`: (segments received, bytes sent not yet acknowledged).
fn info(s: &TcpStream) -> (u32, u32) {
    use std::os::fd::AsRawFd;
    let i = crate::front::tcp_info(s.as_raw_fd()).expect("TCP_INFO");
    (i.segs_in, i.unacked)
}

#[test]
fn a_closing_answer_and_its_fin_leave_in_one_segment() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        // The server answers (keep-alive) once `go` is sent.
        let srv = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let srv_addr = srv.local_addr().expect("addr");
        let (go, mut told) = tokio::sync::mpsc::channel::<()>(1);
        tokio::spawn(async move {
            let (mut s, _) = srv.accept().await.expect("accept");
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.expect("read");
                assert!(n > 0, "request");
                got.extend_from_slice(&buf[..n]);
            }
            told.recv().await;
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .expect("answer");
            // Held open until the proxy closes it.
            let _ = s.read(&mut buf).await;
        });
        let cfg = fulcrum_config::load_sources(&[fulcrum_config::Source {
            name: "t",
            text: &format!(
                "defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 1s\n\
                 frontend f\n  bind 127.0.0.1:1\n  default_backend b\nbackend b\n  server s {srv_addr}\n"
            ),
        }])
        .config;
        let g = crate::state::build(&cfg, None).expect("build");
        let fe = g.frontends["f"].clone();
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let a = l.local_addr().expect("addr");
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                tokio::task::spawn_local(async move {
                    let (c, peer) = l.accept().await.expect("accept");
                    super::serve(fe, c, (peer, a), Default::default(), rx, None, ()).await;
                });
                let mut c = TcpStream::connect(a).await.expect("connect");
                c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    .await
                    .expect("send");
                // The request acknowledged: what arrives from here on is the answer.
                let mut acked = false;
                for _ in 0..2500 {
                    if info(&c).1 == 0 {
                        acked = true;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                assert!(acked, "request acknowledged");
                let before = info(&c).0;
                go.send(()).await.expect("go");
                let mut answer = Vec::new();
                c.read_to_end(&mut answer).await.expect("answer");
                assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
                assert!(answer.ends_with(b"\r\n\r\nok"), "{answer:?}");
                assert_eq!(info(&c).0 - before, 1, "the answer and its FIN in one segment");
            })
            .await;
    });
}
