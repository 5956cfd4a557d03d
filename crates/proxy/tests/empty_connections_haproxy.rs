//! Connections that end before a request, side by side with the real haproxy 2.6: one that
//! closes without a byte (`400 CR--`, `<BADREQ>`), one that closes in the middle of its
//! request line (`400 CR--`), one that sends nothing until `timeout http-request` (`408
//! cR--`, and the 408 page); under `option dontlognull` the two that sent nothing are not
//! logged (the 408 is still sent). Log lines on a UDP syslog socket, answers as the client
//! reads them. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}  timeout http-request 300ms\n\
         frontend plain\n  bind 127.0.0.1:{}\n  log-format \"%f %ST %B %tsc %r\"\n  default_backend b\n\
         frontend quiet\n  bind 127.0.0.1:{}\n  option dontlognull\n  log-format \"%f %ST %B %tsc %r\"\n  default_backend b\n\
         backend b\n  server s {}\n",
        s.head("http"),
        s.ports[0],
        s.ports[1],
        s.backend
    )
}

/// Connects to port `i`, sends `bytes`, half-closes unless `wait` (then waits for the proxy's
/// timeout), and returns what came back (bounded: 5 s).
async fn client(side: &Side, i: usize, bytes: &[u8], wait: bool) -> String {
    let mut s = TcpStream::connect(side.addr(i)).await.expect("connect");
    if !bytes.is_empty() {
        s.write_all(bytes).await.expect("send");
    }
    if !wait {
        let _ = s.shutdown().await;
    }
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got)).await;
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

async fn run(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    for port in [0, 1] {
        for (bytes, wait) in [
            (&b""[..], false),
            (&b"GET / HT"[..], false),
            (&b""[..], true),
        ] {
            let answer = client(&side, port, bytes, wait).await;
            let line = side.datagram(Duration::from_secs(1)).await.map(|d| {
                d.split_once("]: ")
                    .map_or(d.clone(), |x| x.1.trim().to_string())
            });
            out.push(format!(
                "port {port} {bytes:?} wait={wait}: answer {answer:?}, line {line:?}"
            ));
        }
    }
    out
}

#[tokio::test]
async fn connections_without_a_request_are_logged_as_haproxy() {
    let (ours, theirs) = side_by_side(2, cfg, run).await;
    assert!(
        ours[0].contains("line Some(\"plain 400 0 CR-- <BADREQ>\")"),
        "{ours:#?}"
    );
    assert!(ours[3].contains("line None"), "dontlognull: {ours:#?}");
    let Some(theirs) = theirs else { return };
    assert_same(&ours, &theirs);
}
