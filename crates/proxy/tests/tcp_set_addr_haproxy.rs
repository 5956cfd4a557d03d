//! `tcp-request connection|session|content set-src|set-dst|set-src-port|set-dst-port`
//! side by side with the real haproxy 2.6 on the same config: in a TCP listen and an HTTP
//! frontend, later rules, the `src`/`dst` fetches, a header value and the log line see the
//! addresses the rules set (an address keeps the port, a port keeps the address; a rule
//! whose condition reads the new source decides on it). Compared: each log line (client
//! port masked) and the header the backend received.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}listen t\n  mode tcp\n  bind 127.0.0.1:{}\n\
         \x20 log-format \"tcp %ci %fi:%fp %[src] %[dst_port]\"\n\
         \x20 tcp-request connection set-src str(10.9.8.7) if {{ src 127.0.0.1 }}\n\
         \x20 tcp-request content set-dst-port int(4444)\n\
         \x20 tcp-request content set-dst str(10.0.0.9) if {{ src 10.9.8.7 }}\n\
         \x20 server s {}\n\
         frontend h\n  bind 127.0.0.1:{}\n\
         \x20 log-format \"http %ci:%cp %fi %[src]\"\n\
         \x20 tcp-request session set-src str(10.1.1.1)\n\
         \x20 tcp-request content set-src-port int(1234) if {{ src 10.1.1.1 }}\n\
         \x20 http-request set-header x-src %[src]:%[src_port]\n\
         \x20 default_backend app\n\
         backend app\n  server s {}\n",
        s.head("http"),
        s.ports[0],
        hello(s),
        s.ports[1],
        s.backend
    )
}

/// The TCP server's address: the side's dir names it (a hello server started per side).
fn hello(s: &Setup<'_>) -> String {
    std::fs::read_to_string(s.dir.join("hello")).unwrap_or_default()
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    let got = side.exchange(0, b"hello").await;
    out.push(String::from_utf8_lossy(&got).into_owned());
    out.push(mask_ports(&side.line().await));
    let before = side.backend.heads().len();
    let got = side
        .exchange(1, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    out.push(
        String::from_utf8_lossy(&got)
            .lines()
            .next()
            .unwrap_or("closed")
            .to_string(),
    );
    out.push(mask_ports(&side.line().await));
    for h in &side.backend.heads()[before..] {
        out.push(
            h.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("x-src:"))
                .unwrap_or("no x-src")
                .to_ascii_lowercase(),
        );
    }
    out
}

#[tokio::test]
async fn tcp_set_addr_as_haproxy() {
    // One hello server for both sides (its address written where each config reads it).
    let server = hello_server().await;
    let cfg = move |s: &Setup<'_>| {
        let _ = std::fs::write(s.dir.join("hello"), server.to_string());
        cfg(s)
    };
    let (ours, theirs) = side_by_side(2, cfg, drive).await;
    assert_eq!(ours[0], "world", "{ours:?}");
    assert!(
        ours[1].starts_with("tcp 10.9.8.7 10.0.0.9:4444 10.9.8.7 4444"),
        "{ours:?}"
    );
    assert_eq!(ours[4], "x-src: 10.1.1.1:1234", "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
