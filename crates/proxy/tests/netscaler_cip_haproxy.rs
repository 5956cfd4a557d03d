//! NetScaler Client IP headers side by side with the real haproxy 2.6: `tcp-request
//! connection expect-netscaler-cip layer4` (the bind's magic number, 0 without
//! `accept-netscaler-cip`) and `bind ... accept-netscaler-cip MAGIC`. A client writes the
//! header (standard and legacy forms, IPv4 and IPv6) and its request in one segment: the
//! answer (`%[src]:%[src_port] %[dst]:%[dst_port]` through `return lf-string`) and the log
//! line carry the header's addresses. A bad magic number, a header that is not TCP, a
//! truncated one and a close before any byte get no answer and haproxy's error line (its
//! date and the client's port left out). Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy
//! fails the test.

mod common;
use common::*;
use fulcrum_proxy::netscaler_cip::encode;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cfg(s: &Setup<'_>) -> String {
    let answer = "  http-request return status 200 content-type text/plain lf-string \"%[src]:%[src_port] %[dst]:%[dst_port]\"\n";
    format!(
        "{}frontend r\n  bind 127.0.0.1:{}\n  log-format \"r %ci:%cp %fi:%fp %ST %{{+Q}}r\"\n\
         \x20 tcp-request connection expect-netscaler-cip layer4\n{answer}\
         frontend b\n  bind 127.0.0.1:{} accept-netscaler-cip 1234\n  log-format \"b %ci:%cp %fi:%fp %ST\"\n{answer}",
        s.head("http"),
        s.ports[0],
        s.ports[1],
    )
}

fn a(s: &str) -> SocketAddr {
    s.parse().expect("literal")
}

/// Sends `bytes` to port `i`, closes the sending side, reads the answer (3 s at most).
async fn send(side: &Side, i: usize, bytes: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(side.addr(i))
        .await
        .expect("connect");
    s.write_all(bytes).await.expect("send");
    let _ = s.shutdown().await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((head, body)) => format!("{} | {body}", head.lines().next().unwrap_or("")),
        None => format!("no answer: {text:?}"),
    }
}

/// A connection error line without its date and the client's port.
fn error_line(line: &str) -> String {
    let date = regex::Regex::new(r"\[[^]]*\] ").expect("re");
    date.replace(&mask_ports(line), "").into_owned()
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    let req = b"GET /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let with = |h: Vec<u8>| [h, req.to_vec()].concat();
    let v4 = (a("192.0.2.7:4000"), a("198.51.100.1:443"));
    let v6 = (a("[2001:db8::7]:4001"), a("[2001:db8::1]:8443"));
    let mut out = Vec::new();
    for (port, magic, (src, dst), legacy) in [
        (0, 0, v4, false),
        (0, 0, v4, true),
        (0, 0, v6, false),
        (0, 0, v6, true),
        (1, 1234, v4, false),
        (1, 1234, v6, true),
    ] {
        let got = send(&side, port, &with(encode(magic, src, dst, legacy))).await;
        out.push(format!("{src} {dst} legacy={legacy}: {got}"));
        out.push(side.line().await);
    }
    // refused headers: each closes the connection with haproxy's error line
    let mut udp = encode(0, v4.0, v4.1, false);
    udp[12 + 9] = 17;
    let mut v5 = encode(0, v4.0, v4.1, false);
    v5[12] = 0x55;
    let mut kind = encode(0, v4.0, v4.1, false);
    kind[8] = 0x99;
    let cases: Vec<(&str, usize, Vec<u8>)> = vec![
        ("bad magic", 0, with(encode(7, v4.0, v4.1, false))),
        ("bind magic", 1, with(encode(0, v4.0, v4.1, false))),
        ("udp", 0, with(udp)),
        ("ip version 5", 0, with(v5)),
        ("unknown form", 0, with(kind)),
        ("truncated", 0, encode(0, v4.0, v4.1, false)[..6].to_vec()),
        ("plain request", 0, req.to_vec()),
        ("closed", 0, Vec::new()),
    ];
    for (what, port, bytes) in cases {
        let got = send(&side, port, &bytes).await;
        out.push(format!("{what}: {got}"));
        out.push(error_line(&side.line().await));
    }
    out
}

#[tokio::test]
async fn netscaler_cip_as_haproxy() {
    let (ours, theirs) = side_by_side(2, cfg, drive).await;
    assert_eq!(ours.len(), 28, "{ours:?}");
    assert_eq!(
        ours[0],
        "192.0.2.7:4000 198.51.100.1:443 legacy=false: HTTP/1.1 200 OK | 192.0.2.7:4000 198.51.100.1:443",
        "{ours:?}"
    );
    assert!(
        ours[1].starts_with("r 192.0.2.7:4000 198.51.100.1:443 200"),
        "{ours:?}"
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
