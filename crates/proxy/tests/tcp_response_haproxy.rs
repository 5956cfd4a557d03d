//! `tcp-response content` rules with `tcp-response inspect-delay` in a TCP listen, side by
//! side with the real haproxy 2.6 on the same config: the server answers in parts (with
//! pauses), and rules reading `res.payload` and `res.len` accept (the whole answer reaches
//! the client), reject (nothing does), close (what was received does, then the end), wait for
//! the second part, or let the delay run out. Each client must get the same bytes from both.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

/// A server that reads the client's message and sends it back in the parts `|` separates,
/// 300 ms apart, then closes a second later.
async fn parts_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1024];
                let n = match s.read(&mut buf).await {
                    Ok(n) if n > 0 => n,
                    _ => return,
                };
                for part in buf[..n].split(|&b| b == b'|') {
                    if s.write_all(part).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            });
        }
    });
    a
}

fn cfg(port: u16, server: SocketAddr) -> String {
    format!(
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         listen t\n  bind 127.0.0.1:{port}\n\
         \x20 tcp-response inspect-delay 1s\n\
         \x20 tcp-response content reject if {{ res.payload(0,3) -m str BAD }}\n\
         \x20 tcp-response content close if {{ res.payload(0,3) -m str CLS }}\n\
         \x20 tcp-response content accept if {{ res.len ge 6 }}\n\
         \x20 server s {server}\n"
    )
}

async fn talk(to: SocketAddr, msg: &'static [u8]) -> String {
    let attempt = async {
        let mut s = TcpStream::connect(to).await.ok()?;
        s.write_all(msg).await.ok()?;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        Some(String::from_utf8_lossy(&buf).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| "hung".into())
}

async fn run(port: u16) -> Vec<String> {
    let to = addr(port);
    let (a, b, c, d, e) = tokio::join!(
        talk(to, b"hello world"),
        talk(to, b"BADxyz"),
        talk(to, b"CLSxyz"),
        talk(to, b"ab|cdef|gh"),
        talk(to, b"ab"),
    );
    vec![a, b, c, d, e]
}

#[tokio::test]
async fn response_rules_decide_as_haproxy() {
    let server = parts_server().await;
    let port = free_port();
    let proxy = start(&cfg(port, server)).await;
    let ours = run(port).await;
    proxy.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        ours,
        ["hello world", "", "CLSxyz", "abcdefgh", "ab"],
        "accepted, rejected, closed, waited for, delay out"
    );

    let hport = free_port();
    let Some(_haproxy) = Haproxy::start(&cfg(hport, server), addr(hport)).await else {
        return;
    };
    let theirs = run(hport).await;
    assert_eq!(
        ours, theirs,
        "what each client received: fulcrum vs haproxy"
    );
}
