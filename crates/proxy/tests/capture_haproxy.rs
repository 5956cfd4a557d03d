//! `capture request|response header` in log lines, side by side with the real haproxy 2.6
//! on a UDP syslog socket: the `{...}` blocks of `option httplog` and `%hr`/`%hs` of
//! `log-format` (last value, cut to `len`, `"#{|}` and control bytes as `#XX`). Before,
//! `capture` was ignored with a warning and the blocks were missing from the lines.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn cfg(syslog: u16, a: u16, b: u16, server: SocketAddr) -> String {
    format!(
        "global\n  log 127.0.0.1:{syslog} local0\n\
         defaults\n  mode http\n  log global\n  option dontlognull\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend a\n  bind 127.0.0.1:{a}\n  option httplog\n\
         \x20 capture request header Host len 5\n  capture request header X-A len 20\n\
         \x20 capture response header X-Server len 10\n  default_backend app\n\
         frontend b\n  bind 127.0.0.1:{b}\n  log-format \"%ST %hr %hs end\"\n\
         \x20 capture request header X-A len 3\n  default_backend app\n\
         backend app\n  server s1 {server}\n"
    )
}

async fn recv_line(s: &tokio::net::UdpSocket) -> String {
    common::syslog_message(s).await
}

/// The `{...}` blocks of the httplog lines, and the log-format lines.
async fn lines(sys: &tokio::net::UdpSocket, a: u16, b: u16) -> Vec<String> {
    let mut out = Vec::new();
    let re = regex::Regex::new(r"\{[^}]*\}").expect("re");
    for (port, raw) in [
        (a, "GET / HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nX-A: a|b\"c{d}#\r\nConnection: close\r\n\r\n"),
        (a, "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
        (b, "GET / HTTP/1.1\r\nHost: h\r\nX-A: abcdef\r\nConnection: close\r\n\r\n"),
    ] {
        let mut s = tokio::net::TcpStream::connect(v4(port)).await.expect("connect");
        s.write_all(raw.as_bytes()).await.expect("send");
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
        drop(s);
        let line = recv_line(sys).await;
        if port == a {
            let blocks: Vec<&str> = re.find_iter(&line).map(|m| m.as_str()).collect();
            out.push(blocks.join(" "));
        } else {
            out.push(line);
        }
    }
    out
}

#[tokio::test]
async fn captures_are_logged_as_haproxy_logs_them() {
    let server = Backend::start("app").await;
    let fsys = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let hsys = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let (fa, fb) = (free_port(), free_port());
    let f = start(&cfg(
        fsys.local_addr().expect("a").port(),
        fa,
        fb,
        server.addr,
    ))
    .await;
    let ours = lines(&fsys, fa, fb).await;
    f.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ours[0], "{examp|a#7Cb#22c#7Bd#7D#23} {app}", "{ours:?}");
    assert_eq!(ours[1], "{h|} {app}", "{ours:?}");

    let (ha, hb) = (free_port(), free_port());
    let Some(_h) = Haproxy::start(
        &cfg(hsys.local_addr().expect("a").port(), ha, hb, server.addr),
        v4(ha),
    )
    .await
    else {
        return;
    };
    assert!(wait_listening(v4(hb)).await);
    let theirs = lines(&hsys, ha, hb).await;
    assert_eq!(
        ours, theirs,
        "capture blocks and %hr/%hs: fulcrum vs haproxy"
    );
}
