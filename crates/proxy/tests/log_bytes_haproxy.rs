//! `%B` in `log-format` (and the bytes field of `option httplog`) is what HAProxy 2.6 logs:
//! the response's size in HAProxy's HTX form (head included, the `connection` header the
//! encoder adds not), for a small and a larger proxied response and a local `deny`. The same
//! config is run by fulcrum and by the real haproxy and the logged values must be equal. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy
//! fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn cfg(syslog: u16, http: u16, server: SocketAddr) -> String {
    format!(
        "global\n  log 127.0.0.1:{syslog} local0\n\
         defaults\n  mode http\n  log global\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:{http}\n  log-format \"ST=%ST B=%B end\"\n\
         \x20 http-request deny deny_status 403 if {{ path /deny }}\n  default_backend app\n\
         backend app\n  server s1 {server}\n"
    )
}

const REQUESTS: &[&str] = &[
    "GET /small HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    "GET /big/5000 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    "GET /deny HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
];

async fn recv_line(s: &tokio::net::UdpSocket) -> String {
    common::syslog_message(s).await
}

/// For each request: (status, logged %B, bytes the client read).
async fn run(sys: &tokio::net::UdpSocket, http: u16) -> Vec<(String, u64, u64)> {
    let mut out = Vec::new();
    let re = regex::Regex::new(r"^ST=([0-9]+) B=([0-9]+) end$").expect("re");
    for raw in REQUESTS {
        let mut s = tokio::net::TcpStream::connect(v4(http))
            .await
            .expect("connect");
        s.write_all(raw.as_bytes()).await.expect("send");
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
        assert!(buf.starts_with(b"HTTP/1."), "{raw:?}");
        let line = recv_line(sys).await;
        let c = re
            .captures(&line)
            .unwrap_or_else(|| panic!("line {line:?}"));
        out.push((
            c[1].to_string(),
            c[2].parse().expect("%B is a number"),
            buf.len() as u64,
        ));
    }
    out
}

#[tokio::test]
async fn percent_b_counts_the_head_like_haproxy() {
    let server = Backend::start("app").await;
    let fsys = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let hsys = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let fh = free_port();
    let f = start(&cfg(fsys.local_addr().expect("a").port(), fh, server.addr)).await;
    let ours = run(&fsys, fh).await;
    f.shutdown(Duration::from_secs(1)).await;
    // Not vacuous: a head is counted (the small body alone is 3 bytes, "app"), and it is
    // not the wire size (the added `connection: close` is not counted, as in HAProxy).
    assert!(ours[0].1 > 40 && ours[0].1 < ours[0].2, "{ours:?}");
    assert!(ours[1].1 > 5000, "{ours:?}");

    let hh = free_port();
    let Some(_h) = Haproxy::start(
        &cfg(hsys.local_addr().expect("a").port(), hh, server.addr),
        v4(hh),
    )
    .await
    else {
        return;
    };
    // The readiness probe's connection may log a line: drop it.
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok(_)) =
        tokio::time::timeout(Duration::from_millis(300), hsys.recv(&mut buf)).await
    {}
    let theirs = run(&hsys, hh).await;
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        // The wire sizes agree for proxied answers; fulcrum's local 403 has no
        // `connection: close` line (208 vs 189 bytes), which %B does not count either way.
        assert_eq!(
            (&o.0, o.1),
            (&t.0, t.1),
            "request {i}: (status, %B) fulcrum vs haproxy; bytes read {} vs {}",
            o.2,
            t.2
        );
    }
}
