//! Kernel splicing (`option splice-request|splice-response|splice-auto`) keeps every byte
//! count exact. The same traffic goes through fulcrum with `nosplice` (bytes copied), through
//! fulcrum splicing, and through haproxy 2.6 splicing, each with its runtime socket and a
//! syslog socket of its own: a keep-alive connection carrying two large responses (the
//! second must arrive intact: a splice stops at the first body's end), a chunked response, a
//! response delimited by the server's close, a 2 MB request body echoed back, a server that
//! closes mid-body, and a TCP-mode transfer of 3 MB up and 5 MB down. Every body is checked
//! byte for byte; the log lines (`%B`, `%U`, `%ts`) and `show stat`'s `bin`/`bout` must be the
//! same spliced and copied, and the log lines the same as haproxy's. fulcrum must have
//! spliced: its pooled pipes show in /proc/PID/fd after the traffic (none with `nosplice`).
//! A client closing mid-body is checked apart (how far the proxy got is a race): its line
//! says `CD`, its `%B` lies between what the client read and the whole response, and the
//! frontend's `bout` moved by exactly `%B`.
//!
//! A second test sends a 1 GiB body through a 4 KiB pipe (`tune.pipesize 4096`) to a client
//! that waits before reading (the proxy's writes then wait for room), checking every 64 KiB
//! block's number and the logged size, within two minutes.

mod runtime_support;

use runtime_support::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// The body byte at offset `i` (every body follows it: corruption or a shift shows).
fn pat(i: usize) -> u8 {
    (i % 251) as u8
}

fn body(n: usize) -> Vec<u8> {
    (0..n).map(pat).collect()
}

fn check_body(got: &[u8], n: usize, what: &str) {
    assert_eq!(got.len(), n, "{what}: length");
    if let Some(i) = got.iter().enumerate().position(|(i, &b)| b != pat(i)) {
        panic!("{what}: byte {i} differs");
    }
}

/// The scripted HTTP/1.1 server. Paths: `/len/N` (Content-Length), `/chunked/N/K` (K chunks of
/// N bytes), `/close/N` (no length: N bytes then close), `/cut/N/M` (announces N, sends M, closes),
/// `/echo` (the request body back), `/gib/N` (N blocks of 64 KiB, each starting with its
/// number).
fn http_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || serve(c));
        }
    });
    port
}

fn serve(c: TcpStream) {
    let mut r = BufReader::new(c.try_clone().expect("clone"));
    let mut w = c;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("/").to_string();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                if n.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut req = vec![0u8; len];
        if r.read_exact(&mut req).is_err() {
            return;
        }
        let parts: Vec<usize> = path
            .split('/')
            .skip(2)
            .filter_map(|p| p.parse().ok())
            .collect();
        let arg = |i: usize| parts.get(i).copied().unwrap_or(0);
        let ok = match path.split('/').nth(1).unwrap_or("") {
            "len" => write!(w, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", arg(0))
                .and_then(|_| w.write_all(&body(arg(0)))),
            "echo" => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", req.len());
                w.write_all(head.as_bytes()).and_then(|_| w.write_all(&req))
            }
            "chunked" => {
                let b = body(arg(0) * arg(1));
                let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for c in b.chunks(arg(0).max(1)) {
                    out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    out.extend_from_slice(c);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
                w.write_all(&out)
            }
            "close" => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
                let _ = w.write_all(&body(arg(0)));
                return;
            }
            "cut" => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", arg(0));
                let _ = w.write_all(head.as_bytes());
                let _ = w.write_all(&body(arg(1)));
                return;
            }
            "gib" => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    arg(0) << 16
                );
                let mut block = vec![0u8; 1 << 16];
                let mut ok = w.write_all(head.as_bytes());
                for i in 0..arg(0) {
                    block[..8].copy_from_slice(&(i as u64).to_le_bytes());
                    ok = ok.and_then(|_| w.write_all(&block));
                }
                ok
            }
            _ => w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        };
        if ok.is_err() {
            return;
        }
    }
}

/// The TCP-mode server: reads until the client's end, answers 5 MB, closes.
fn tcp_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let _ = c.read_to_end(&mut got);
                if got.is_empty() {
                    return; // a readiness probe
                }
                check_body(&got, 3_000_000, "tcp upload at the server");
                let _ = c.write_all(&body(5_000_000));
            });
        }
    });
    port
}

struct Ports {
    web: u16,
    auto: u16,
    cut: u16,
    tcp: u16,
}

fn config(dir: &Path, syslog: u16, p: &Ports, srv: u16, tsrv: u16, splice: bool) -> String {
    let (g, web, auto) = if splice {
        (
            "",
            "  option splice-request\n  option splice-response\n",
            "  option splice-auto\n",
        )
    } else {
        ("  nosplice\n", "", "")
    };
    format!(
        "global\n  stats socket {sock} level admin\n  log 127.0.0.1:{syslog} local0\n{g}\
         defaults\n  mode http\n  log global\n  timeout connect 2s\n  timeout client 20s\n  timeout server 20s\n\
         \x20 log-format \"%HM %HU B=%B U=%U ts=%ts\"\n\
         frontend web\n  bind 127.0.0.1:{w}\n{web}  default_backend app\n\
         frontend auto\n  bind 127.0.0.1:{a}\n{auto}  default_backend app\n\
         frontend cut\n  bind 127.0.0.1:{c}\n{web}  default_backend app\n\
         backend app\n  server s 127.0.0.1:{srv}\n\
         listen tcp\n  mode tcp\n  bind 127.0.0.1:{t}\n{auto}  option dontlognull\n\
         \x20 log-format \"tcp B=%B U=%U ts=%ts\"\n  server s 127.0.0.1:{tsrv}\n",
        sock = dir.join("admin.sock").display(),
        w = p.web,
        a = p.auto,
        c = p.cut,
        t = p.tcp,
    )
}

fn syslog_line(s: &UdpSocket) -> String {
    let mut buf = vec![0u8; 8192];
    let n = s.recv(&mut buf).expect("a log line within 10 s");
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    // The message after the syslog header (`<PRI>... TAG[PID]: `).
    text.split_once("]: ")
        .map_or(text.clone(), |(_, m)| m.trim_end().to_string())
}

fn connect(port: u16) -> TcpStream {
    let c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    c
}

/// Reads one response head; (status, content-length if any, chunked).
fn read_head(r: &mut BufReader<TcpStream>) -> (u16, Option<usize>, bool) {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (mut len, mut chunked) = (None, false);
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("header");
        if h == "\r\n" || h.is_empty() {
            return (status, len, chunked);
        }
        let (n, v) = h.split_once(':').unwrap_or(("", ""));
        if n.eq_ignore_ascii_case("content-length") {
            len = v.trim().parse().ok();
        }
        if n.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.trim().eq_ignore_ascii_case("chunked");
        }
    }
}

fn read_chunked(r: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("chunk size");
        let n = usize::from_str_radix(line.trim(), 16).expect("hex size");
        let mut c = vec![0u8; n + 2];
        r.read_exact(&mut c).expect("chunk");
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&c[..n]);
    }
}

/// GET `path` on `r`'s connection: the body (by its length, chunks, or to the close).
fn get(r: &mut BufReader<TcpStream>, path: &str, close: bool) -> Vec<u8> {
    let conn = if close { "Connection: close\r\n" } else { "" };
    write!(r.get_mut(), "GET {path} HTTP/1.1\r\nHost: t\r\n{conn}\r\n").expect("send");
    let (status, len, chunked) = read_head(r);
    assert_eq!(status, 200, "{path}");
    let mut b = Vec::new();
    if chunked {
        b = read_chunked(r);
    } else if let Some(n) = len {
        b.resize(n, 0);
        let got = read_fully(r, &mut b);
        b.truncate(got);
    } else {
        r.read_to_end(&mut b).expect("to the close");
    }
    b
}

/// Reads into `b` until it is full or the peer closes; how much was read.
fn read_fully(r: &mut impl Read, b: &mut [u8]) -> usize {
    let mut at = 0;
    while at < b.len() {
        match r.read(&mut b[at..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => at += n,
        }
    }
    at
}

/// The frontends' (or listen's) `bin`/`bout` from `show stat`, `cut` left out.
fn stats(dir: &Path) -> Vec<String> {
    let csv = query(&dir.join("admin.sock"), "show stat").expect("show stat");
    let mut rows = csv_columns(
        &csv,
        |l| l.contains(",FRONTEND,") && !l.starts_with("cut,"),
        &["pxname", "bin", "bout"],
    );
    rows.sort();
    rows
}

fn bout(dir: &Path, px: &str) -> u64 {
    let csv = query(&dir.join("admin.sock"), "show stat").expect("show stat");
    let rows = csv_columns(
        &csv,
        |l| l.starts_with(&format!("{px},FRONTEND,")),
        &["bout"],
    );
    rows[0].trim_start_matches("bout=").parse().expect("bout")
}

/// `bout` once it moved from `before` (the counters are added just after the log line).
fn settled_bout(dir: &Path, px: &str, before: u64) -> u64 {
    let mut now = before;
    fulcrum_testlab::wait::until(Duration::from_secs(5), || {
        now = bout(dir, px);
        now != before
    });
    now
}

/// Pipes the process holds open (`/proc/PID/fd` links to `pipe:`).
fn pipes(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|t| t.to_string_lossy().starts_with("pipe:"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// The deterministic traffic; the log lines in order.
fn traffic(p: &Ports, log: &UdpSocket) -> Vec<String> {
    let mut lines = Vec::new();
    // Two large responses on one keep-alive connection.
    let mut r = BufReader::new(connect(p.web));
    check_body(&get(&mut r, "/len/1000000", false), 1_000_000, "first");
    lines.push(syslog_line(log));
    check_body(&get(&mut r, "/len/300000", false), 300_000, "second");
    lines.push(syslog_line(log));
    // Large chunks; a body delimited by the server's close.
    check_body(&get(&mut r, "/chunked/200000/3", false), 600_000, "chunked");
    lines.push(syslog_line(log));
    check_body(&get(&mut r, "/close/500000", false), 500_000, "until close");
    lines.push(syslog_line(log));
    // A request body, echoed.
    let mut r = BufReader::new(connect(p.web));
    let up = body(2_000_000);
    write!(
        r.get_mut(),
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        up.len()
    )
    .expect("send head");
    r.get_mut().write_all(&up).expect("send body");
    let (status, len, _) = read_head(&mut r);
    assert_eq!((status, len), (200, Some(up.len())));
    let mut back = vec![0u8; up.len()];
    r.read_exact(&mut back).expect("echo");
    check_body(&back, up.len(), "echo");
    lines.push(syslog_line(log));
    // The server closes mid-body: the client gets what was sent.
    let mut r = BufReader::new(connect(p.web));
    let got = get(&mut r, "/cut/1000000/300000", false);
    check_body(&got, 300_000, "cut");
    lines.push(syslog_line(log));
    // splice-auto: a large and a small response.
    let mut r = BufReader::new(connect(p.auto));
    check_body(&get(&mut r, "/len/1000000", false), 1_000_000, "auto large");
    lines.push(syslog_line(log));
    check_body(&get(&mut r, "/len/100", true), 100, "auto small");
    lines.push(syslog_line(log));
    // TCP mode, both directions.
    let mut c = connect(p.tcp);
    c.write_all(&body(3_000_000)).expect("upload");
    c.shutdown(Shutdown::Write).expect("half-close");
    let mut down = Vec::new();
    c.read_to_end(&mut down).expect("download");
    check_body(&down, 5_000_000, "tcp download");
    lines.push(syslog_line(log));
    lines
}

/// A client that reads 200 KB of a 20 MB response and closes: (its log line, `%B`, the
/// frontend's `bout` before and after).
fn client_close(p: &Ports, log: &UdpSocket, dir: &Path) -> (String, u64, u64, u64) {
    let before = bout(dir, "cut");
    let c = connect(p.cut);
    let mut r = BufReader::new(c);
    write!(r.get_mut(), "GET /len/20000000 HTTP/1.1\r\nHost: t\r\n\r\n").expect("send");
    let (status, _, _) = read_head(&mut r);
    assert_eq!(status, 200);
    let mut some = vec![0u8; 200_000];
    r.read_exact(&mut some).expect("200 KB");
    check_body(&some, 200_000, "before the close");
    // A reset: unread bytes were left.
    drop(r);
    let line = syslog_line(log);
    let b: u64 = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("B="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no B= in {line}"));
    (line, b, before, settled_bout(dir, "cut", before))
}

struct Run {
    lines: Vec<String>,
    stats: Vec<String>,
    pipes_added: usize,
    cut: (String, u64, u64, u64),
}

fn ports() -> Ports {
    Ports {
        web: free_port(),
        auto: free_port(),
        cut: free_port(),
        tcp: free_port(),
    }
}

fn log_socket() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("udp");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let port = s.local_addr().expect("addr").port();
    (s, port)
}

fn run_fulcrum(splice: bool, srv: u16, tsrv: u16) -> Run {
    let (log, syslog) = log_socket();
    let mut p = ports();
    let f = Fulcrum::start_bound("splice", "admin.sock", |dir| {
        p = ports();
        config(dir, syslog, &p, srv, tsrv, splice)
    });
    // Lines of the readiness probes, if any.
    log.set_read_timeout(Some(Duration::from_millis(200))).ok();
    while syslog_line_opt(&log).is_some() {}
    log.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let pid = f.child.pid();
    let before = pipes(pid);
    let lines = traffic(&p, &log);
    let pipes_added = pipes(pid).saturating_sub(before);
    let cut = client_close(&p, &log, &f.dir);
    Run {
        lines,
        stats: stats(&f.dir),
        pipes_added,
        cut,
    }
}

fn syslog_line_opt(s: &UdpSocket) -> Option<String> {
    let mut buf = vec![0u8; 8192];
    s.recv(&mut buf)
        .ok()
        .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn run_haproxy(srv: u16, tsrv: u16) -> Run {
    let (log, syslog) = log_socket();
    let dir = Scratch::new("splice-h");
    let p = ports();
    let cfg = dir.join("h.cfg");
    std::fs::write(&cfg, config(&dir, syslog, &p, srv, tsrv, true)).expect("write");
    let h = fulcrum_testlab::process::Child::haproxy(&cfg, dir.join("haproxy.log"));
    wait_haproxy_cli(&dir, &h);
    for port in [p.web, p.auto, p.cut, p.tcp] {
        assert!(fulcrum_testlab::wait::listening(
            port,
            Duration::from_secs(10)
        ));
    }
    log.set_read_timeout(Some(Duration::from_millis(200))).ok();
    while syslog_line_opt(&log).is_some() {}
    log.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let lines = traffic(&p, &log);
    let cut = client_close(&p, &log, &dir);
    Run {
        lines,
        stats: stats(&dir),
        pipes_added: 0,
        cut,
    }
}

/// An HTTP line without its ` U=N` field (the TCP line keeps it).
fn without_u(l: &str) -> String {
    if l.starts_with("tcp ") {
        return l.to_string();
    }
    l.split(' ')
        .filter(|w| !w.starts_with("U="))
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_cut(who: &str, (line, b, before, after): &(String, u64, u64, u64)) {
    assert!(line.contains("ts=CD"), "{who}: {line}");
    assert!(
        *b >= 200_000 && *b <= 20_000_100,
        "{who}: %B {b} between what the client read and the response ({line})"
    );
    // fulcrum's `bout` counts the head as sent, `%B` its HTX size (haproxy: both the HTX
    // size; a difference of its own, a few bytes per response, also without splicing).
    let moved = after - before;
    assert!(
        moved + 64 >= *b && moved <= *b + 64,
        "{who}: bout moved by {moved}, %B {b} ({line})"
    );
}

#[test]
fn spliced_bytes_are_counted_as_copied_ones_and_as_haproxy() {
    let (srv, tsrv) = (http_server(), tcp_server());
    let copied = run_fulcrum(false, srv, tsrv);
    let spliced = run_fulcrum(true, srv, tsrv);
    assert_eq!(copied.pipes_added, 0, "nosplice opened pipes");
    assert!(spliced.pipes_added > 0, "fulcrum never spliced");
    assert_eq!(
        spliced.lines, copied.lines,
        "log lines: spliced (left), copied"
    );
    assert_eq!(
        spliced.stats, copied.stats,
        "bin/bout: spliced (left), copied"
    );
    check_cut("fulcrum copied", &copied.cut);
    check_cut("fulcrum spliced", &spliced.cut);
    // Not vacuous: the large bodies are in the lines.
    assert!(spliced.lines[0].contains("B=10000"), "{:?}", spliced.lines);
    assert!(
        spliced.lines[8].starts_with("tcp B=5000000 U=3000000"),
        "{:?}",
        spliced.lines
    );
    if !tool("splice_vs_haproxy", "haproxy", "haproxy") {
        return;
    }
    let theirs = run_haproxy(srv, tsrv);
    check_cut("haproxy", &theirs.cut);
    // `%U` of an HTTP request head differs from haproxy's with and without splicing (haproxy
    // counts 15 bytes more for a keep-alive GET: its HTX size); `%B` and `%ts` are compared.
    let no_u = |l: &String| without_u(l);
    let ours: Vec<String> = spliced.lines.iter().map(no_u).collect();
    let want: Vec<String> = theirs.lines.iter().map(no_u).collect();
    assert_eq!(ours, want, "log lines: fulcrum (left), haproxy");
}

#[test]
fn a_gibibyte_through_a_small_pipe_to_a_slow_reader() {
    let srv = http_server();
    let (log, syslog) = log_socket();
    let mut port_used = 0;
    let f = Fulcrum::start_bound("splice-gib", "admin.sock", |dir| {
        port_used = free_port();
        format!(
            "global\n  stats socket {sock} level admin\n  log 127.0.0.1:{syslog} local0\n  tune.pipesize 4096\n\
             defaults\n  mode http\n  log global\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n\
             frontend web\n  bind 127.0.0.1:{port_used}\n  option splice-response\n\
             \x20 log-format \"B=%B ts=%ts\"\n  default_backend app\n\
             backend app\n  server s 127.0.0.1:{srv}\n",
            sock = dir.join("admin.sock").display()
        )
    });
    let blocks = 1usize << 14; // 16,384 blocks of 64 KiB: 1 GiB
    let start = Instant::now();
    let mut c = connect(port_used);
    write!(
        c,
        "GET /gib/{blocks} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    // Slow at first: the proxy's socket buffers fill and its splices wait for room.
    std::thread::sleep(Duration::from_millis(500));
    let mut r = BufReader::with_capacity(1 << 16, c);
    let (status, len, _) = read_head(&mut r);
    assert_eq!((status, len), (200, Some(blocks << 16)));
    let mut block = vec![0u8; 1 << 16];
    for i in 0..blocks {
        r.read_exact(&mut block)
            .unwrap_or_else(|e| panic!("block {i}: {e}"));
        let n = u64::from_le_bytes(block[..8].try_into().expect("8 bytes"));
        assert_eq!(n, i as u64, "block order");
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "too slow: block {i}"
        );
    }
    let line = syslog_line(&log);
    assert!(line.starts_with("B="), "{line}");
    let b: u64 = line[2..]
        .split(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("B");
    // The head (HTX size) plus the body.
    assert!(
        b > (blocks as u64) << 16 && b < ((blocks as u64) << 16) + 200,
        "{line}"
    );
    assert!(line.ends_with("ts=--"), "{line}");
    let out = settled_bout(&f.dir, "web", 0);
    assert!(out + 64 >= b && out <= b + 64, "bout {out}, %B {b}");
    assert!(pipes(f.child.pid()) > 0, "never spliced");
}
