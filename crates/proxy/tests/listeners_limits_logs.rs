//! Listeners (IPv6 dual stack, `*`, port ranges, several binds, a non-local address with
//! freebind), limits (global maxconn waits in the backlog), connection modes
//! (http-server-close, httpclose), and httplog/tcplog lines sent to a syslog address.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn defaults() -> &'static str {
    "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n"
}

#[tokio::test]
async fn ipv6_any_star_ranges_and_several_binds() {
    let b = Backend::start("alpha").await;
    let (p6, pstar, r0) = (free_port(), free_port(), free_range(3));
    // A small range: r0..r0+2 (ports next to a free one are very likely free too).
    let text = format!(
        "{}frontend fe\n  bind :::{p6}\n  bind *:{pstar}\n  bind 127.0.0.1:{r0}-{}\n  default_backend be\nbackend be\n  server s {}\n",
        defaults(),
        r0 + 2,
        b.addr
    );
    let h = match fulcrum_proxy::start(&load(&text)).await {
        Ok(h) => h,
        Err(e) => panic!("start: {e}"),
    };
    // `:::PORT` is dual stack: reachable over ::1 and 127.0.0.1.
    let r = get(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, p6)), "/")
        .await
        .expect("ipv6");
    assert_eq!(r.text(), "alpha");
    assert_eq!(get(v4(p6), "/").await.expect("v4 on ::").text(), "alpha");
    assert_eq!(get(v4(pstar), "/").await.expect("*").text(), "alpha");
    for p in r0..=r0 + 2 {
        assert_eq!(
            get(v4(p), "/").await.expect("range").text(),
            "alpha",
            "port {p}"
        );
    }
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn non_local_address_is_bound_with_freebind() {
    // 192.0.2.0/24 (TEST-NET-1) is never local here: binding needs IP_FREEBIND, as a VIP
    // held by another node would. No traffic is sent to it.
    let port = free_port();
    let text = format!(
        "{}frontend vip\n  bind 192.0.2.10:{port}\n  http-request return status 200\n",
        defaults()
    );
    let h = fulcrum_proxy::start(&load(&text))
        .await
        .expect("a non-local bind must succeed (freebind)");
    let text = format!(
        "{}frontend vip\n  bind 192.0.2.11:{port} freebind\n  http-request return status 200\n",
        defaults()
    );
    h.reload(&load(&text)).await.expect("explicit freebind");
    // `transparent` needs CAP_NET_ADMIN: checked when running as root, skipped loudly otherwise.
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if root {
        let p2 = free_port();
        let text = format!(
            "{}frontend vip\n  bind 127.0.0.1:{p2} transparent\n  http-request return status 200\n",
            defaults()
        );
        h.reload(&load(&text))
            .await
            .expect("transparent bind as root");
        assert_eq!(get(v4(p2), "/").await.expect("served").status, 200);
    } else {
        fulcrum_testlab::require::skip(
            "the `transparent` bind check",
            "it needs root (CAP_NET_ADMIN)",
        );
    }
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn global_maxconn_makes_excess_connections_wait_not_fail() {
    let port = free_port();
    let text = format!(
        "global\n  maxconn 1\n  nbthread 1\n{}frontend fe\n  bind 127.0.0.1:{port}\n  http-request return status 200 content-type text/plain string ok\n",
        defaults()
    );
    let h = start(&text).await;
    let mut first = Client::connect(v4(port)).await.expect("first");
    assert_eq!(first.get("/").await.expect("first request").status, 200);
    // The second connection is accepted by the kernel but not served while the first is open.
    let mut second = Client::connect(v4(port))
        .await
        .expect("second connects (backlog)");
    second
        .send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("send");
    let waited =
        tokio::time::timeout(Duration::from_millis(500), second.read_response(false)).await;
    assert!(waited.is_err(), "served beyond maxconn");
    drop(first);
    let r = tokio::time::timeout(Duration::from_secs(3), second.read_response(false))
        .await
        .expect("served once room")
        .expect("response");
    assert_eq!(r.status, 200);
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn server_close_and_httpclose_modes() {
    let b = Backend::start("alpha").await;
    for (opt, client_kept) in [
        ("option http-server-close", true),
        ("option httpclose", false),
    ] {
        let port = free_port();
        let text = format!("{}frontend fe\n  bind 127.0.0.1:{port}\n  {opt}\n  default_backend be\nbackend be\n  server s {}\n", defaults(), b.addr);
        let h = start(&text).await;
        let mut c = Client::connect(v4(port)).await.expect("connect");
        let r = c.get("/").await.expect("response");
        assert_eq!(r.text(), "alpha");
        let head = b.heads().pop().unwrap_or_default();
        assert!(
            head.contains("Connection: close"),
            "{opt}: server side closes: {head}"
        );
        if client_kept {
            assert_eq!(
                c.get("/").await.expect("kept").text(),
                "alpha",
                "{opt}: client side kept alive"
            );
        } else {
            assert_eq!(r.header("connection"), Some("close"));
            assert!(
                c.closed_within(Duration::from_secs(2)).await,
                "{opt}: client side closed"
            );
        }
        h.shutdown(Duration::from_secs(1)).await;
    }
}

async fn syslog() -> (tokio::net::UdpSocket, u16) {
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let p = s.local_addr().expect("addr").port();
    (s, p)
}

async fn recv_line(s: &tokio::net::UdpSocket) -> String {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), s.recv(&mut buf))
        .await
        .expect("a log line")
        .expect("recv");
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    // HAProxy ends each datagram with a newline.
    assert!(line.ends_with('\n'), "newline-terminated: {line:?}");
    line.trim_end_matches('\n').to_string()
}

#[tokio::test]
async fn httplog_line_in_haproxys_format() {
    let b = Backend::start("alpha").await;
    let (sys, sport) = syslog().await;
    let port = free_port();
    let text = format!(
        "global\n  log 127.0.0.1:{sport} local0\n{}  log global\n  option httplog\nfrontend web\n  bind 127.0.0.1:{port}\n  default_backend app\nbackend app\n  server s1 {}\n",
        defaults(),
        b.addr
    );
    let h = start(&text).await;
    assert_eq!(get(v4(port), "/x?y=1").await.expect("r").status, 200);
    let line = recv_line(&sys).await;
    // <134>Nov 23 09:00:00 fulcrum[pid]: 127.0.0.1:PORT [23/Nov/2026:09:00:00.123] web app/s1 0/0/0/1/1 200 ... "GET /x?y=1 HTTP/1.1"
    assert!(line.starts_with("<134>"), "local0.info priority: {line}");
    let msg = line.split_once("]: ").map(|x| x.1).unwrap_or("");
    let re = regex::Regex::new(r#"^127\.0\.0\.1:[0-9]+ \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\] web app/s1 [0-9]+/[0-9]+/[0-9]+/[0-9]+/[0-9]+ 200 [0-9]+ - - ---- [0-9]+/[0-9]+/[0-9]+/[0-9]+/[0-9]+ [0-9]+/[0-9]+ "GET /x\?y=1 HTTP/1\.1"$"#)
        .expect("regex");
    assert!(re.is_match(msg), "httplog line: {msg}");
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn tcplog_line_in_haproxys_format() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = l.local_addr().expect("addr");
    let t = tokio::spawn(async move {
        if let Ok((mut s, _)) = l.accept().await {
            let mut b = [0u8; 5];
            let _ = s.read_exact(&mut b).await;
            let _ = s.write_all(b"world").await;
        }
    });
    let (sys, sport) = syslog().await;
    let port = free_port();
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n  log 127.0.0.1:{sport} local0\n  option tcplog\nlisten db\n  bind 127.0.0.1:{port}\n  server s1 {a}\n"
    );
    let h = start(&text).await;
    let mut c = tokio::net::TcpStream::connect(v4(port))
        .await
        .expect("connect");
    c.write_all(b"hello").await.expect("write");
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), c.read_to_end(&mut got)).await;
    assert_eq!(got, b"world");
    drop(c); // the client closes too: the session ends and is logged
    let line = recv_line(&sys).await;
    let msg = line.split_once("]: ").map(|x| x.1).unwrap_or("");
    let re = regex::Regex::new(r#"^127\.0\.0\.1:[0-9]+ \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\] db db/s1 [0-9]+/[0-9]+/[0-9]+ 5 -- [0-9]+/[0-9]+/[0-9]+/[0-9]+/[0-9]+ [0-9]+/[0-9]+$"#).expect("regex");
    assert!(re.is_match(msg), "tcplog line: {msg}");
    h.shutdown(Duration::from_secs(1)).await;
    t.abort();
}

#[tokio::test]
async fn keep_alive_timeout_closes_idle_connections_silently() {
    let port = free_port();
    let text = format!(
        "{}  timeout http-keep-alive 200ms\nfrontend fe\n  bind 127.0.0.1:{port}\n  http-request return status 200\n",
        defaults()
    );
    let h = start(&text).await;
    let mut c = Client::connect(v4(port)).await.expect("connect");
    assert_eq!(c.get("/").await.expect("r").status, 200);
    // Closed without a 408 (nothing was started), well before `timeout client` (5 s).
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(3), c.s.read(&mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "no bytes, just a close");
    h.shutdown(Duration::from_secs(1)).await;
}
