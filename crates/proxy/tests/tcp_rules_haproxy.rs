//! `tcp-request connection|session|content` rules and rules inherited from a named
//! `defaults` section, side by side with the real haproxy 2.6: clients connect from
//! different loopback sources (127.0.0.1-12) to an HTTP frontend (with a backend that has its
//! own content rules) and a TCP listen, and each must get the same answer (a status, or a
//! closed connection) from both. Before these rules ran, fulcrum ignored them with a warning:
//! the allow/deny lists vanished.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

const T: &str = "  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n";

fn cfg(h: u16, t: u16, server: SocketAddr) -> String {
    format!(
        "defaults base\n  mode http\n{T}\
         \x20 acl blocked src 127.0.0.5\n\
         \x20 http-request deny deny_status 403 if blocked\n\
         \x20 tcp-request content reject if {{ src 127.0.0.6 }}\n\
         defaults plain\n  mode http\n{T}\
         frontend h from base\n  bind 127.0.0.1:{h}\n\
         \x20 acl blocked src 127.0.0.8\n\
         \x20 http-request deny deny_status 401 if blocked\n\
         \x20 tcp-request connection reject if {{ src 127.0.0.2 }}\n\
         \x20 tcp-request session reject if {{ src 127.0.0.3 }}\n\
         \x20 tcp-request content reject if {{ src 127.0.0.4 }}\n\
         \x20 tcp-request connection accept if {{ src 127.0.0.10 }}\n\
         \x20 tcp-request connection reject if {{ src 127.0.0.10/31 }}\n\
         \x20 default_backend b\n\
         backend b from plain\n\
         \x20 tcp-request content reject if {{ src 127.0.0.9 }}\n\
         \x20 server s {server}\n\
         listen t from plain\n  mode tcp\n  bind 127.0.0.1:{t}\n\
         \x20 tcp-request connection reject if {{ src 127.0.0.2 }}\n\
         \x20 tcp-request inspect-delay 1s\n\
         \x20 tcp-request content reject if {{ src 127.0.0.4 }}\n\
         \x20 tcp-request content accept if {{ src 127.0.0.12 }}\n\
         \x20 tcp-request content reject unless {{ src 127.0.0.0/29 }}\n\
         \x20 server s {server}\n"
    )
}

/// What a client from `127.0.0.src` gets: the status line's code, or "closed".
async fn answer(src: u8, to: SocketAddr) -> String {
    let attempt = async {
        let sock = tokio::net::TcpSocket::new_v4().ok()?;
        sock.bind(SocketAddr::from(([127, 0, 0, src], 0))).ok()?;
        let mut s = sock.connect(to).await.ok()?;
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        let text = String::from_utf8_lossy(&buf).into_owned();
        text.split_whitespace().nth(1).map(str::to_string)
    };
    match tokio::time::timeout(Duration::from_secs(4), attempt).await {
        Ok(Some(code)) => code,
        Ok(None) => "closed".into(),
        Err(_) => "hung".into(),
    }
}

async fn answers(h: u16, t: u16) -> Vec<(u8, String, String)> {
    let mut out = Vec::new();
    for src in 1..=12u8 {
        out.push((src, answer(src, addr(h)).await, answer(src, addr(t)).await));
    }
    out
}

#[tokio::test]
async fn tcp_rules_decide_as_haproxy_decides() {
    let server = Backend::start("app").await;
    let (h, t) = (free_port(), free_port());
    let proxy = start(&cfg(h, t, server.addr)).await;
    let ours = answers(h, t).await;
    proxy.shutdown(Duration::from_secs(1)).await;
    // Not vacuous: some pass, some are closed, some denied by inherited rules.
    let get = |src: u8| ours[usize::from(src) - 1].clone();
    assert_eq!(get(1), (1, "200".into(), "200".into()), "{ours:?}");
    assert_eq!(get(2), (2, "closed".into(), "closed".into()), "{ours:?}");
    assert_eq!(get(5).1, "403", "a named defaults' rule and ACL: {ours:?}");
    assert_eq!(
        get(8).1,
        "401",
        "the proxy's own ACL of the same name: {ours:?}"
    );

    let server2 = Backend::start("app").await;
    let (hh, ht) = (free_port(), free_port());
    let Some(_haproxy) = Haproxy::start(&cfg(hh, ht, server2.addr), addr(hh)).await else {
        return;
    };
    assert!(wait_listening(addr(ht)).await);
    let theirs = answers(hh, ht).await;
    assert_eq!(
        ours, theirs,
        "(source, HTTP frontend answer, TCP listen answer): fulcrum vs haproxy"
    );
}
