//! Helpers shared by the integration tests that drive a real `fulcrum run` child: a guard that
//! kills it, a free port, a one-shot HTTP GET, and a stderr reader to wait for log lines.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use fulcrum_testlab::ports::free_port;

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Running(pub Child);

impl Running {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One request on a new connection (`Connection: close`); the whole response as text.
pub fn get(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// A scratch directory unique to this test process and `tag`, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("fulcrum-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write scratch file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `fulcrum run -f cfg` with its stderr lines sent to a channel.
pub struct Fulcrum {
    pub child: Running,
    lines: mpsc::Receiver<(Instant, String)>,
    /// Lines read while waiting for another one, searched first by the next `wait_line`.
    backlog: std::cell::RefCell<std::collections::VecDeque<(Instant, String)>>,
    /// Every line read so far, for failure messages.
    all: std::cell::RefCell<Vec<String>>,
}

impl Fulcrum {
    /// Starts `fulcrum run -f cfg` and waits (bounded) for "fulcrum started".
    pub fn start(cfg: &Path) -> Fulcrum {
        Self::start_logging(cfg, "info")
    }

    /// [`start`](Self::start) with `FULCRUM_LOG=filter` (e.g. `info,fulcrum_peers=debug`).
    pub fn start_logging(cfg: &Path, filter: &str) -> Fulcrum {
        Self::start_full(cfg, filter, None)
    }

    /// [`start_logging`](Self::start_logging) with the control socket at `control`.
    pub fn start_full(cfg: &Path, filter: &str, control: Option<&Path>) -> Fulcrum {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fulcrum"));
        cmd.arg("run");
        if let Some(c) = control {
            cmd.arg("--control").arg(c);
        }
        let mut child = cmd
            .args(["-f", cfg.to_str().expect("utf-8 path")])
            .env("FULCRUM_LOG", filter)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start fulcrum");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        let f = Fulcrum {
            child: Running(child),
            lines: rx,
            backlog: Default::default(),
            all: Default::default(),
        };
        f.wait_line("fulcrum started", Duration::from_secs(20))
            .expect("fulcrum started");
        f
    }

    /// Every line fulcrum wrote so far (for failure messages).
    pub fn log_text(&self) -> String {
        while let Ok(l) = self.lines.try_recv() {
            self.all.borrow_mut().push(l.1.clone());
            self.backlog.borrow_mut().push_back(l);
        }
        self.all.borrow().join("\n")
    }

    /// The first line not yet returned containing `needle` (lines passed over while waiting
    /// for another line count too), with when it was read; None after `within`.
    pub fn wait_line(&self, needle: &str, within: Duration) -> Option<(Instant, String)> {
        {
            let mut backlog = self.backlog.borrow_mut();
            if let Some(i) = backlog.iter().position(|(_, l)| l.contains(needle)) {
                return backlog.remove(i);
            }
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((t, l)) if l.contains(needle) => {
                    self.all.borrow_mut().push(l.clone());
                    return Some((t, l));
                }
                Ok(other) => {
                    self.all.borrow_mut().push(other.1.clone());
                    self.backlog.borrow_mut().push_back(other);
                }
                Err(_) => return None,
            }
        }
    }
}

/// A demo server made by fulcrum itself: every request answered `status` with body `name`
/// (HAProxy's `http-request return`), on 127.0.0.1:`port`.
pub fn app_server(scratch: &Scratch, name: &str, port: u16, status: u16) -> Fulcrum {
    let cfg = scratch.write(
        &format!("{name}-{status}.cfg"),
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend {name}\n bind 127.0.0.1:{port}\n\
             http-request return status {status} content-type text/plain string {name}\n"
        ),
    );
    Fulcrum::start(&cfg)
}

/// A test server on `listener`: each connection (a thread of its own) reads one request head
/// and gets `answer(head)` written back. Runs until the test process ends.
pub fn head_server(
    listener: std::net::TcpListener,
    answer: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static,
) {
    let answer = std::sync::Arc::new(answer);
    for conn in listener.incoming() {
        let Ok(mut c) = conn else { continue };
        let answer = answer.clone();
        std::thread::spawn(move || {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut b = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut b) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&b[..n]),
                }
            }
            let _ = c.write_all(&answer(&String::from_utf8_lossy(&head)));
        });
    }
}

/// A request head's header fields as `name: value` lines, names lower-cased, in order.
pub fn header_lines(head: &str) -> String {
    let mut out = String::new();
    for l in head.lines().skip(1).filter(|l| !l.is_empty()) {
        let (n, v) = l.split_once(':').unwrap_or((l, ""));
        out.push_str(&format!(
            "{}: {}\n",
            n.trim().to_ascii_lowercase(),
            v.trim()
        ));
    }
    out
}

/// `show stat` on the stats socket `sock`: every row in order, as (column name, value) pairs.
pub fn show_stat(sock: &Path) -> Vec<Vec<(String, String)>> {
    let mut s = std::os::unix::net::UnixStream::connect(sock).expect("stats socket");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"show stat\n").expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let mut lines = out.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The value of column `col` in a [`show_stat`] row ("" when the row has none).
pub fn stat_field<'a>(row: &'a [(String, String)], col: &str) -> &'a str {
    row.iter()
        .find(|(h, _)| h == col)
        .map_or("", |(_, v)| v.as_str())
}

/// `show stat`'s columns `cols` of the row PROXY/SVNAME (panics when there is no such row
/// or column).
pub fn stat(sock: &Path, proxy: &str, svname: &str, cols: &[&str]) -> Vec<String> {
    let rows = show_stat(sock);
    let row = rows
        .iter()
        .find(|r| stat_field(r, "pxname") == proxy && stat_field(r, "svname") == svname)
        .unwrap_or_else(|| panic!("no {proxy}/{svname} row in: {rows:?}"));
    cols.iter()
        .map(|c| {
            assert!(row.iter().any(|(h, _)| h == c), "no {c} column");
            stat_field(row, c).to_string()
        })
        .collect()
}

/// One GET of `path` on its own connection (`Connection: close`): (status, body).
pub fn get_status(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .expect("send");
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    let status = all.split(' ').nth(1).unwrap_or("").to_string();
    let body = all
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
