//! A tiny HTTP backend for check tests: a real listener on 127.0.0.1 whose behaviour can be
//! switched (200, 500, another body, hang) and which can be killed (port closed → refused)
//! and restarted on the same port. It counts the requests it received.

#![allow(dead_code)]

pub mod versus;

use fulcrum_config::Config;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const OK: u8 = 0;
pub const ERR500: u8 = 1;
pub const HANG: u8 = 2;

pub struct Backend {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    pub hits: Arc<AtomicU32>,
    body: Arc<Mutex<Vec<u8>>>,
    task: Option<JoinHandle<()>>,
}

impl Backend {
    pub async fn start(body: &[u8]) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind test backend");
        let addr = listener.local_addr().expect("local addr");
        let mut b = Backend {
            addr,
            mode: Arc::new(AtomicU8::new(OK)),
            hits: Arc::new(AtomicU32::new(0)),
            body: Arc::new(Mutex::new(body.to_vec())),
            task: None,
        };
        b.serve(listener);
        b
    }

    fn serve(&mut self, listener: TcpListener) {
        let (mode, hits, body) = (self.mode.clone(), self.hits.clone(), self.body.clone());
        self.task = Some(tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let (mode, hits, body) = (mode.clone(), hits.clone(), body.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    hits.fetch_add(1, Ordering::SeqCst);
                    let body = body.lock().map(|b| b.clone()).unwrap_or_default();
                    let head = match mode.load(Ordering::SeqCst) {
                        HANG => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                        ERR500 => "HTTP/1.0 500 Internal Server Error".to_string(),
                        _ => "HTTP/1.0 200 OK".to_string(),
                    };
                    let resp = format!(
                        "{head}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                    let _ = s.write_all(&body).await;
                    let _ = s.shutdown().await;
                });
            }
        }));
    }

    pub fn set_mode(&self, m: u8) {
        self.mode.store(m, Ordering::SeqCst);
    }
    pub fn set_body(&self, body: &[u8]) {
        if let Ok(mut b) = self.body.lock() {
            *b = body.to_vec();
        }
    }
    pub fn hits(&self) -> u32 {
        self.hits.load(Ordering::SeqCst)
    }
    /// Closes the listening socket: new connections are refused.
    pub async fn kill(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot re-bind {}: {e}", self.addr),
            }
        };
        self.serve(listener);
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Parses config text (HAProxy or keepalived dialect) and insists it is valid.
pub fn config(name: &str, text: &str) -> Config {
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source { name, text }]);
    assert!(
        loaded.is_ok(),
        "test config must be valid: {:?}",
        loaded.diagnostics
    );
    loaded.config
}

/// A port nothing listens on (bound then closed).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The next health event, within `within`.
pub async fn next_event(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<fulcrum_health::HealthEvent>,
    within: Duration,
) -> fulcrum_health::HealthEvent {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("a health event in time")
        .expect("monitor running")
}

/// No health event for `d`.
pub async fn no_event(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<fulcrum_health::HealthEvent>,
    d: Duration,
) {
    if let Ok(Some(e)) = tokio::time::timeout(d, rx.recv()).await {
        panic!("unexpected event: {}", e.log_line);
    }
}

/// The hex MD5 in keepalived's `genhash` output (with `-v` it also prints headers and an
/// MD5SUM line): the first 32-hex-digit word ending a line, lowercase.
pub fn genhash_digest(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .filter_map(|l| l.rsplit(['=', ' ']).next())
        .map(str::trim)
        .find(|w| w.len() == 32 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_lowercase)
}

/// `md5sum FILE`'s hex digest (the stand-in for genhash when keepalived is not installed).
pub fn md5sum(file: &std::path::Path) -> String {
    let out = std::process::Command::new("md5sum")
        .arg(file)
        .output()
        .expect("md5sum runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
