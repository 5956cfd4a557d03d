//! One way to run a check config side by side: the real haproxy 2.6 first (its
//! `option log-health-checks` lines read from a UDP syslog socket), then fulcrum's health
//! monitor on the same text (the same lines from its check results, its state lines from its
//! events). The `*_vs_haproxy` tests give the config, what "done" means and what they compare.
//!
//! The config's `global` section must log to `127.0.0.1:{syslog.port()}` (see [`Syslog`]).
//! Without haproxy (or another program a test needs) the test skips loudly, and fails under
//! `FULCRUM_REQUIRE_NETNS=1`.

#![allow(dead_code)]

use fulcrum_health::HealthMonitor;
use std::collections::{BTreeMap, BTreeSet};
use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

/// The head most check configs share: `global` logging to the test's syslog port with checks
/// not spread, `defaults` in `mode` with `option log-health-checks` and `timeout check
/// CHECK`, and a frontend (on a port nothing else uses) whose default backend is `backend`.
pub fn head(log_port: u16, mode: &str, check: &str, backend: &str) -> String {
    format!(
        "global\n    log 127.0.0.1:{log_port} local0\n    spread-checks 0\n\
         defaults\n    mode {mode}\n    log global\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check {check}\n    option log-health-checks\n\
         frontend fe\n    bind 127.0.0.1:{}\n    default_backend {backend}\n",
        super::closed_port()
    )
}

/// Whether haproxy and the other `tools` (program, Debian package) are installed: when not,
/// `test` skips loudly, or fails under `FULCRUM_REQUIRE_NETNS=1` (testlab's one rule).
pub fn available(test: &str, tools: &[(&str, &str)]) -> bool {
    std::iter::once(&("haproxy", "haproxy"))
        .chain(tools)
        .all(|(tool, package)| fulcrum_testlab::require::tool(test, tool, package))
}

/// The UDP syslog socket haproxy logs to.
pub struct Syslog {
    sock: UdpSocket,
}

impl Syslog {
    pub fn bind() -> Syslog {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("udp");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Syslog { sock }
    }

    pub fn port(&self) -> u16 {
        self.sock.local_addr().expect("addr").port()
    }

    /// The text of every message that comes until `until` (after the `]: ` of the tag).
    fn read_until(
        &self,
        until: Instant,
        lines: &mut Vec<String>,
        done: &dyn Fn(&[String]) -> bool,
    ) {
        let mut buf = [0u8; 4096];
        while Instant::now() < until && !done(lines) {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).to_string();
                if let Some((_, text)) = msg.split_once("]: ") {
                    lines.push(text.trim_end().to_string());
                }
            }
        }
    }
}

/// How long each side runs: until `done` holds (bounded by `within`), then `settle` more for
/// the state lines that follow the last check line.
#[derive(Clone, Copy)]
pub struct Window {
    pub within: Duration,
    pub settle: Duration,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            within: Duration::from_secs(8),
            settle: Duration::from_millis(1000),
        }
    }
}

/// Runs the real haproxy on `text` (written to `dir/haproxy.cfg`): the lines it logged, and
/// its output (for assertion messages). haproxy is killed and reaped before this returns, and
/// the servers get 400 ms to finish recording.
pub async fn haproxy(
    dir: &Path,
    text: &str,
    syslog: &Syslog,
    done: impl Fn(&[String]) -> bool,
    w: Window,
) -> (Vec<String>, String) {
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, text).expect("write cfg");
    let mut cmd = std::process::Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(&path);
    let haproxy = fulcrum_testlab::process::Child::spawn("haproxy", cmd, dir.join("haproxy.log"))
        .expect("haproxy runs");
    let mut lines = Vec::new();
    syslog.read_until(Instant::now() + w.within, &mut lines, &done);
    syslog.read_until(Instant::now() + w.settle, &mut lines, &|_| false);
    let output = haproxy.output();
    drop(haproxy);
    tokio::time::sleep(Duration::from_millis(400)).await;
    (lines, output)
}

/// Both sides of a comparison whose test server records what it saw: each side's first
/// log-health-checks line per server, and what the server recorded during its run.
pub struct Both<T> {
    pub theirs: BTreeMap<String, String>,
    pub theirs_seen: T,
    pub ours: BTreeMap<String, String>,
    pub ours_seen: T,
}

/// Runs haproxy, then fulcrum, on `text` until each logged a first line for `servers` servers
/// (no settling: checks stop once each server was checked), taking what `seen` recorded after
/// each. Fails, with haproxy's output, when haproxy did not check every server.
pub async fn run_both<T: Default>(
    dir: &Path,
    text: &str,
    syslog: &Syslog,
    servers: usize,
    seen: &std::sync::Mutex<T>,
) -> Both<T> {
    let done = |l: &[String]| first_lines(l).len() == servers;
    let quick = Window {
        settle: Duration::ZERO,
        ..Default::default()
    };
    let take = || std::mem::take(&mut *seen.lock().expect("lock"));
    let (theirs_raw, out) = haproxy(dir, text, syslog, done, quick).await;
    let theirs_seen = take();
    let theirs = first_lines(&theirs_raw);
    assert_eq!(theirs.len(), servers, "{theirs_raw:#?}\n{out}");
    let ours = fulcrum("haproxy.cfg", text, done, quick).await;
    Both {
        theirs,
        theirs_seen,
        ours: first_lines(&ours.lines),
        ours_seen: take(),
    }
}

/// What fulcrum's monitor said on the same config: the check results' log lines, and its
/// events (state changes with their lines).
pub struct Ours {
    pub lines: Vec<String>,
    pub events: Vec<fulcrum_health::HealthEvent>,
}

impl Ours {
    /// The events' lines: state changes, "has no server available!".
    pub fn event_lines(&self) -> Vec<String> {
        self.events
            .iter()
            .flat_map(|ev| std::iter::once(ev.log_line.clone()).chain(ev.no_server_line.clone()))
            .collect()
    }
}

/// Runs fulcrum's health monitor on `text` until `done` holds on its check lines (bounded),
/// then `settle` more; shut down, and the servers given 400 ms to finish recording.
pub async fn fulcrum(name: &str, text: &str, done: impl Fn(&[String]) -> bool, w: Window) -> Ours {
    let config = super::config(name, text);
    let (handle, mut events) = HealthMonitor::start(&config);
    let mut results = handle.check_results();
    let mut lines = Vec::new();
    let deadline = tokio::time::Instant::now() + w.within;
    while !done(&lines) {
        match tokio::time::timeout_at(deadline, results.recv()).await {
            Ok(Some(r)) => lines.extend(r.log_line),
            _ => break,
        }
    }
    tokio::time::sleep(w.settle).await;
    handle.shutdown().await;
    let mut ours_events = Vec::new();
    while let Ok(ev) = events.try_recv() {
        ours_events.push(ev);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    Ours {
        lines,
        events: ours_events,
    }
}

/// The first line per server that starts with `prefix` ("Health check for server ",
/// "Agent check for server "), its duration blanked: server "B/S" → line.
pub fn first_lines_of(lines: &[String], prefix: &str) -> BTreeMap<String, String> {
    let dur = regex::Regex::new(r"check duration: [0-9]+ms").expect("re");
    let mut out = BTreeMap::new();
    for l in lines {
        let Some(rest) = l.strip_prefix(prefix) else {
            continue;
        };
        let server = rest.split_whitespace().next().unwrap_or_default();
        out.entry(server.to_string())
            .or_insert_with(|| dur.replace(l, "check duration: Nms").into_owned());
    }
    out
}

/// [`first_lines_of`] the health check lines.
pub fn first_lines(lines: &[String]) -> BTreeMap<String, String> {
    first_lines_of(lines, "Health check for server ")
}

/// `Server B/S is UP|DOWN|stopping` lines, up to their first ". " (counts aside), sorted.
pub fn state_lines(lines: &[String]) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|l| {
            l.starts_with("Server ")
                && (l.contains(" is UP") || l.contains(" is DOWN") || l.contains(" is stopping"))
        })
        .map(|l| l.split(". ").next().unwrap_or_default().to_string())
        .collect()
}

/// A directory of the test's own under the temporary directory, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("fulcrum-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&p).expect("dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
