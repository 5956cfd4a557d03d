//! `hard-stop-after` and `mworker-max-reloads` side by side with the real HAProxy 2.6 in
//! master-worker mode (`-W`, SIGUSR2 reloads, SIGUSR1 soft stop): a long-lived TCP connection
//! through a `mode tcp` frontend and an idle HTTP keep-alive connection are opened on the
//! configuration a reload replaces, and the times they close are compared.
//!
//! - After a reload with `hard-stop-after 1500ms`, the TCP connection is still open a second
//!   later and closed at about 1.5 s on both. The idle keep-alive connection is closed by then
//!   on both: HAProxy closes it at the reload itself (its old worker's soft stop), fulcrum at
//!   the hard stop (until then its next request would still be answered, with `Connection:
//!   close`: fulcrum's zero-drop reload; README).
//! - With `mworker-max-reloads 1` (and no `hard-stop-after`), the TCP connection survives the
//!   first reload and is closed right after the second on both (HAProxy: "once its number of
//!   reloads is greater than this number").
//! - A SIGUSR1 soft stop with `hard-stop-after 1500ms` closes the TCP connection at about
//!   1.5 s on both.

mod common;

use common::{free_port, Running, Scratch};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A TCP echo server on `port` (one thread per connection), for the life of the test.
fn echo_server(port: u16) {
    let l = TcpListener::bind(("127.0.0.1", port)).expect("bind echo");
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 || c.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
}

fn config(keyword: &str, tcp: u16, http: u16, echo: u16) -> String {
    format!(
        "global\n {keyword}\n\
         defaults\n timeout connect 1s\n timeout client 60s\n timeout server 60s\n timeout http-keep-alive 60s\n\
         frontend t\n mode tcp\n bind 127.0.0.1:{tcp}\n default_backend echo\n\
         backend echo\n mode tcp\n server e 127.0.0.1:{echo}\n\
         frontend h\n mode http\n bind 127.0.0.1:{http}\n http-request return status 200 content-type text/plain string ok\n"
    )
}

/// The two connections of one proxy: TCP (one echo done) and idle HTTP keep-alive (one
/// answer read).
struct Conns {
    tcp: TcpStream,
    http: TcpStream,
}

fn open(tcp: u16, http: u16) -> Conns {
    let mut t = TcpStream::connect(("127.0.0.1", tcp)).expect("tcp connect");
    t.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    t.write_all(b"hi").expect("echo send");
    let mut b = [0u8; 2];
    t.read_exact(&mut b).expect("echo read");
    assert_eq!(&b, b"hi");
    let mut h = TcpStream::connect(("127.0.0.1", http)).expect("http connect");
    h.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    h.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let mut got = Vec::new();
    while !got.ends_with(b"ok") {
        let mut b = [0u8; 512];
        let n = h.read(&mut b).expect("answer");
        assert!(n > 0, "closed before its answer");
        got.extend_from_slice(&b[..n]);
    }
    Conns { tcp: t, http: h }
}

/// Whether `s` is closed (EOF or reset) now, without waiting.
fn closed(s: &TcpStream) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let mut b = [0u8; 64];
    let r = (&*s).read(&mut b);
    s.set_nonblocking(false).expect("blocking");
    match r {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Seconds from `t0` until each connection of each of `conns` closes (TCP, HTTP; None: still
/// open after `within`), watched together.
fn close_times(conns: &[Conns], t0: Instant, within: Duration) -> Vec<[Option<f64>; 2]> {
    let mut out = vec![[None, None]; conns.len()];
    while t0.elapsed() < within && out.iter().flatten().any(Option::is_none) {
        for (c, o) in conns.iter().zip(out.iter_mut()) {
            for (i, s) in [&c.tcp, &c.http].into_iter().enumerate() {
                if o[i].is_none() && closed(s) {
                    o[i] = Some(t0.elapsed().as_secs_f64());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    out
}

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} never listened on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until process `pid` catches SIGUSR1 and SIGUSR2 (`SigCgt` in /proc): HAProxy's
/// master installs its handlers after its worker listens, and a signal sent before is lost.
fn wait_handlers(pid: u32) {
    let want = (1u64 << (10 - 1)) | (1u64 << (12 - 1));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .unwrap_or(0);
        if caught & want == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} never caught SIGUSR1/SIGUSR2"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One proxy under test: its process (the master for HAProxy) and its ports.
struct Proxy {
    child: Running,
    tcp: u16,
    http: u16,
}

impl Proxy {
    fn signal(&self, s: Signal) {
        kill(Pid::from_raw(self.child.pid() as i32), s).expect("signal");
    }
}

/// fulcrum (`run`) and HAProxy (`-W`) on `keyword`'s configuration.
fn start_both(scratch: &Scratch, keyword: &str) -> [Proxy; 2] {
    let echo = free_port();
    echo_server(echo);
    let mut out = Vec::new();
    for side in ["f", "h"] {
        let (tcp, http) = (free_port(), free_port());
        let cfg = scratch.write(&format!("{side}.cfg"), &config(keyword, tcp, http, echo));
        let child = if side == "f" {
            let control = scratch.0.join("control.sock");
            Command::new(env!("CARGO_BIN_EXE_fulcrum"))
                .args(["run", "--control"])
                .arg(&control)
                .arg("-f")
                .arg(&cfg)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start fulcrum")
        } else {
            Command::new("haproxy")
                .args(["-W", "-db", "-f"])
                .arg(&cfg)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start haproxy (installed by scripts/install-deps.sh)")
        };
        wait_port(tcp, side);
        wait_port(http, side);
        wait_handlers(child.id());
        out.push(Proxy {
            child: Running(child),
            tcp,
            http,
        });
    }
    let h = out.pop().expect("haproxy");
    let f = out.pop().expect("fulcrum");
    [f, h]
}

/// The configuration serves again after a reload (the new one is up).
fn serves(p: &Proxy) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", p.http)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            let mut all = String::new();
            let _ = s.read_to_string(&mut all);
            if all.ends_with("ok") {
                return;
            }
        }
        assert!(Instant::now() < deadline, "no answer after the reload");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const HARD: f64 = 1.5;

#[test]
fn hard_stop_after_ends_a_replaced_configuration_as_haproxy() {
    let scratch = Scratch::new("hard-stop-reload");
    let proxies = start_both(&scratch, "hard-stop-after 1500ms");
    let conns: Vec<Conns> = proxies.iter().map(|p| open(p.tcp, p.http)).collect();
    let t0 = Instant::now();
    for p in &proxies {
        p.signal(Signal::SIGUSR2);
    }
    // still open a second later: the reload itself ends nothing
    std::thread::sleep(Duration::from_secs(1));
    for (c, name) in conns.iter().zip(["fulcrum", "haproxy"]) {
        assert!(
            !closed(&c.tcp),
            "{name}: the TCP connection closed before hard-stop-after"
        );
    }
    let times = close_times(&conns, t0, Duration::from_secs(6));
    for (t, name) in times.iter().zip(["fulcrum", "haproxy"]) {
        let tcp = t[0].unwrap_or_else(|| panic!("{name}: TCP still open after 6 s"));
        assert!(
            (HARD..HARD + 1.5).contains(&tcp),
            "{name}: TCP closed at {tcp:.2} s (hard-stop-after {HARD} s): {times:?}"
        );
        let http = t[1].unwrap_or_else(|| panic!("{name}: idle HTTP still open after 6 s"));
        assert!(http <= tcp + 0.3, "{name}: idle HTTP closed at {http:.2} s");
    }
    let (f, h) = (times[0][0].unwrap_or(0.0), times[1][0].unwrap_or(0.0));
    assert!(
        (f - h).abs() < 1.0,
        "TCP closed at {f:.2} s (fulcrum), {h:.2} s (haproxy)"
    );
    for p in &proxies {
        serves(p);
    }
}

#[test]
fn mworker_max_reloads_ends_the_configuration_replaced_too_often() {
    let scratch = Scratch::new("max-reloads");
    let proxies = start_both(&scratch, "mworker-max-reloads 1");
    let conns: Vec<Conns> = proxies.iter().map(|p| open(p.tcp, p.http)).collect();
    for p in &proxies {
        p.signal(Signal::SIGUSR2);
    }
    for p in &proxies {
        serves(p);
    }
    // one reload: 1 is not more than 1
    std::thread::sleep(Duration::from_millis(500));
    for (c, name) in conns.iter().zip(["fulcrum", "haproxy"]) {
        assert!(!closed(&c.tcp), "{name}: TCP closed after one reload");
    }
    let t0 = Instant::now();
    for p in &proxies {
        p.signal(Signal::SIGUSR2);
    }
    let times = close_times(&conns, t0, Duration::from_secs(5));
    for (t, name) in times.iter().zip(["fulcrum", "haproxy"]) {
        let tcp = t[0].unwrap_or_else(|| panic!("{name}: TCP open 5 s after the second reload"));
        assert!(
            tcp < 2.0,
            "{name}: TCP closed {tcp:.2} s after the second reload"
        );
    }
    for p in &proxies {
        serves(p);
    }
}

#[test]
fn hard_stop_after_bounds_a_soft_stop_as_haproxy() {
    let scratch = Scratch::new("hard-stop-stop");
    let proxies = start_both(&scratch, "hard-stop-after 1500ms");
    let conns: Vec<Conns> = proxies.iter().map(|p| open(p.tcp, p.http)).collect();
    let t0 = Instant::now();
    for p in &proxies {
        p.signal(Signal::SIGUSR1);
    }
    let times = close_times(&conns, t0, Duration::from_secs(6));
    for (t, name) in times.iter().zip(["fulcrum", "haproxy"]) {
        let tcp = t[0].unwrap_or_else(|| panic!("{name}: TCP still open 6 s after SIGUSR1"));
        assert!(
            (HARD - 0.2..HARD + 1.5).contains(&tcp),
            "{name}: TCP closed at {tcp:.2} s: {times:?}"
        );
    }
}
