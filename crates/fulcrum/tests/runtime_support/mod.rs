//! Shared helpers of the runtime socket and `fulcrum status` tests: counting HTTP servers,
//! a `fulcrum run` child that is always killed, runtime API queries over a plain UnixStream or
//! `socat`, and the "tool missing: skip loudly unless FULCRUM_REQUIRE_NETNS=1" rule.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use fulcrum_testlab::ports::free_port;

#[allow(unused_imports)]
pub use fulcrum_testlab::require::tool;

/// An HTTP/1.1 server on 127.0.0.1 answering its name, counting requests per path
/// (`/health` for checks, anything else for traffic). Stops when dropped.
pub struct CountingServer {
    pub name: String,
    pub port: u16,
    counts: Arc<Mutex<HashMap<String, u64>>>,
    stop: Arc<AtomicBool>,
}

impl CountingServer {
    pub fn start(name: &str) -> CountingServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let counts: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s, n) = (counts.clone(), stop.clone(), name.to_string());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (c, n) = (c.clone(), n.clone());
                        std::thread::spawn(move || serve(conn, &n, &c));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        CountingServer {
            name: name.to_string(),
            port,
            counts,
            stop,
        }
    }

    pub fn count(&self, path: &str) -> u64 {
        self.counts
            .lock()
            .map(|c| c.get(path).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Requests other than health checks.
    pub fn traffic(&self) -> u64 {
        self.counts
            .lock()
            .map(|c| {
                c.iter()
                    .filter(|(p, _)| p.as_str() != "/health")
                    .map(|(_, n)| n)
                    .sum()
            })
            .unwrap_or(0)
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(conn: TcpStream, name: &str, counts: &Mutex<HashMap<String, u64>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(mut write) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut close = false;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h.to_ascii_lowercase().starts_with("connection: close") {
                close = true;
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
        }
        if let Ok(mut c) = counts.lock() {
            *c.entry(path).or_default() += 1;
        }
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{name}",
            name.len()
        );
        if write.write_all(resp.as_bytes()).is_err() || close {
            return;
        }
    }
}

/// One request through the proxy; the body (the server's name), or None.
pub fn get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /app HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    if !out.starts_with("HTTP/1.1 200") {
        return None;
    }
    out.split("\r\n\r\n").nth(1).map(str::to_string)
}

/// `n` requests; how many each server name answered.
pub fn distribution(port: u16, n: usize) -> HashMap<String, usize> {
    let mut d = HashMap::new();
    for _ in 0..n {
        let who = get(port).unwrap_or_else(|| "<failed>".to_string());
        *d.entry(who).or_default() += 1;
    }
    d
}

/// A `fulcrum run` child with its own directory; killed and cleaned up on drop.
pub struct Fulcrum {
    pub child: fulcrum_testlab::process::Child,
    pub dir: PathBuf,
    pub cfg: PathBuf,
    pub control: PathBuf,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A scratch directory (a haproxy side's config and sockets, certificate or map files),
/// removed when dropped as a [`Fulcrum`]'s own (kept under FULCRUM_KEEP_TEST_LOGS=1).
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(test: &str) -> Scratch {
        Scratch(Fulcrum::dir(test))
    }
}

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var("FULCRUM_KEEP_TEST_LOGS").as_deref() != Ok("1") {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Fulcrum {
    pub fn dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "fulcrum-{test}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    /// Starts `fulcrum run -f DIR/h.cfg --control DIR/control.sock`, with `config` written first.
    pub fn start(dir: PathBuf, config: &str) -> Fulcrum {
        Fulcrum::start_files(dir, &[("h.cfg", config)], None)
    }

    /// Starts `fulcrum run -f FILE... --control DIR/control.sock` with the files written in
    /// `dir` first (the first one is `cfg`), inside network namespace `netns` if given.
    pub fn start_files(dir: PathBuf, files: &[(&str, &str)], netns: Option<&str>) -> Fulcrum {
        let control = dir.join("control.sock");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_fulcrum")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_fulcrum")),
        };
        cmd.arg("run");
        let mut paths = Vec::new();
        for (name, text) in files {
            let p = dir.join(name);
            std::fs::write(&p, text).expect("write config");
            cmd.arg("-f").arg(&p);
            paths.push(p);
        }
        cmd.arg("--control").arg(&control);
        let child = fulcrum_testlab::process::Child::spawn("fulcrum", cmd, dir.join("fulcrum.log"))
            .expect("spawn fulcrum");
        Fulcrum {
            child,
            dir,
            cfg: paths.swap_remove(0),
            control,
        }
    }

    /// `fulcrum status [--json]` against this process: (exit success, stdout, stderr).
    pub fn status(&self, json: bool) -> (bool, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fulcrum"));
        cmd.args(["status", "--control"]).arg(&self.control);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().expect("fulcrum status");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts fulcrum with the config `make(dir)` returns (with fresh ports each call), and
    /// waits for `DIR/socket` to answer; a port taken meanwhile by another process (the
    /// free-port race) is retried with new ports, twice at most.
    pub fn start_bound(test: &str, socket: &str, mut make: impl FnMut(&Path) -> String) -> Fulcrum {
        for attempt in 0..3 {
            let dir = Fulcrum::dir(test);
            let text = make(&dir);
            let mut f = Fulcrum::start(dir.clone(), &text);
            let sock = dir.join(socket);
            let ready = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
                query(&sock, "show cli level").is_ok() || !f.child.is_running()
            });
            if ready.is_some() && f.child.is_running() {
                return f;
            }
            let log = f.log();
            assert!(
                attempt < 2 && log.contains("Address already in use"),
                "fulcrum did not start ({test})\n{log}"
            );
        }
        unreachable!("three attempts")
    }

    pub fn log(&self) -> String {
        self.child.output()
    }

    /// Waits (bounded) until `path` answers the runtime API.
    pub fn wait_socket(&self, path: &Path) {
        let ok = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
            query(path, "show cli level").is_ok()
        });
        assert!(
            ok.is_some(),
            "runtime socket {} never answered\n{}",
            path.display(),
            self.log()
        );
    }
}

impl Drop for Fulcrum {
    fn drop(&mut self) {
        self.child.signal(fulcrum_testlab::process::Sig::SIGKILL);
        let _ = self.child.wait_timeout(Duration::from_secs(5));
        if std::env::var("FULCRUM_KEEP_TEST_LOGS").as_deref() != Ok("1") {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One non-interactive command line over a plain UnixStream: everything until the server closes.
pub fn query(path: &Path, line: &str) -> std::io::Result<String> {
    let mut s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(format!("{line}\n").as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// The same through `socat` (as operators do: `echo "show info" | socat stdio PATH`).
pub fn socat(address: &str, line: &str) -> String {
    let out = Command::new("sh")
        .args([
            "-c",
            &format!("echo '{line}' | timeout 10 socat stdio {address}"),
        ])
        .output()
        .expect("socat");
    assert!(
        out.status.success(),
        "socat {address} '{line}': {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Reads from an interactive session until the prompt `> ` (bounded).
pub fn read_prompt(s: &mut UnixStream) -> String {
    let mut out = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while !out.ends_with(b"> ") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no prompt: {:?}",
            String::from_utf8_lossy(&out)
        );
        match s.read(&mut buf) {
            Ok(0) => panic!(
                "closed before the prompt: {:?}",
                String::from_utf8_lossy(&out)
            ),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read: {e}; got {:?}", String::from_utf8_lossy(&out)),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A `show table` answer with the entry addresses and the milliseconds before expiry set
/// aside (they differ between two processes).
pub fn table_normal(answer: &str) -> String {
    answer
        .lines()
        .map(|l| {
            let l = match l.split_once(": key=") {
                Some((p, rest)) if p.starts_with("0x") => format!("0xADDR: key={rest}"),
                _ => l.to_string(),
            };
            l.split(' ')
                .map(|w| match w.strip_prefix("exp=") {
                    Some(_) => "exp=E".to_string(),
                    None => w.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// haproxy and fulcrum side by side, each on its own config with an `admin.sock` runtime
/// socket in its directory; returns once haproxy's socket answers (fulcrum's already does).
pub fn versus(
    test: &str,
    haproxy_cfg: impl FnOnce(&Path) -> String,
    fulcrum_cfg: impl FnMut(&Path) -> String,
) -> (Scratch, fulcrum_testlab::process::Child, Fulcrum) {
    let hdir = Scratch::new(&format!("{test}-h"));
    let hcfg = hdir.join("h.cfg");
    std::fs::write(&hcfg, haproxy_cfg(&hdir)).expect("write");
    let haproxy = fulcrum_testlab::process::Child::haproxy(&hcfg, hdir.join("haproxy.log"));
    let f = Fulcrum::start_bound(&format!("{test}-f"), "admin.sock", fulcrum_cfg);
    wait_haproxy_cli(&hdir, &haproxy);
    (hdir, haproxy, f)
}

/// `show stat` CSV: the named columns of each row `keep` accepts (given the whole row), one
/// `name=value ...` line per row, for comparing two proxies' answers column by column.
pub fn csv_columns(csv: &str, keep: impl Fn(&str) -> bool, cols: &[&str]) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    lines
        .filter(|l| keep(l))
        .map(|l| {
            let v: Vec<&str> = l.split(',').collect();
            cols.iter()
                .map(|c| {
                    let i = header.iter().position(|h| h == c).expect("column");
                    format!("{c}={}", v.get(i).copied().unwrap_or(""))
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// One runtime-socket line asked of haproxy (its `admin.sock` in `hdir`) and of fulcrum (in
/// `fdir`): the answers, with `show table`'s varying parts normalised, must be equal.
pub fn same_table_answer(hdir: &Path, fdir: &Path, line: &str) -> String {
    let ask = |dir: &Path| table_normal(&query(&dir.join("admin.sock"), line).expect("answer"));
    let want = ask(hdir);
    let got = ask(fdir);
    assert_eq!(got, want, "'{line}' (fulcrum, haproxy)");
    got
}

/// Waits (10 s at most) until haproxy's `admin.sock` in `hdir` answers.
pub fn wait_haproxy_cli(hdir: &Path, haproxy: &fulcrum_testlab::process::Child) {
    let up = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        query(&hdir.join("admin.sock"), "show cli level").is_ok()
    });
    assert!(up.is_some(), "haproxy never answered: {}", haproxy.output());
}

/// One runtime-socket line asked of haproxy (socket `sock` in `hdir`) and of fulcrum (in
/// `f`'s directory): the answers must be equal, byte for byte. Haproxy's answer.
pub fn same_cli_answer(hdir: &Path, f: &Fulcrum, sock: &str, line: &str) -> String {
    let want = query(&hdir.join(sock), line).expect("haproxy answer");
    let got = query(&f.dir.join(sock), line).expect("fulcrum answer");
    assert_eq!(got, want, "{sock}: '{line}'\n{}", f.log());
    want
}
