//! Checks through a server's SOCKS4 proxy (`server ... socks4 ADDR:PORT`), run by the real
//! haproxy 2.6 and then by fulcrum on the same config against the same scripted proxies: one
//! that grants the request and then answers `+PONG` as the server would, one that denies it,
//! one that answers half a reply. `tcp-check connect via-socks4` (with and without a `port`),
//! a plain check under `check-via-socks4`, and `via-socks4` on a server without `socks4`
//! (haproxy then connects directly). Both must log the same `option log-health-checks` lines
//! and the proxies must receive the same requests (HAProxy's CONNECT with user id "HAProxy").

mod common;

use common::versus::{self, first_lines};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

#[derive(Clone, Copy)]
enum Proxy {
    /// Grants, then reads a line and answers `+PONG` (a plain connect: nothing more).
    Grant,
    Deny,
    /// Three bytes of the reply, then nothing until the check gives up.
    Short,
}

/// A scripted SOCKS4 proxy recording each request (the 8 bytes and the user id).
async fn proxy(kind: Proxy, seen: Seen) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut b = [0u8; 1];
                // 8 bytes, then the user id up to its NUL
                while req.len() < 9 || req.last() != Some(&0) {
                    match s.read(&mut b).await {
                        Ok(1) => req.push(b[0]),
                        _ => return,
                    }
                }
                seen.lock().expect("lock").push(req);
                match kind {
                    Proxy::Grant => {
                        let _ = s.write_all(&[0, 0x5a, 0, 0, 0, 0, 0, 0]).await;
                        let mut line = [0u8; 64];
                        if let Ok(n) = s.read(&mut line).await {
                            if n > 0 {
                                let _ = s.write_all(b"+PONG\r\n").await;
                            }
                        }
                    }
                    Proxy::Deny => {
                        let _ = s.write_all(&[0, 0x5b, 0, 0, 0, 0, 0, 0]).await;
                        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                    }
                    Proxy::Short => {
                        let _ = s.write_all(&[0, 0x5a, 0]).await;
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    }
                }
            });
        }
    });
    port
}

/// A server that answers `+PONG` to a line (for `via-socks4` without a `socks4`).
async fn pong() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut line = [0u8; 64];
                if let Ok(n) = s.read(&mut line).await {
                    if n > 0 {
                        let _ = s.write_all(b"+PONG\r\n").await;
                    }
                }
            });
        }
    });
    port
}

const BACKENDS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_through_socks4_as_haproxy() {
    if !versus::available("checks_through_socks4_as_haproxy", &[]) {
        return;
    }
    let tmp = versus::TempDir::new("socks4-checks");
    let seen: BTreeMap<&str, Seen> = ["grant", "deny", "short"]
        .into_iter()
        .map(|k| (k, Seen::default()))
        .collect();
    let grant = proxy(Proxy::Grant, seen["grant"].clone()).await;
    let deny = proxy(Proxy::Deny, seen["deny"].clone()).await;
    let short = proxy(Proxy::Short, seen["short"].clone()).await;
    let direct = pong().await;
    let syslog = versus::Syslog::bind();
    let srv = |target: &str, extra: &str| {
        format!("    server s {target} check inter 300 fall 2 rise 1{extra}\n")
    };
    let seq = "    option tcp-check\n    tcp-check connect via-socks4\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n";
    let mut text = versus::head(syslog.port(), "tcp", "600ms", "granted");
    text += &format!("backend granted\n{seq}");
    text += &srv("127.0.0.2:6379", &format!(" socks4 127.0.0.1:{grant}"));
    text += &format!("backend denied\n{seq}");
    text += &srv("127.0.0.2:6379", &format!(" socks4 127.0.0.1:{deny}"));
    text += &format!("backend shortreply\n{seq}");
    text += &srv("127.0.0.2:6379", &format!(" socks4 127.0.0.1:{short}"));
    text += "backend plain\n";
    text += &srv(
        "127.0.0.2:6380",
        &format!(" socks4 127.0.0.1:{grant} check-via-socks4"),
    );
    text += &format!("backend nosocks\n{seq}");
    text += &srv(&format!("127.0.0.1:{direct}"), "");
    text += "backend viaport\n    option tcp-check\n    tcp-check connect port 7000 via-socks4\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n";
    text += &srv("127.0.0.2:6379", &format!(" socks4 127.0.0.1:{grant}"));
    let done = |l: &[String]| first_lines(l).len() == BACKENDS;
    let quick = versus::Window {
        settle: std::time::Duration::ZERO,
        ..Default::default()
    };
    let take = || -> BTreeMap<String, BTreeSet<Vec<u8>>> {
        seen.iter()
            .map(|(k, v)| {
                let got = std::mem::take(&mut *v.lock().expect("lock"));
                (k.to_string(), got.into_iter().collect())
            })
            .collect()
    };
    let (theirs_raw, out) = versus::haproxy(&tmp.0, &text, &syslog, done, quick).await;
    let theirs_seen = take();
    // haproxy appends the text of whatever `errno` was left over to a denial, "(Message too
    // long)" in some runs and nothing in others: left out
    let stale = regex::Regex::new(r"deny the request \([^)]*\)").expect("re");
    let theirs: BTreeMap<String, String> = first_lines(&theirs_raw)
        .into_iter()
        .map(|(k, v)| (k, stale.replace(&v, "deny the request").into_owned()))
        .collect();
    assert_eq!(theirs.len(), BACKENDS, "{theirs_raw:#?}\n{out}");
    assert!(
        theirs["denied/s"].contains("SOCKS4 Proxy deny the request")
            && theirs["granted/s"].contains(" succeeded, "),
        "{theirs:#?}"
    );

    let ours = versus::fulcrum("haproxy.cfg", &text, done, quick).await;
    let ours_seen = take();
    assert_eq!(
        first_lines(&ours.lines),
        theirs,
        "the same log-health-checks lines"
    );
    assert!(
        theirs_seen["grant"].contains(b"\x04\x01\x18\xeb\x7f\x00\x00\x02HAProxy\x00".as_slice()),
        "{theirs_seen:?}"
    );
    assert_eq!(ours_seen, theirs_seen, "the same SOCKS4 requests");
}
