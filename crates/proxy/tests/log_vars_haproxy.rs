//! The `%` variables of `log-format` added after the first set (`%si %sp %H %Ts %T %hrl %hsl`) are written as the real HAProxy 2.6 writes them: the same config run by both
//! proxies, each logging to a UDP syslog socket of the test, the same requests, the lines
//! compared byte for byte once client ports, the host name and the dates are masked (the
//! dates are checked against the clock, the host name against the kernel's).
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

const HTTP_FORMAT: &str = "%ci si=%si sp=%sp H=%H Ts=%Ts T=%T hrl=%hrl hsl=%hsl q=%{+Q}hr end";
const TCP_FORMAT: &str = "%ci si=%si sp=%sp Ts=%Ts end";

/// A TCP server that reads `hello`, answers `world` and closes.
async fn echo() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut b = [0u8; 5];
                let _ = s.read_exact(&mut b).await;
                let _ = s.write_all(b"world").await;
            });
        }
    });
    a
}

fn cfg(syslog: u16, http: u16, tcp: u16, server: SocketAddr, raw: SocketAddr) -> String {
    format!(
        "global\n  log 127.0.0.1:{syslog} local0\n\
         defaults\n  mode http\n  log global\n  option dontlognull\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:{http}\n  log-format \"{HTTP_FORMAT}\"\n  default_backend app\n\
         \x20 capture request header Host len 20\n  capture request header X-None len 5\n\
         \x20 capture request header User-Agent len 4\n  capture response header X-Server len 10\n\
         backend app\n  server s1 {server}\n\
         listen raw\n  mode tcp\n  bind 127.0.0.1:{tcp}\n  log-format \"{TCP_FORMAT}\"\n  server s1 {raw}\n"
    )
}

async fn recv_line(s: &tokio::net::UdpSocket) -> String {
    let line = common::syslog_message(s).await;
    // Client ports, the host name and the dates differ between the runs (checked apart).
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let ts = regex::Regex::new(r"Ts=([0-9]+)").expect("re");
    let t = ts.captures(&line).expect("a %Ts field")[1]
        .parse::<u64>()
        .expect("seconds");
    assert!(t.abs_diff(now) <= 5, "%Ts {t} vs now {now}: {line}");
    assert!(
        !line.contains("H=") || line.contains(&format!("H={} ", host.trim())),
        "%H: {line}"
    );
    let line = ts.replace_all(&line, "Ts=N").into_owned();
    let line =
        regex::Regex::new(r"T=[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} \+0000")
            .expect("re")
            .replace_all(&line, "T=DATE")
            .into_owned();
    regex::Regex::new(r"127\.0\.0\.1:[0-9]+")
        .expect("re")
        .replace_all(&line, "127.0.0.1:PORT")
        .into_owned()
}

const REQUESTS: &[&str] = &[
    "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: Example.COM\r\nUser-Agent: ua \"quoted\"\r\nX-Esc: a\"b]c\r\nConnection: close\r\n\r\n",
    "HEAD /plain HTTP/1.0\r\nHost: h\r\n\r\n",
];

async fn lines(sys: &tokio::net::UdpSocket, http: u16, tcp: u16) -> Vec<String> {
    let mut out = Vec::new();
    for raw in REQUESTS {
        let mut s = tokio::net::TcpStream::connect(v4(http))
            .await
            .expect("connect");
        s.write_all(raw.as_bytes()).await.expect("send");
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
        assert!(
            buf.starts_with(b"HTTP/1."),
            "{}",
            String::from_utf8_lossy(&buf)
        );
        out.push(recv_line(sys).await);
    }
    let mut s = tokio::net::TcpStream::connect(v4(tcp))
        .await
        .expect("connect");
    s.write_all(b"hello").await.expect("send");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
    assert_eq!(buf, b"world");
    drop(s);
    out.push(recv_line(sys).await);
    out
}

#[tokio::test]
async fn log_variables_match_haproxy() {
    let server = Backend::start("app").await;
    let raw = echo().await;
    let fsys = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let hsys = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let (fh, ft) = (free_port(), free_port());
    let f = start(&cfg(
        fsys.local_addr().expect("a").port(),
        fh,
        ft,
        server.addr,
        raw,
    ))
    .await;
    let ours = lines(&fsys, fh, ft).await;
    f.shutdown(Duration::from_secs(1)).await;
    // Not vacuous: the variables are written.
    let sp = server.addr.port();
    assert!(
        ours[0].contains(&format!("si=127.0.0.1 sp={sp} ")) && ours[0].contains("T=DATE"),
        "{ours:?}"
    );
    assert!(
        ours[0].contains("hrl=Example.COM - ua #22 hsl=app"),
        "{ours:?}"
    );
    assert!(ours[2].contains(" si=127.0.0.1 sp="), "{ours:?}");

    let (hh, ht) = (free_port(), free_port());
    let Some(_h) = Haproxy::start(
        &cfg(
            hsys.local_addr().expect("a").port(),
            hh,
            ht,
            server.addr,
            raw,
        ),
        v4(hh),
    )
    .await
    else {
        return;
    };
    assert!(wait_listening(v4(ht)).await);
    // The readiness probe's connection to the TCP listen may log a line: drop it.
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok(_)) =
        tokio::time::timeout(Duration::from_millis(300), hsys.recv(&mut buf)).await
    {}
    let theirs = lines(&hsys, hh, ht).await;
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(o, t, "line {i}: fulcrum (left) vs haproxy (right)");
    }
}
