//! A quiet TLS keep-alive connection parks as a plain one does (`park`): its task ends, its
//! socket waits in the thread's lot with rustls's state beside it; its next request (from a
//! real `openssl s_client`, TLS 1.2 and 1.3) is served on the same session keys, and its
//! keep-alive timeout still closes it.

use super::park_tests::{parked, server};
use crate::park;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const CERT: &str = include_str!("../../tls/testdata/one.pem");

/// One `openssl s_client` keep-alive connection.
struct Client {
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr, version: &str) -> Client {
        let mut child = Command::new("openssl")
            .args(["s_client", "-quiet", version, "-connect", &addr.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("openssl s_client");
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            panic!("s_client's pipes");
        };
        Client {
            _child: child,
            stdin,
            stdout,
        }
    }

    /// Sends a request and reads its whole answer (`None`: the connection closed first).
    async fn request(&mut self, path: &str) -> Option<String> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        self.stdin.write_all(req.as_bytes()).await.ok()?;
        self.stdin.flush().await.ok()?;
        let mut got = Vec::new();
        let mut chunk = [0u8; 1024];
        while !got.ends_with(b"ok") {
            let read = self.stdout.read(&mut chunk);
            let n = tokio::time::timeout(Duration::from_secs(10), read)
                .await
                .expect("an answer in time")
                .ok()?;
            if n == 0 {
                return None;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        Some(String::from_utf8_lossy(&got).into_owned())
    }

    /// Whether the proxy closes the connection (s_client's output ends) within 5 s.
    async fn closed(&mut self) -> bool {
        let mut b = [0u8; 64];
        let read = self.stdout.read(&mut b);
        matches!(
            tokio::time::timeout(Duration::from_secs(5), read).await,
            Ok(Ok(0) | Err(_))
        )
    }
}

/// A TLS frontend (`ssl crt` of the test certificate, `timeout http-keep-alive` of
/// `keep_alive`) in front of [`server`], served on this thread as the listener serves it: the
/// handshake, then the HTTP session.
async fn tls_frontend(name: &str, keep_alive: &str) -> std::net::SocketAddr {
    let srv = server().await;
    let pem = std::env::temp_dir().join(format!("fulcrum-{name}-{}.pem", std::process::id()));
    std::fs::write(&pem, CERT).expect("write the certificate");
    let cfg = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "t",
        text: &format!(
            "defaults\n  mode http\n  timeout client 60s\n  timeout server 5s\n  timeout connect 1s\n\
             timeout http-keep-alive {keep_alive}\n\
             frontend f\n  bind 127.0.0.1:1 ssl crt {}\n  default_backend b\nbackend b\n  server s {srv}\n",
            pem.display()
        ),
    }])
    .config;
    let g = crate::state::build(&cfg, None).expect("build");
    let fe = g.frontends["f"].clone();
    let p = cfg.frontends().next().expect("frontend f");
    let tls = crate::tls::frontend(p, &cfg).expect("tls").remove(0).1;
    // Read into memory by now: nothing left behind in the temporary directory.
    let _ = std::fs::remove_file(&pem);
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        // Kept while the listener runs: a dropped sender reads as a stop.
        let _stop_tx = stop_tx;
        while let Ok((c, peer)) = l.accept().await {
            let (fe, tls, stop) = (fe.clone(), tls.clone(), stop.clone());
            tokio::spawn(async move {
                if let Ok(mut c) = tls.accept(c).await {
                    let _ = c.flush().await;
                    super::serve(fe, c, (peer, a), Default::default(), stop, None, ()).await;
                }
            });
        }
    });
    a
}

fn on_one_thread(test: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt")
        .block_on(test);
}

#[test]
fn quiet_tls_keep_alive_connections_are_parked_and_woken() {
    if !fulcrum_testlab::require::tool("tls park", "openssl", "openssl") {
        return;
    }
    on_one_thread(async {
        let a = tls_frontend("tls-park", "1500ms").await;
        for version in ["-tls1_2", "-tls1_3"] {
            let mut c = Client::connect(a, version).await;
            let first = c.request("/1").await.expect("answered");
            assert!(first.starts_with("HTTP/1.1 200"), "{version}: {first}");
            assert!(parked(1).await, "{version}: parked {}", park::parked());
            // Woken by its next request, served on the same TLS session, parked again.
            for n in 2..4 {
                let next = c.request(&format!("/{n}")).await;
                assert!(
                    next.as_deref()
                        .is_some_and(|r| r.starts_with("HTTP/1.1 200")),
                    "{version}: request {n} after parking: {next:?}"
                );
                assert!(parked(1).await, "{version}: parked again");
            }
            // `timeout http-keep-alive` closes it while parked.
            assert!(
                c.closed().await,
                "{version}: closed by the keep-alive timeout"
            );
            assert!(parked(0).await, "{version}: left the lot");
        }
    });
}

#[test]
fn many_idle_tls_connections_park_and_each_is_served_after() {
    if !fulcrum_testlab::require::tool("tls park many", "openssl", "openssl") {
        return;
    }
    on_one_thread(async {
        let a = tls_frontend("tls-park-many", "60s").await;
        let mut clients = Vec::new();
        for n in 0..24 {
            let version = if n % 2 == 0 { "-tls1_2" } else { "-tls1_3" };
            let mut c = Client::connect(a, version).await;
            assert!(c.request("/a").await.is_some(), "connection {n}");
            clients.push(c);
        }
        assert!(parked(clients.len()).await, "parked {}", park::parked());
        for (n, c) in clients.iter_mut().enumerate() {
            let r = c.request("/b").await;
            assert!(
                r.as_deref().is_some_and(|r| r.starts_with("HTTP/1.1 200")),
                "connection {n} after parking: {r:?}"
            );
        }
        assert!(
            parked(clients.len()).await,
            "parked again {}",
            park::parked()
        );
    });
}
