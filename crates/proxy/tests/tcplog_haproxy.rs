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
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The config both proxies run; only the ports, paths and syslog port differ.
fn cfg(syslog: u16, ports: [u16; 3], dir: &Path, server: SocketAddr) -> String {
    let [plain, logged, nob] = ports;
    let d = dir.display();
    format!(
        "global\n  log 127.0.0.1:{syslog} local0\n\
         defaults\n  mode tcp\n  log global\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         listen plain\n  bind 127.0.0.1:{plain}\n  bind {d}/plain.sock\n  server s1 {server}\n\
         listen logged\n  option tcplog\n  bind 127.0.0.1:{logged}\n  bind {d}/logged.sock\n  server s1 {server}\n\
         frontend nob\n  option tcplog\n  bind 127.0.0.1:{nob}\n"
    )
}

/// A server that reads `hello` and answers `world`, then closes.
async fn server() -> SocketAddr {
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

async fn session<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S) {
    s.write_all(b"hello").await.expect("write");
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut got)).await;
    assert_eq!(got, b"world");
}

async fn recv_line(s: &tokio::net::UdpSocket) -> String {
    common::syslog_message(s).await
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

/// Runs the four sessions against a proxy listening on (`plain`, `logged`, `dir`) and returns
/// the masked log lines, in order, after the line of the readiness probe.
async fn lines(sys: &tokio::net::UdpSocket, ports: [u16; 3], dir: &Path) -> Vec<String> {
    let [plain, logged, nob] = ports;
    // The readiness probe (a connection to `logged` that sends nothing) is logged first.
    let probe = mask(&recv_line(sys).await, plain, logged);
    let mut out = vec![probe];
    for (tcp, port, sock) in [
        (true, plain, "plain.sock"),
        (false, plain, "plain.sock"),
        (true, logged, "logged.sock"),
        (false, logged, "logged.sock"),
    ] {
        if tcp {
            session(tokio::net::TcpStream::connect(v4(port)).await.expect("tcp")).await;
        } else {
            let path = dir.join(sock);
            session(tokio::net::UnixStream::connect(&path).await.expect("unix")).await;
        }
        out.push(mask(&recv_line(sys).await, plain, logged));
    }
    // A frontend without a backend: the connection is closed, logged `nob/<NOSRV>`.
    let mut c = tokio::net::TcpStream::connect(v4(nob)).await.expect("tcp");
    let _ = c.write_all(b"hello").await;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), c.read_to_end(&mut rest)).await;
    assert!(rest.is_empty());
    out.push(mask(&recv_line(sys).await, plain, logged));
    out
}

#[tokio::test]
async fn tcp_log_lines_match_haproxy() {
    let srv = server().await;
    let hsys = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let fsys = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let (hsport, fsport) = (
        hsys.local_addr().expect("a").port(),
        fsys.local_addr().expect("a").port(),
    );
    let hdir = TempDir::new("tcplog-h");
    let fdir = TempDir::new("tcplog-f");
    let hports = [free_port(), free_port(), free_port()];
    let fports = [free_port(), free_port(), free_port()];
    let (hl, fl) = (hports[1], fports[1]);

    let Some(_h) = Haproxy::start(&cfg(hsport, hports, &hdir.0, srv), v4(hl)).await else {
        assert!(
            std::env::var("FULCRUM_REQUIRE_NETNS").is_err(),
            "haproxy is required for this comparison under FULCRUM_REQUIRE_NETNS=1"
        );
        return;
    };
    let want = lines(&hsys, hports, &hdir.0).await;

    let f = start(&cfg(fsport, fports, &fdir.0, srv)).await;
    assert!(wait_listening(v4(fl)).await);
    let got = lines(&fsys, fports, &fdir.0).await;
    f.shutdown(Duration::from_secs(1)).await;

    // Not vacuous: the lines say what the formats say.
    assert!(want[0].contains("logged logged/s1"), "{}", want[0]);
    let want = &want[1..];
    let got = &got[1..];
    assert_eq!(
        want[0],
        "Connect from 127.0.0.1:CPORT to 127.0.0.1:PLAIN (plain/TCP)"
    );
    assert_eq!(want[1], "Connect to unix:2 (plain/TCP)");
    assert!(
        want[2].starts_with("127.0.0.1:CPORT [DATE] logged logged/s1 TW/TC/TT 5 -- "),
        "{}",
        want[2]
    );
    assert!(
        want[3].starts_with("unix:2 [DATE] logged logged/s1 TW/TC/TT 5 -- "),
        "{}",
        want[3]
    );
    assert_eq!(
        want[4],
        "127.0.0.1:CPORT [DATE] nob nob/<NOSRV> TW/TC/TT 0 SC 1/1/0/0/0 0/0"
    );
    assert_eq!(want.len(), got.len());
    for (h, f) in want.iter().zip(got) {
        assert_eq!(f, h, "fulcrum's line (left) differs from haproxy's (right)");
    }
}
