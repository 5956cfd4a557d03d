//! TCP content inspection side by side with the real haproxy 2.6 on the same config:
//! `tcp-request inspect-delay` with `tcp-request content` rules reading `req.payload`,
//! `req.len`, `WAIT_END`, and `use_backend` on `req.payload_lv`, in a TCP listen; in an HTTP
//! frontend, `req.len` (HAProxy's HTX size) in a content rule and a header value (a complete
//! request is not waited on: HAProxy decides at once), and `res.len` in a response header.
//! Clients send their bytes at once, in two parts (the rules must wait for the second and
//! decide then), half-closed early, or not at all, and each must get the same answer (the
//! echo server's reply, naming the backend, or a closed connection) from both.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

const T: &str = "  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n";

fn cfg(t: u16, r: u16, h: u16, one: SocketAddr, two: SocketAddr, app: SocketAddr) -> String {
    format!(
        "defaults\n{T}\
         listen t\n  mode tcp\n  bind 127.0.0.1:{t}\n\
         \x20 tcp-request inspect-delay 1500ms\n\
         \x20 tcp-request content reject if {{ req.payload(0,4) -m str BAD! }}\n\
         \x20 tcp-request content accept if {{ req.payload(0,4) -m str GOOD }}\n\
         \x20 tcp-request content accept if {{ req.len ge 8 }}\n\
         \x20 tcp-request content reject if WAIT_END\n\
         \x20 server s {one}\n\
         frontend r\n  mode tcp\n  bind 127.0.0.1:{r}\n\
         \x20 tcp-request inspect-delay 1500ms\n\
         \x20 tcp-request content accept if {{ req.payload_lv(0,1) -m found }}\n\
         \x20 use_backend two if {{ req.payload_lv(0,1) -m str hello }}\n\
         \x20 default_backend one\n\
         backend one\n  mode tcp\n  server s {one}\n\
         backend two\n  mode tcp\n  server s {two}\n\
         frontend h\n  mode http\n  bind 127.0.0.1:{h}\n\
         \x20 tcp-request inspect-delay 700ms\n\
         \x20 tcp-request content reject if {{ req.len gt 200 }}\n\
         \x20 http-request set-header x-len %[req.len]\n\
         \x20 http-request set-header x-payload %[req.payload(0,3)]\n\
         \x20 http-response set-header x-res-len %[res.len]\n\
         \x20 default_backend app\n\
         backend app\n  mode http\n  server s {app}\n"
    )
}

/// Sends `parts` (each after its pause), half-closes when `close`, and reads the answer:
/// what the server echoed, "closed" for nothing, "hung" after 5 s.
async fn talk(to: SocketAddr, parts: &[(&'static [u8], u64)], close: bool) -> String {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(to).await.ok()?;
        for (bytes, pause) in parts {
            tokio::time::sleep(Duration::from_millis(*pause)).await;
            s.write_all(bytes).await.ok()?;
        }
        if close {
            s.shutdown().await.ok()?;
        }
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        Some(buf)
    };
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Some(b)) if b.is_empty() => "closed".into(),
        Ok(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        Ok(None) => "failed".into(),
        Err(_) => "hung".into(),
    }
}

/// The status and the backend's `x-len`/`x-payload` headers for an HTTP request with a
/// header `pad` long, and whether the answer took the inspect delay.
async fn http(to: SocketAddr, pad: usize) -> (String, String, bool) {
    let req = format!(
        "GET /p HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(pad)
    );
    let t = Instant::now();
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(to).await.ok()?;
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        Some(String::from_utf8_lossy(&buf).into_owned())
    };
    let text = tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let status = text
        .split_whitespace()
        .nth(1)
        .unwrap_or("closed")
        .to_string();
    (status, text, t.elapsed() >= Duration::from_millis(600))
}

type Answers = (Vec<String>, Vec<(String, bool)>);

async fn run(t: u16, r: u16, h: u16, app: &Backend) -> Answers {
    let (t, r, h) = (addr(t), addr(r), addr(h));
    let tcp = tokio::join!(
        talk(t, &[(b"GOOD-morning", 0)], true),
        talk(t, &[(b"BAD!stuff", 0)], true),
        talk(t, &[(b"GO", 0), (b"OD+later", 300)], true),
        talk(t, &[(b"BA", 0), (b"D!", 300)], true),
        talk(t, &[(b"12345678", 0)], true),
        talk(t, &[(b"1234", 0), (b"5678", 300)], true),
        // Half-closed before deciding: the rules decide on what is there (WAIT_END holds).
        talk(t, &[(b"1234", 0)], true),
        // Never enough: WAIT_END once the delay is over.
        talk(t, &[(b"abc", 0)], false),
        talk(r, &[(b"\x05he", 0), (b"llo!", 300)], true),
        talk(r, &[(b"\x03abc", 0)], true),
        talk(r, &[(b"\x05hel", 0)], true),
    );
    let tcp = vec![
        tcp.0, tcp.1, tcp.2, tcp.3, tcp.4, tcp.5, tcp.6, tcp.7, tcp.8, tcp.9, tcp.10,
    ];
    let before = app.heads().len();
    let (small, big) = tokio::join!(http(h, 10), http(h, 300));
    let heads = app.heads();
    let res_len = small
        .1
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("x-res-len:"))
        .unwrap_or("-")
        .to_string();
    let mut got: Vec<(String, bool)> = vec![
        (small.0.clone(), small.2),
        (big.0.clone(), big.2),
        (res_len, false),
    ];
    // The headers the backend received (the request that passed).
    for head in &heads[before..] {
        let line = |name: &str| {
            head.lines()
                .find(|l| l.to_ascii_lowercase().starts_with(name))
                .unwrap_or("-")
                .to_string()
        };
        got.push((
            format!("{} | {}", line("x-len:"), line("x-payload:")),
            false,
        ));
    }
    (tcp, got)
}

#[tokio::test]
async fn content_rules_wait_and_decide_as_haproxy() {
    let one = echo("one").await;
    let two = echo("two").await;
    let app = Backend::start("app").await;
    let (t, r, h) = (free_port(), free_port(), free_port());
    let proxy = start(&cfg(t, r, h, one, two, app.addr)).await;
    let ours = run(t, r, h, &app).await;
    proxy.shutdown(Duration::from_secs(1)).await;
    // Not vacuous: accepted, rejected, waited for and routed on the second part.
    assert_eq!(ours.0[0], "one:GOOD-morning", "{ours:?}");
    assert_eq!(ours.0[1], "closed", "{ours:?}");
    assert_eq!(
        ours.0[2], "one:GOOD+later",
        "waited for the 2nd part: {ours:?}"
    );
    assert_eq!(ours.0[3], "closed", "{ours:?}");
    assert_eq!(ours.0[7], "closed", "{ours:?}");
    assert_eq!(
        ours.0[8], "two:\x05hello!",
        "routed on payload_lv: {ours:?}"
    );
    assert_eq!(ours.1[0], ("200".to_string(), false), "{ours:?}");
    assert_eq!(ours.1[1].0, "closed", "{ours:?}");
    assert!(ours.1[2].0.starts_with("x-res-len: "), "{ours:?}");
    assert_eq!(
        ours.1[3].0, "x-len: 54 | x-payload: ",
        "HAProxy's HTX size: {ours:?}"
    );

    let (ht, hr, hh) = (free_port(), free_port(), free_port());
    let Some(_haproxy) = Haproxy::start(&cfg(ht, hr, hh, one, two, app.addr), addr(hh)).await
    else {
        return;
    };
    assert!(wait_listening(addr(ht)).await && wait_listening(addr(hr)).await);
    let theirs = run(ht, hr, hh, &app).await;
    assert_eq!(ours.0, theirs.0, "TCP answers: fulcrum vs haproxy");
    assert_eq!(
        ours.1, theirs.1,
        "HTTP answers and headers: fulcrum vs haproxy"
    );
}
