//! The side-by-side log harness: one config run by fulcrum and then by the real haproxy 2.6,
//! each with its own UDP syslog socket, its own recording backend, its own listening ports
//! and its own scratch directory; the test's `drive` sends the same traffic to each side and
//! returns what it read (log lines, answers), and the two results are compared by the test.
//!
//! Both sides are ready when `drive` starts: every port accepts, and the log lines the
//! readiness probes may have caused are drained. `haproxy`'s side is `None` only when haproxy
//! is not installed and FULCRUM_REQUIRE_NETNS is not set (a loud skip); under it, a missing
//! haproxy fails the test.

use super::{drain_syslog, free_port, start, wait_listening, Backend, Haproxy, TempDir};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// What a config is written from (the same shape on both sides).
pub struct Setup<'a> {
    /// The UDP syslog port the config logs to (`log 127.0.0.1:PORT local0`).
    pub syslog: u16,
    /// Free ports for the config's `bind` lines (all of them must be listened on).
    pub ports: &'a [u16],
    /// The side's own recording HTTP backend (see [`Backend`]).
    pub backend: SocketAddr,
    /// A scratch directory (unix sockets, files), removed at the end.
    pub dir: &'a Path,
}

impl Setup<'_> {
    /// `global` with the syslog target, and `defaults` in `mode` with `log global` and
    /// short timeouts: the header most log configs share.
    pub fn head(&self, mode: &str) -> String {
        format!(
            "global\n  log 127.0.0.1:{} local0\n\
             defaults\n  mode {mode}\n  log global\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n",
            self.syslog
        )
    }
}

/// One side of the comparison, as `drive` sees it.
pub struct Side {
    /// "fulcrum" or "haproxy" (for messages).
    pub who: &'static str,
    pub backend: Backend,
    pub ports: Vec<u16>,
    pub dir: TempDir,
    syslog: UdpSocket,
}

impl Side {
    pub fn port(&self, i: usize) -> u16 {
        self.ports[i]
    }

    pub fn addr(&self, i: usize) -> SocketAddr {
        v4(self.ports[i])
    }

    /// The next log line (within 5 s) without its syslog header.
    pub async fn line(&self) -> String {
        super::syslog_message(&self.syslog).await
    }

    /// The next whole syslog datagram within `wait` (header and `<PRI>` included).
    pub async fn datagram(&self, wait: Duration) -> Option<String> {
        let mut buf = vec![0u8; 8192];
        let n = tokio::time::timeout(wait, self.syslog.recv(&mut buf))
            .await
            .ok()?
            .ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Whether no log line comes within `wait`.
    pub async fn quiet_for(&self, wait: Duration) -> bool {
        self.datagram(wait).await.is_none()
    }

    /// Connects to port `i`, sends `raw`, and reads until the proxy closes (3 s at most).
    pub async fn exchange(&self, i: usize, raw: &[u8]) -> Vec<u8> {
        let mut s = TcpStream::connect(self.addr(i)).await.expect("connect");
        s.write_all(raw).await.expect("send");
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
        buf
    }

    /// [`Side::exchange`] of an HTTP request that must be answered, then its log line.
    pub async fn request_line(&self, i: usize, raw: &str) -> String {
        let answer = self.exchange(i, raw.as_bytes()).await;
        assert!(
            answer.starts_with(b"HTTP/1."),
            "{}: {raw:?} got {:?}",
            self.who,
            String::from_utf8_lossy(&answer)
        );
        self.line().await
    }
}

pub fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn side(who: &'static str, nports: usize, tag: &str) -> (Side, u16) {
    let syslog = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let port = syslog.local_addr().expect("addr").port();
    let side = Side {
        who,
        backend: Backend::start("app").await,
        ports: (0..nports).map(|_| free_port()).collect(),
        dir: TempDir::new(tag),
        syslog,
    };
    (side, port)
}

fn config(side: &Side, syslog: u16, cfg: &impl Fn(&Setup<'_>) -> String) -> String {
    cfg(&Setup {
        syslog,
        ports: &side.ports,
        backend: side.backend.addr,
        dir: &side.dir.0,
    })
}

async fn ready(side: &Side) {
    for p in &side.ports {
        assert!(
            wait_listening(v4(*p)).await,
            "{} does not listen on {p}",
            side.who
        );
    }
    // The readiness probes' connections may have logged lines: drop them.
    drain_syslog(&side.syslog).await;
}

/// Runs `drive` against fulcrum, then against haproxy, on the config `cfg` writes for each
/// side (`nports` listening ports). Returns (fulcrum's result, haproxy's result).
pub async fn side_by_side<T, Fut>(
    nports: usize,
    cfg: impl Fn(&Setup<'_>) -> String,
    drive: impl Fn(Arc<Side>) -> Fut,
) -> (T, Option<T>)
where
    Fut: Future<Output = T>,
{
    side_by_side_with(nports, |_| async {}, cfg, drive).await
}

/// [`side_by_side`] with `prepare` run for each side before its config is written (given
/// the side's scratch directory: e.g. to start a server of its own and write its address
/// there for `cfg` to read).
pub async fn side_by_side_with<T, Fut, Prep>(
    nports: usize,
    prepare: impl Fn(std::path::PathBuf) -> Prep,
    cfg: impl Fn(&Setup<'_>) -> String,
    drive: impl Fn(Arc<Side>) -> Fut,
) -> (T, Option<T>)
where
    Fut: Future<Output = T>,
    Prep: Future<Output = ()>,
{
    let (ours, syslog) = side("fulcrum", nports, "logs-f").await;
    prepare(ours.dir.0.clone()).await;
    let text = config(&ours, syslog, &cfg);
    let handle = start(&text).await;
    ready(&ours).await;
    let ours = Arc::new(ours);
    let got = drive(ours.clone()).await;
    handle.shutdown(Duration::from_secs(1)).await;

    let (theirs, syslog) = side("haproxy", nports, "logs-h").await;
    prepare(theirs.dir.0.clone()).await;
    let text = config(&theirs, syslog, &cfg);
    check_with_haproxy(&text, &theirs.dir.0);
    let Some(_haproxy) = Haproxy::start(&text, theirs.addr(0)).await else {
        return (got, None);
    };
    ready(&theirs).await;
    let want = drive(Arc::new(theirs)).await;
    (got, Some(want))
}

/// `haproxy -c` on the config (when haproxy is installed): a config haproxy refuses fails
/// the test with haproxy's own message, instead of a start that times out.
fn check_with_haproxy(text: &str, dir: &Path) {
    let path = dir.join("check.cfg");
    std::fs::write(&path, text).expect("write check.cfg");
    let Ok(out) = std::process::Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(&path)
        .output()
    else {
        return;
    };
    assert!(
        out.status.success(),
        "haproxy refuses the config:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts the two sides' lines are equal, one by one (fulcrum left, haproxy right). Lines
/// that differ only where haproxy still counted a connection its client had seen
/// closed (see [`closing_still_counted`]) are taken as equal, and said.
pub fn assert_same<T: PartialEq + std::fmt::Debug>(ours: &[T], theirs: &[T]) {
    for (i, (o, t)) in ours.iter().zip(theirs).enumerate() {
        if o != t && closing_still_counted(&format!("{o:?}"), &format!("{t:?}")) {
            eprintln!("line {i}: haproxy counted a connection its client saw closed: {t:?}");
            continue;
        }
        assert_eq!(o, t, "line {i}: fulcrum (left) vs haproxy (right)");
    }
    assert_eq!(
        ours.len(),
        theirs.len(),
        "as many lines: fulcrum {ours:?} vs haproxy {theirs:?}"
    );
}

/// Whether `theirs` is `ours` but for `%ac/%fc` of the `%ac/%fc/%bc/%sc/%rc` group, each one
/// more: haproxy frees a session (and counts it out of `actconn`/`feconn`) after closing its
/// socket, so on a loaded machine a client that read the close, and its next connection's
/// line, can come before that (`2/2/0/0/0` where it writes `1/1/0/0/0` otherwise: CI once).
pub fn closing_still_counted(ours: &str, theirs: &str) -> bool {
    let group = regex::Regex::new(r" ([0-9]+)/([0-9]+)(/[0-9]+/[0-9]+/\+?[0-9]+ )").expect("re");
    let (Some(o), Some(t)) = (group.captures(ours), group.captures(theirs)) else {
        return false;
    };
    let n = |c: &regex::Captures<'_>, i: usize| c[i].parse::<u64>().ok();
    let one_more = |i| n(&o, i).zip(n(&t, i)).is_some_and(|(a, b)| b == a + 1);
    if !(one_more(1) && one_more(2)) || o[3] != t[3] {
        return false;
    }
    let theirs = group.replace(theirs, format!(" {}/{}{}", &o[1], &o[2], &o[3]));
    theirs == ours
}

/// The `x-` fields of a head but `x-forwarded-for` (names lower-cased, values trimmed), in
/// order: what the rules of a comparison test set.
pub fn x_fields(head: &str) -> Vec<String> {
    x_fields_but(head, &[])
}

/// `x_fields` leaving out also the names in `skip` (lower-case).
pub fn x_fields_but(head: &str, skip: &[&str]) -> Vec<String> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| {
            let n = n.to_ascii_lowercase();
            n.starts_with("x-") && n != "x-forwarded-for" && !skip.contains(&n.as_str())
        })
        .map(|(n, v)| format!("{}={}", n.to_ascii_lowercase(), v.trim()))
        .collect()
}

/// A `httplog` line's status, bytes and termination state (`200 123 ----`).
pub fn status_bytes_state(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some(t) = words.iter().position(|w| w.matches('/').count() == 4) else {
        return format!("unparsed: {line}");
    };
    words
        .get(t + 1..t + 6)
        .map(|w| format!("{} {} {}", w[0], w[1], w[4]))
        .unwrap_or_else(|| format!("short: {line}"))
}

/// `127.0.0.1:N` written as `127.0.0.1:PORT` (client ports differ between the runs).
pub fn mask_ports(line: &str) -> String {
    regex::Regex::new(r"127\.0\.0\.1:[0-9]+")
        .expect("re")
        .replace_all(line, "127.0.0.1:PORT")
        .into_owned()
}

/// An `option httplog` or `log-format` line with the client ports, dates and timers masked
/// (`-1/-1/-1/-1/N` for a line whose request never reached a server).
pub fn mask_line(line: &str) -> String {
    let line = mask_ports(line);
    let date = regex::Regex::new(r"\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:.]+\]").expect("re");
    let line = date.replace_all(&line, "[DATE]");
    let groups = regex::Regex::new(r"-?[0-9]+/-?[0-9]+/-?[0-9]+/-?[0-9]+/[0-9]+").expect("re");
    // The first such group is the timers (then `%ac/%fc/%bc/%sc/%rc`).
    let line = groups.replacen(&line, 1, |c: &regex::Captures<'_>| {
        if c[0].starts_with("-1/-1/-1/-1/") {
            "-1/-1/-1/-1/N".to_string()
        } else {
            "TIMERS".to_string()
        }
    });
    line.into_owned()
}

/// A TCP server that reads `hello`, answers `world` and closes.
pub async fn hello_server() -> SocketAddr {
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
