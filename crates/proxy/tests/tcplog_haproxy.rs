//! TCP-mode log lines are the real HAProxy's: the same config run by both proxies, each
//! logging to a UDP syslog socket of the test, the same client sessions (over TCP and over a
//! unix socket), and the lines compared field by field once the values that must differ
//! (client ports, dates, timers, the proxies' own ports and socket paths) are masked.
//!
//! Covers the two formats a TCP frontend writes: `option tcplog` (`backend/server`, a unix
//! client as `unix:ID`) and the default one (`Connect from SRC:PORT to DST:PORT`, where DST
//! is the address the client connected to, and `Connect to unix:ID` for a unix client), and
//! a TCP frontend without a backend (`fe/<NOSRV>`, `SC`).

mod common;
use common::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The config both proxies run; only the ports, paths and syslog port differ.
fn cfg(s: &Setup<'_>, server: std::net::SocketAddr) -> String {
    let [plain, logged, nob] = [s.ports[0], s.ports[1], s.ports[2]];
    let d = s.dir.display();
    format!(
        "{}listen plain\n  bind 127.0.0.1:{plain}\n  bind {d}/plain.sock\n  server s1 {server}\n\
         listen logged\n  option tcplog\n  bind 127.0.0.1:{logged}\n  bind {d}/logged.sock\n  server s1 {server}\n\
         frontend nob\n  option tcplog\n  bind 127.0.0.1:{nob}\n",
        s.head("tcp")
    )
}

async fn session<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S) {
    s.write_all(b"hello").await.expect("write");
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut got)).await;
    assert_eq!(got, b"world");
}

/// Masks what legitimately differs between the two runs.
fn mask(line: &str, plain: u16, logged: u16) -> String {
    let re_client = regex::Regex::new(r"127\.0\.0\.1:[0-9]+ ").expect("re");
    let re_date = regex::Regex::new(r"\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:.]+\]").expect("re");
    let re_timers = regex::Regex::new(r" -?[0-9]+/-?[0-9]+/[0-9]+ ").expect("re");
    let line = line
        .replace(&format!("127.0.0.1:{plain} "), "127.0.0.1:PLAIN ")
        .replace(&format!("127.0.0.1:{logged} "), "127.0.0.1:LOGGED ");
    let line = re_date.replace_all(&line, "[DATE]");
    let line = re_timers.replace_all(&line, " TW/TC/TT ");
    // `actconn` (the first of the five counts) includes a session that has just logged and is
    // still closing: a race on a loaded machine (seen in a CI dry run: 2 where haproxy said 1).
    let re_act = regex::Regex::new(r" [0-9]+(/[0-9]+/[0-9]+/[0-9]+/[0-9]+ )").expect("re");
    let line = re_act.replace_all(&line, " A$1");
    // Client ports: every `127.0.0.1:N ` left that is not a proxy's port.
    re_client
        .replace_all(&line, |c: &regex::Captures<'_>| {
            let m = &c[0];
            if m.contains("PLAIN") || m.contains("LOGGED") {
                m.to_string()
            } else {
                "127.0.0.1:CPORT ".to_string()
            }
        })
        .into_owned()
}

/// Runs the sessions against a side and returns the masked log lines, in order: a
/// connection that sends nothing, then four sessions (TCP and unix, each listen), then one
/// to a frontend without a backend.
async fn lines(side: Arc<Side>) -> Vec<String> {
    let (plain, logged) = (side.port(0), side.port(1));
    let empty = tokio::net::TcpStream::connect(side.addr(1))
        .await
        .expect("tcp");
    drop(empty);
    let mut out = vec![mask(&side.line().await, plain, logged)];
    for (tcp, i, sock) in [
        (true, 0, "plain.sock"),
        (false, 0, "plain.sock"),
        (true, 1, "logged.sock"),
        (false, 1, "logged.sock"),
    ] {
        if tcp {
            session(
                tokio::net::TcpStream::connect(side.addr(i))
                    .await
                    .expect("tcp"),
            )
            .await;
        } else {
            let path = side.dir.0.join(sock);
            session(tokio::net::UnixStream::connect(&path).await.expect("unix")).await;
        }
        out.push(mask(&side.line().await, plain, logged));
    }
    // A frontend without a backend: the connection is closed, logged `nob/<NOSRV>`.
    assert!(side.exchange(2, b"hello").await.is_empty());
    out.push(mask(&side.line().await, plain, logged));
    out
}

#[tokio::test]
async fn tcp_log_lines_match_haproxy() {
    let srv = hello_server().await;
    let (got, want) = side_by_side(3, |s| cfg(s, srv), lines).await;
    // Not vacuous: the lines say what the formats say.
    assert!(got[0].contains("logged logged/s1"), "{}", got[0]);
    assert_eq!(
        got[1],
        "Connect from 127.0.0.1:CPORT to 127.0.0.1:PLAIN (plain/TCP)"
    );
    assert_eq!(got[2], "Connect to unix:2 (plain/TCP)");
    assert!(
        got[3].starts_with("127.0.0.1:CPORT [DATE] logged logged/s1 TW/TC/TT 5 -- "),
        "{}",
        got[3]
    );
    assert!(
        got[4].starts_with("unix:2 [DATE] logged logged/s1 TW/TC/TT 5 -- "),
        "{}",
        got[4]
    );
    assert_eq!(
        got[5],
        "127.0.0.1:CPORT [DATE] nob nob/<NOSRV> TW/TC/TT 0 SC A/1/0/0/0 0/0"
    );
    if let Some(want) = want {
        // The connection that sends nothing: both name the server, but its termination state
        // is a race on both sides (haproxy writes `0 CC` when the client's close arrives
        // before its server connection is up, else `5 --` as the server answers the close),
        // so it is not compared field by field.
        assert!(want[0].contains("logged logged/s1"), "{}", want[0]);
        assert_same(&got[1..], &want[1..]);
    }
}
