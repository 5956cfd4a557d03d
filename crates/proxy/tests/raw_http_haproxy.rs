//! HTTP fetches on raw TCP bytes side by side with the real haproxy 2.6 on the same config: in
//! `mode tcp` proxies with `tcp-request inspect-delay`, `tcp-request content` rules and
//! `use_backend` read `HTTP` (`req.proto_http`), `req.hdr(host)`, `path`, `method`,
//! `req.ver`, `url_param`, `base`, `req.cook`, `hdr_cnt`: haproxy parses the buffered bytes
//! as an HTTP/1 request head, waits while it is incomplete and finds nothing in bytes that
//! are not one. Clients send a head at once, in two parts (the rules must wait for the
//! second), not HTTP at all, an incomplete head (half-closed or not), and each must get the
//! same answer (the echo server's reply naming the backend, or a closed connection) from
//! both. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

// Client and server timeouts past the test's 5 s "hung" limit: a case left waiting (the
// non-HTTP bytes the echo server never answers) is "hung" on both proxies, not whichever of
// the proxy's timeout and the test's timer fires first under load (a flake at load 12).
const T: &str = "  timeout connect 1s\n  timeout client 10s\n  timeout server 10s\n";

fn cfg(r: u16, m: u16, one: SocketAddr, two: SocketAddr) -> String {
    format!(
        "defaults\n{T}\
         frontend r\n  mode tcp\n  bind 127.0.0.1:{r}\n\
         \x20 tcp-request inspect-delay 1500ms\n\
         \x20 tcp-request content reject if !HTTP\n\
         \x20 tcp-request content accept if HTTP\n\
         \x20 use_backend two if {{ req.hdr(host) -i x.example }}\n\
         \x20 use_backend two if {{ path_beg /two }}\n\
         \x20 default_backend one\n\
         listen m\n  mode tcp\n  bind 127.0.0.1:{m}\n\
         \x20 tcp-request inspect-delay 1500ms\n\
         \x20 tcp-request content reject if {{ method DELETE }}\n\
         \x20 tcp-request content reject if {{ req.ver 1.0 }}\n\
         \x20 tcp-request content reject if {{ url_param(deny) 1 }}\n\
         \x20 tcp-request content reject if {{ base -m beg evil.example/ }}\n\
         \x20 tcp-request content reject if {{ req.cook(sid) bad }}\n\
         \x20 tcp-request content reject if {{ hdr_cnt(x-a) gt 1 }}\n\
         \x20 tcp-request content accept\n\
         \x20 server s {one}\n\
         backend one\n  mode tcp\n  server s {one}\n\
         backend two\n  mode tcp\n  server s {two}\n"
    )
}

/// Sends `parts` (each after its pause), half-closes when `close`, and reads the answer:
/// the first line the server echoed, "closed" for nothing, "hung" after 5 s.
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
        // Up to the first line: the echo server keeps the connection open.
        let mut buf = Vec::new();
        let mut chunk = [0u8; 512];
        while !buf.contains(&b'\n') {
            match s.read(&mut chunk).await {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        Some(buf)
    };
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Some(b)) if b.is_empty() => "closed".into(),
        Ok(Some(b)) => {
            let t = String::from_utf8_lossy(&b).into_owned();
            // The backend's name and the request line it received.
            t.lines().next().unwrap_or("").to_string()
        }
        Ok(None) => "failed".into(),
        Err(_) => "hung".into(),
    }
}

async fn run(r: u16, m: u16) -> Vec<String> {
    let (r, m) = (addr(r), addr(m));
    let a = tokio::join!(
        talk(
            r,
            &[(b"GET / HTTP/1.1\r\nHost: X.example\r\n\r\n", 0)],
            false
        ),
        talk(
            r,
            &[
                (b"GET /a HTTP/1.1\r\nHo", 0),
                (b"st: x.example\r\nUser-Agent: t\r\n\r\n", 300)
            ],
            false
        ),
        talk(r, &[(b"GET /two/x HTTP/1.1\r\nHost: y\r\n\r\n", 0)], false),
        talk(r, &[(b"GET / HTTP/1.1\r\nHost: y\r\n\r\n", 0)], false),
        talk(r, &[(b"SSH-2.0-OpenSSH_9.2\r\n", 0)], false),
        // Incomplete: the delay runs out (no HTTP: rejected).
        talk(r, &[(b"GET / HTTP/1.1\r\nHost: x.example\r\n", 0)], false),
        // Incomplete and half-closed: decided on what is there at once.
        talk(r, &[(b"GET / HTTP/1.1\r\nHost: x.example\r\n", 0)], true),
    );
    let b = tokio::join!(
        talk(m, &[(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n", 0)], false),
        talk(m, &[(b"DELETE /ok HTTP/1.1\r\nHost: a\r\n\r\n", 0)], false),
        talk(m, &[(b"GET /ok HTTP/1.0\r\n\r\n", 0)], false),
        talk(
            m,
            &[(b"GET /ok?a=2&deny=1 HTTP/1.1\r\nHost: a\r\n\r\n", 0)],
            false
        ),
        talk(
            m,
            &[(b"GET /x HTTP/1.1\r\nHost: evil.example\r\n\r\n", 0)],
            false
        ),
        talk(
            m,
            &[(
                b"GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1; sid=bad\r\n\r\n",
                0
            )],
            false
        ),
        talk(
            m,
            &[(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1, 2\r\n\r\n", 0)],
            false
        ),
        talk(
            m,
            &[(b"DEL", 0), (b"ETE /ok HTTP/1.1\r\nHost: a\r\n\r\n", 300)],
            false
        ),
        // Not HTTP: no rule matches, the last accepts.
        talk(m, &[(b"\x16\x03\x01\x00\x05hello", 0)], false),
    );
    vec![
        a.0, a.1, a.2, a.3, a.4, a.5, a.6, b.0, b.1, b.2, b.3, b.4, b.5, b.6, b.7, b.8,
    ]
}

#[tokio::test]
async fn http_fetches_on_raw_tcp_bytes_as_haproxy() {
    let one = echo("one").await;
    let two = echo("two").await;
    let (r, m) = (free_port(), free_port());
    let proxy = start(&cfg(r, m, one, two)).await;
    let ours = run(r, m).await;
    proxy.shutdown(Duration::from_secs(1)).await;
    // Not vacuous: routed on the Host header, waited for the second part, refused non-HTTP.
    assert_eq!(ours[0], "two:GET / HTTP/1.1", "{ours:?}");
    assert_eq!(ours[1], "two:GET /a HTTP/1.1", "waited: {ours:?}");
    assert_eq!(ours[3], "one:GET / HTTP/1.1", "{ours:?}");
    assert_eq!(ours[4], "closed", "{ours:?}");
    assert_eq!(ours[7], "one:GET /ok HTTP/1.1", "{ours:?}");
    assert_eq!(ours[8], "closed", "{ours:?}");
    assert_eq!(ours[14], "closed", "waited for the method: {ours:?}");

    let (hr, hm) = (free_port(), free_port());
    let Some(_haproxy) = Haproxy::start(&cfg(hr, hm, one, two), addr(hr)).await else {
        return;
    };
    assert!(wait_listening(addr(hm)).await);
    let theirs = run(hr, hm).await;
    assert_eq!(ours, theirs, "answers: fulcrum vs haproxy");
}
