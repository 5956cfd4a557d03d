//! `server ... socks4 ADDR:PORT` on the data path, beside the real haproxy 2.6 on the same
//! config: the client's bytes reach the server through a scripted SOCKS4 proxy that grants the
//! request (and then answers as the server: its name and the reversed bytes); both must send
//! the proxy the same CONNECT request (HAProxy's, user id "HAProxy") and give the client the
//! same answer. A proxy that denies: the client gets nothing from either.

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

/// A SOCKS4 proxy recording each request; `grant`: then it is the server (answers "S:" and
/// the reversed bytes once the client half-closes), else it denies.
async fn socks4(grant: bool, seen: Seen) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut b = [0u8; 1];
                while req.len() < 9 || req.last() != Some(&0) {
                    match s.read(&mut b).await {
                        Ok(1) => req.push(b[0]),
                        _ => return,
                    }
                }
                seen.lock().expect("lock").push(req);
                if !grant {
                    let _ = s.write_all(&[0, 0x5b, 0, 0, 0, 0, 0, 0]).await;
                    return;
                }
                let _ = s.write_all(&[0, 0x5a, 0, 0, 0, 0, 0, 0]).await;
                let mut all = Vec::new();
                if s.read_to_end(&mut all).await.is_err() {
                    return;
                }
                all.reverse();
                let mut out = b"S:".to_vec();
                out.extend_from_slice(&all);
                let _ = s.write_all(&out).await;
            });
        }
    });
    a
}

async fn exchange(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"hello").await.expect("write");
    let _ = s.shutdown().await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("answered or closed in time");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_through_socks4_as_haproxy() {
    let (granted, denied) = (Seen::default(), Seen::default());
    let grant = socks4(true, granted.clone()).await;
    let deny = socks4(false, denied.clone()).await;
    let cfg = |port: u16, retries: &str| {
        format!(
            "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n{retries}\
             listen ok\n  bind 127.0.0.1:{port}\n  server s 127.0.0.2:6379 socks4 {grant}\n\
             listen no\n  bind 127.0.0.1:{}\n  server s 127.0.0.2:6380 socks4 {deny}\n",
            port + 1
        )
    };
    // distinct requests (haproxy's listening probe at start goes through the proxy too)
    let take = |s: &Seen| -> std::collections::BTreeSet<Vec<u8>> {
        std::mem::take(&mut *s.lock().expect("lock"))
            .into_iter()
            .collect()
    };

    let port = fulcrum_testlab::ports::free_range(2);
    let Some(haproxy) = Haproxy::start(
        &cfg(port, "  retries 0\n"),
        SocketAddr::from(([127, 0, 0, 1], port)),
    )
    .await
    else {
        return;
    };
    let theirs = (
        exchange(SocketAddr::from(([127, 0, 0, 1], port))).await,
        exchange(SocketAddr::from(([127, 0, 0, 1], port + 1))).await,
    );
    drop(haproxy);
    let theirs_seen = (take(&granted), take(&denied));

    let port = fulcrum_testlab::ports::free_range(2);
    let h = start(&cfg(port, "  retries 0\n")).await;
    let ours = (
        exchange(SocketAddr::from(([127, 0, 0, 1], port))).await,
        exchange(SocketAddr::from(([127, 0, 0, 1], port + 1))).await,
    );
    h.shutdown(Duration::from_secs(1)).await;
    let ours_seen = (take(&granted), take(&denied));

    assert_eq!(theirs.0, "S:olleh", "haproxy through the granting proxy");
    assert_eq!(theirs.1, "", "haproxy: nothing through a denying proxy");
    assert_eq!(ours, theirs, "the same answers");
    assert_eq!(
        theirs_seen.0,
        [b"\x04\x01\x18\xeb\x7f\x00\x00\x02HAProxy\x00".to_vec()].into(),
        "haproxy's request"
    );
    assert_eq!(ours_seen, theirs_seen, "the same SOCKS4 requests");
}
