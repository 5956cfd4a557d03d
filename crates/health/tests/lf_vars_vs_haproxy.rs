//! The sample language inside checks, run by the real haproxy 2.6 and then by fulcrum on the
//! same config against the same real sockets: `tcp-check set-var(check.x)` / `unset-var`,
//! `connect port var(...)`, `send-lf` / `send-binary-lf` with `%[...]`, `expect ... on-success
//! / on-error "%[res.payload(...)]"`, `status-code res.payload(0,3)`, and `http-check set-var`
//! with `send uri-lf / body-lf`, `http-check expect` with `ok-status`, `error-status`,
//! `on-success` / `on-error "%[status]"` and `status-code`. Each server must receive the same bytes from both, and both
//! must log the same `option log-health-checks` lines (durations aside) and the same UP/DOWN.
//! Without haproxy the test skips loudly, and fails under FULCRUM_REQUIRE_NETNS=1.

mod common;

use common::config;
use fulcrum_health::HealthMonitor;
use std::collections::{BTreeMap, BTreeSet};
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

#[derive(Clone, Copy)]
enum Kind {
    /// Reads a line, answers `+PONG`.
    Pong,
    /// An SMTP banner on connect.
    Banner,
    /// Reads an HTTP request (head and `content-length` body), answers 200.
    Http,
}

async fn read_until(s: &mut tokio::net::TcpStream, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !done(&got) {
        match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    got
}

/// A complete HTTP request: the head, then `content-length` bytes.
fn http_complete(b: &[u8]) -> bool {
    let Some(end) = b.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&b[..end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    b.len() >= end + 4 + len
}

async fn server(kind: Kind, seen: Seen) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let record = |b: Vec<u8>| seen.lock().expect("lock").push(b);
                match kind {
                    Kind::Pong => {
                        let got = read_until(&mut s, |b| b.ends_with(b"\n")).await;
                        if !got.is_empty() {
                            record(got);
                            let _ = s.write_all(b"+PONG\r\n").await;
                        }
                    }
                    Kind::Banner => {
                        let _ = s.write_all(b"220 mx.test ESMTP ready\r\n").await;
                        let _ = read_until(&mut s, |_| false).await;
                    }
                    Kind::Http => {
                        let got = read_until(&mut s, http_complete).await;
                        if !got.is_empty() {
                            record(got);
                            let _ = s
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                                .await;
                        }
                    }
                }
            });
        }
    });
    port
}

fn cfg(log_port: u16, pong: u16, banner: u16, http: u16, other_pong: u16) -> String {
    let srv = |port: u16| format!("    server s 127.0.0.1:{port} check inter 300 fall 2 rise 1\n");
    let mut c = format!(
        "global\n    log 127.0.0.1:{log_port} local0\n    spread-checks 0\n\
         defaults\n    mode tcp\n    log global\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 600ms\n    option log-health-checks\n\
         frontend fe\n    bind 127.0.0.1:{bind}\n    default_backend vars\n",
        bind = common::closed_port()
    );
    // the server line names another port: the check goes where the variable says
    c += &format!(
        "backend vars\n    option tcp-check\n    tcp-check set-var(check.port) int({pong})\n    tcp-check connect port var(check.port)\n    tcp-check set-var(check.cmd) str(PING)\n    tcp-check send-lf \"%[var(check.cmd)] %[var(check.port)]\\r\\n\"\n    tcp-check expect string +PONG on-success \"got %[res.payload(0,5)]\"\n"
    );
    c += &srv(other_pong);
    c += "backend binlf\n    option tcp-check\n    tcp-check set-var(check.hex) str(50494e47)\n    tcp-check send-binary-lf \"%[var(check.hex)]0d0a\"\n    tcp-check expect string +PONG\n";
    c += &srv(pong);
    c += "backend unset\n    option tcp-check\n    tcp-check set-var(check.x) str(A)\n    tcp-check unset-var(check.x)\n    tcp-check send-lf \"X%[var(check.x)]Y\\r\\n\"\n    tcp-check expect string +PONG\n";
    c += &srv(pong);
    c += "backend code\n    option tcp-check\n    tcp-check expect rstring ^220 status-code res.payload(0,3) on-success \"banner %[res.payload(4,7)]\"\n";
    c += &srv(banner);
    c += "backend codefail\n    option tcp-check\n    tcp-check expect string 250 status-code res.payload(0,3) error-status L7STS on-error \"said %[res.payload(0,3)]\"\n";
    c += &srv(banner);
    c += "backend httplf\n    option httpchk\n    http-check set-var(check.path) str(/lf)\n    http-check send meth POST uri-lf \"%[var(check.path)]?x=1\" body-lf \"n=%[var(check.path)]\"\n    http-check expect status 200\n";
    c += &srv(http);
    c += "backend condpass\n    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG ok-status L7OKC\n";
    c += &srv(pong);
    c += "backend httpok\n    option httpchk GET /ok\n    http-check expect status 200 ok-status L4OK on-success \"st=%[status]\"\n";
    c += &srv(http);
    c += "backend httpfail\n    option httpchk GET /fail\n    http-check expect status 500 error-status L7STS on-error \"got %[status]\" status-code int(599)\n";
    c += &srv(http);
    c
}

const BACKENDS: usize = 9;

/// `Health check for server B/S ...` lines, first per server, durations blanked.
fn first_lines(lines: &[String]) -> BTreeMap<String, String> {
    let dur = regex::Regex::new(r"check duration: [0-9]+ms").expect("re");
    let mut out = BTreeMap::new();
    for l in lines {
        let Some(rest) = l.strip_prefix("Health check for server ") else {
            continue;
        };
        let server = rest.split_whitespace().next().unwrap_or_default();
        out.entry(server.to_string())
            .or_insert_with(|| dur.replace(l, "check duration: Nms").into_owned());
    }
    out
}

/// `Server B/S is UP|DOWN|stopping` lines, sorted, counts aside (`ok-status L7OKC` puts an UP
/// server in NOLB, as a 404 does under `disable-on-404`).
fn state_lines(lines: &[String]) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|l| {
            l.starts_with("Server ")
                && (l.contains(" is UP") || l.contains(" is DOWN") || l.contains(" is stopping"))
        })
        .map(|l| l.split(". ").next().unwrap_or_default().to_string())
        .collect()
}

fn haproxy_available() -> bool {
    let found = std::process::Command::new("haproxy")
        .arg("-v")
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() != Ok("1"),
            "haproxy is required under FULCRUM_REQUIRE_NETNS=1 (scripts/install-deps.sh installs it)"
        );
        eprintln!("SKIPPED: haproxy is not installed; nothing to compare with");
    }
    found
}

fn take(seen: &BTreeMap<&str, Seen>) -> BTreeMap<String, BTreeSet<Vec<u8>>> {
    seen.iter()
        .map(|(k, v)| {
            let got: BTreeSet<Vec<u8>> = std::mem::take(&mut *v.lock().expect("lock"))
                .into_iter()
                .collect();
            (k.to_string(), got)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_language_in_checks_as_haproxy() {
    if !haproxy_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fulcrum-lf-checks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut seen: BTreeMap<&str, Seen> = BTreeMap::new();
    for k in ["pong", "other_pong", "http"] {
        seen.insert(k, Seen::default());
    }
    let pong = server(Kind::Pong, seen["pong"].clone()).await;
    let other_pong = server(Kind::Pong, seen["other_pong"].clone()).await;
    let banner = server(Kind::Banner, Seen::default()).await;
    let http = server(Kind::Http, seen["http"].clone()).await;
    let syslog = UdpSocket::bind("127.0.0.1:0").expect("udp");
    syslog
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let text = cfg(
        syslog.local_addr().expect("addr").port(),
        pong,
        banner,
        http,
        other_pong,
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, &text).expect("write cfg");

    let mut cmd = std::process::Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(&path);
    let haproxy = fulcrum_testlab::process::Child::spawn("haproxy", cmd, dir.join("haproxy.log"))
        .expect("haproxy runs");
    let mut theirs_raw = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut settle: Option<Instant> = None;
    while Instant::now() < deadline && settle.is_none_or(|s| Instant::now() < s) {
        if let Ok(n) = syslog.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            if let Some((_, t)) = msg.split_once("]: ") {
                theirs_raw.push(t.trim_end().to_string());
            }
        }
        if settle.is_none() && first_lines(&theirs_raw).len() == BACKENDS {
            settle = Some(Instant::now() + Duration::from_millis(1000));
        }
    }
    let out = haproxy.output();
    drop(haproxy);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let theirs_seen = take(&seen);
    let theirs = first_lines(&theirs_raw);
    assert_eq!(theirs.len(), BACKENDS, "{theirs_raw:#?}\n{out}");

    let c = config("haproxy.cfg", &text);
    let (health, mut events) = HealthMonitor::start(&c);
    let mut results = health.check_results();
    let mut ours_raw = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while first_lines(&ours_raw).len() < BACKENDS {
        match tokio::time::timeout_at(deadline, results.recv()).await {
            Ok(Some(r)) => ours_raw.extend(r.log_line),
            _ => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    health.shutdown().await;
    let mut ours_events = Vec::new();
    while let Ok(ev) = events.try_recv() {
        ours_events.push(ev.log_line);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let ours_seen = take(&seen);

    assert_eq!(
        first_lines(&ours_raw),
        theirs,
        "the same log-health-checks lines"
    );
    let theirs_states = state_lines(&theirs_raw);
    assert!(
        theirs_states
            .iter()
            .any(|l| l.starts_with("Server condpass/s is stopping")),
        "haproxy: L7OKC puts the server in NOLB: {theirs_states:?}"
    );
    assert_eq!(
        state_lines(&ours_events),
        theirs_states,
        "the same state changes"
    );
    for (name, got) in &theirs_seen {
        // `vars` connects where its variable says, never to the server line's port
        assert_eq!(
            got.is_empty(),
            *name == "other_pong",
            "{name} checked by haproxy: {got:?}"
        );
        assert_eq!(&ours_seen[name], got, "{name}: the same bytes from both");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
