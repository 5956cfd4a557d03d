//! TCP mode over real sockets: bidirectional forwarding, half-close, balancing, tunnel timeout.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Reads everything until the client half-closes, then answers `NAME:` + the reversed bytes.
async fn tcp_server(name: &'static str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    let t = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut all = Vec::new();
                if s.read_to_end(&mut all).await.is_err() {
                    return;
                }
                all.reverse();
                let mut out = format!("{name}:").into_bytes();
                out.extend_from_slice(&all);
                let _ = s.write_all(&out).await;
            });
        }
    });
    (a, t)
}

#[tokio::test]
async fn half_close_and_roundrobin() {
    let (a, ta) = tcp_server("a").await;
    let (b, tb) = tcp_server("b").await;
    let port = free_port();
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         listen db\n  bind 127.0.0.1:{port}\n  balance roundrobin\n  server a {a}\n  server b {b}\n"
    );
    let h = start(&text).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr(port)).await.expect("connect");
        s.write_all(b"hello").await.expect("write");
        s.shutdown().await.expect("half-close");
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut out))
            .await
            .expect("in time")
            .expect("read");
        got.push(String::from_utf8_lossy(&out).into_owned());
    }
    assert_eq!(got, vec!["a:olleh", "b:olleh", "a:olleh", "b:olleh"]);
    h.shutdown(Duration::from_secs(1)).await;
    ta.abort();
    tb.abort();
}

#[tokio::test]
async fn idle_tunnel_is_closed_after_timeout_tunnel() {
    let (a, ta) = tcp_server("a").await;
    let port = free_port();
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n  timeout tunnel 300ms\n\
         listen db\n  bind 127.0.0.1:{port}\n  server a {a}\n"
    );
    let h = start(&text).await;
    let mut s = TcpStream::connect(addr(port)).await.expect("connect");
    s.write_all(b"x").await.expect("write");
    let mut buf = [0u8; 16];
    let r = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("closed well before 5s");
    assert!(
        matches!(r, Ok(0) | Err(_)),
        "connection closed by the proxy"
    );
    h.shutdown(Duration::from_secs(1)).await;
    ta.abort();
}

#[tokio::test]
async fn large_transfer_both_ways() {
    // An echo server that streams back what it reads.
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    let t = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    let port = free_port();
    let text = format!("defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\nlisten e\n  bind 127.0.0.1:{port}\n  server a {a}\n");
    let h = start(&text).await;
    let s = TcpStream::connect(addr(port)).await.expect("connect");
    let (mut r, mut w) = s.into_split();
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let want = data.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&data).await.expect("write");
        w.shutdown().await.expect("shutdown");
    });
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), r.read_to_end(&mut got))
        .await
        .expect("in time")
        .expect("read");
    writer.await.expect("writer");
    assert_eq!(got.len(), want.len());
    assert!(got == want);
    h.shutdown(Duration::from_secs(1)).await;
    t.abort();
}

/// A server that speaks first (a banner, as SMTP, FTP or POP3 servers do) and closes after
/// its answer: the banner reaches a client that has sent nothing yet, the rest follows in
/// order, and the close arrives after all of it. The opening reads the server's first bytes
/// itself when no `tcp-response` rule inspects them (`opening::open`'s `first`).
#[tokio::test]
async fn a_server_that_speaks_first_reaches_the_client_whole_and_in_order() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    let t = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let _ = s.write_all(b"220 ready\r\n").await;
                let mut line = [0u8; 6];
                if s.read_exact(&mut line).await.is_err() {
                    return;
                }
                let mut out = b"221 bye ".to_vec();
                out.extend_from_slice(&line);
                out.extend(std::iter::repeat_n(b'z', 100_000));
                let _ = s.write_all(&out).await;
            });
        }
    });
    let port = free_port();
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         listen mail\n  bind 127.0.0.1:{port}\n  server a {a}\n"
    );
    let h = start(&text).await;
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr(port)).await.expect("connect");
        let mut banner = [0u8; 11];
        tokio::time::timeout(Duration::from_secs(3), s.read_exact(&mut banner))
            .await
            .expect("banner in time")
            .expect("banner");
        assert_eq!(&banner, b"220 ready\r\n");
        s.write_all(b"QUIT\r\n").await.expect("write");
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut rest))
            .await
            .expect("closed in time")
            .expect("read");
        assert_eq!(rest.len(), 8 + 6 + 100_000);
        assert_eq!(&rest[..14], b"221 bye QUIT\r\n");
        assert!(rest[14..].iter().all(|&b| b == b'z'));
    }
    h.shutdown(Duration::from_secs(1)).await;
    t.abort();
}
