//! `cache` sections with `http-request cache-use` / `http-response cache-store`, and
//! `monitor-uri` / `monitor fail`, side by side with the real HAProxy 2.6 on the same config:
//! a scripted sequence of requests (cacheable or not by status, `Cache-Control`, `Expires`,
//! validators, `Vary`, `Set-Cookie`, `Age`, size; requests with `Authorization`,
//! `Cache-Control`, `Pragma`, HTTP/1.0, HEAD, conditional requests, an invalidating POST;
//! eviction by size) gets the same answers from both (status line, every header but the
//! `Age` value, body), and each one's own test server sees the same number of requests per
//! path. The monitor URI answers the same (200, 503 under `monitor fail`, HEAD) and neither
//! logs it.

mod common;

use common::{free_port, stat, Fulcrum, Scratch};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Counts = Arc<Mutex<HashMap<String, u32>>>;

/// The test server's answer for `path`: status, fields, body (None: `body PATH #N`), chunked.
fn route(path: &str) -> (u16, Vec<&'static str>, Option<Vec<u8>>, bool) {
    let base = path.split('?').next().unwrap_or("");
    let cc = "Cache-Control: max-age=60";
    let (status, fields, body, chunked): (u16, Vec<&'static str>, Option<Vec<u8>>, bool) =
        match base {
            "/public" => (200, vec!["Cache-Control: public"], None, false),
            "/private" => (200, vec!["Cache-Control: private, max-age=60"], None, false),
            "/nostore" => (200, vec!["Cache-Control: no-store"], None, false),
            "/expires" => (
                200,
                vec!["Expires: Thu, 01 Jan 2099 00:00:00 GMT"],
                None,
                false,
            ),
            "/etag" => (200, vec!["ETag: \"v1\""], None, false),
            "/lastmod" => (
                200,
                vec!["Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT"],
                None,
                false,
            ),
            "/none" => (200, vec![], None, false),
            "/404" => (404, vec![cc], None, false),
            "/vary" => (200, vec![cc, "Vary: Accept-Encoding"], None, false),
            "/cookie" => (200, vec![cc, "Set-Cookie: a=b"], None, false),
            "/big" => (200, vec![cc], Some(vec![b'x'; 6000]), false),
            "/age" => (200, vec![cc, "Age: 10"], None, false),
            "/oldage" => (200, vec![cc, "Age: 100"], None, false),
            "/chunked" => (200, vec![cc], None, true),
            "/smaxage0" => (200, vec!["Cache-Control: s-maxage=0"], None, false),
            "/pragma" => (200, vec!["Pragma: no-cache", cc], None, false),
            "/conn" => (
                200,
                vec![cc, "Connection: keep-alive", "X-Extra: 1"],
                None,
                false,
            ),
            p if p.starts_with("/evict/") => (200, vec![cc], Some(vec![b'e'; 300 * 1024]), false),
            _ => (200, vec![cc], None, false),
        };
    (status, fields, body, chunked)
}

/// A keep-alive test server counting requests per path (query included).
fn server(listener: TcpListener, counts: Counts) {
    for conn in listener.incoming() {
        let Ok(c) = conn else { continue };
        let counts = counts.clone();
        std::thread::spawn(move || serve_conn(c, counts));
    }
}

fn serve_conn(mut c: TcpStream, counts: Counts) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut b = [0u8; 8192];
    loop {
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            match c.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&b[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let first = head.lines().next().unwrap_or("").to_string();
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < end + length {
            match c.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&b[..n]),
            }
        }
        buf.drain(..end + length);
        let mut words = first.split(' ');
        let method = words.next().unwrap_or("").to_string();
        let path = words.next().unwrap_or("/").to_string();
        let n = {
            let mut m = counts.lock().expect("counts");
            let e = m.entry(path.clone()).or_insert(0);
            *e += 1;
            *e
        };
        let (status, fields, body, chunked) = route(&path);
        let body = body.unwrap_or_else(|| format!("body {path} #{n}\n").into_bytes());
        let mut out = format!("HTTP/1.1 {status} X\r\nX-Count: {n}\r\n");
        for f in fields {
            out.push_str(f);
            out.push_str("\r\n");
        }
        let mut out = if chunked {
            out.push_str("Transfer-Encoding: chunked\r\n\r\n");
            let mut o = out.into_bytes();
            if method != "HEAD" {
                o.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
                o.extend_from_slice(&body);
                o.extend_from_slice(b"\r\n0\r\n\r\n");
            }
            o
        } else {
            out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            out.into_bytes()
        };
        if !chunked && method != "HEAD" {
            out.extend_from_slice(&body);
        }
        if c.write_all(&out).is_err() {
            return;
        }
    }
}

fn config(port: u16, app: u16, log: u16, sock: &std::path::Path) -> String {
    format!(
        "global\n stats socket {sock} level admin\n\
         defaults\n mode http\n log 127.0.0.1:{log} local0\n option httplog\n\
         timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend f\n bind 127.0.0.1:{port}\n monitor-uri /health\n\
         monitor fail if {{ req.hdr(x-fail) -m found }}\n\
         use_backend small if {{ path_beg /evict/ }}\n default_backend b\n\
         backend b\n http-request cache-use c1\n http-response cache-store c1\n\
         server s 127.0.0.1:{app}\n\
         backend small\n http-request cache-use c2\n http-response cache-store c2\n\
         server s 127.0.0.1:{app}\n\
         cache c1\n total-max-size 1\n max-age 240\n\
         cache c2\n total-max-size 1\n max-object-size 400000\n",
        sock = sock.display()
    )
}

/// What a client sees of one answer: the status line, the fields (an `age` field's value
/// replaced by `*`), the body; and the `Age` value.
#[derive(Debug, PartialEq)]
struct Seen {
    status: String,
    fields: Vec<String>,
    body: Vec<u8>,
}

fn request(
    port: u16,
    method: &str,
    path: &str,
    extra: &[&str],
    version: &str,
) -> (Seen, Option<u64>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/{version}\r\nHost: t\r\nConnection: close\r\n");
    for e in extra {
        req.push_str(e);
        req.push_str("\r\n");
    }
    if method == "POST" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no response head in {all:?}"))
        + 4;
    let head = String::from_utf8_lossy(&all[..end]).to_string();
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("").to_string();
    let mut age = None;
    let fields = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap_or((l, ""));
            let n = n.trim().to_ascii_lowercase();
            if n == "age" {
                age = v.trim().parse().ok();
                return "age: *".to_string();
            }
            format!("{n}: {}", v.trim())
        })
        .collect();
    let seen = Seen {
        status,
        fields,
        body: all[end..].to_vec(),
    };
    (seen, age)
}

/// The log lines received so far (bounded wait for the last ones).
fn log_lines(sock: &UdpSocket, at_least: usize) -> Vec<String> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match sock.recv(&mut buf) {
            Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).to_string()),
            Err(_) if out.len() >= at_least => break,
            Err(_) => {}
        }
    }
    out
}

/// `show cache` of the stats socket: (cache name, number of objects) per cache.
fn show_cache(sock: &std::path::Path) -> Vec<(String, usize)> {
    let mut s = std::os::unix::net::UnixStream::connect(sock).expect("stats socket");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"show cache\n").expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let mut caches: Vec<(String, usize)> = Vec::new();
    for l in out.lines() {
        if l.contains("(shctx:") {
            let name = l.split(' ').nth(1).unwrap_or("").to_string();
            caches.push((name, 0));
        } else if l.contains(" hash:") {
            if let Some(last) = caches.last_mut() {
                last.1 += 1;
            }
        }
    }
    caches
}

#[test]
fn cache_and_monitor_answer_as_haproxy() {
    if !fulcrum_testlab::require::tool("cache_vs_haproxy", "haproxy", "haproxy") {
        return;
    }
    let (fcounts, hcounts): (Counts, Counts) = Default::default();
    let (fl, hl) = (
        TcpListener::bind("127.0.0.1:0").expect("bind"),
        TcpListener::bind("127.0.0.1:0").expect("bind"),
    );
    let (fapp, happ) = (
        fl.local_addr().expect("addr").port(),
        hl.local_addr().expect("addr").port(),
    );
    {
        let (fc, hc) = (fcounts.clone(), hcounts.clone());
        std::thread::spawn(move || server(fl, fc));
        std::thread::spawn(move || server(hl, hc));
    }
    let (flog, hlog) = (
        UdpSocket::bind("127.0.0.1:0").expect("udp"),
        UdpSocket::bind("127.0.0.1:0").expect("udp"),
    );
    for l in [&flog, &hlog] {
        l.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
    }
    let scratch = Scratch::new("cache");
    let (fport, hport) = (free_port(), free_port());
    let (fsock, hsock) = (scratch.0.join("f.sock"), scratch.0.join("h.sock"));
    let port_of = |u: &UdpSocket| u.local_addr().expect("addr").port();
    let fcfg = scratch.write("f.cfg", &config(fport, fapp, port_of(&flog), &fsock));
    let hcfg = scratch.write("h.cfg", &config(hport, happ, port_of(&hlog), &hsock));
    let _f = Fulcrum::start(&fcfg);
    let _h =
        fulcrum_testlab::process::Child::haproxy_listening(&hcfg, scratch.0.join("h.log"), hport);
    assert!(
        fulcrum_testlab::wait::listening(fport, Duration::from_secs(10)),
        "fulcrum never listened on {fport}"
    );

    let plain: &[&str] = &[];
    let mut steps: Vec<(&str, String, Vec<&str>, &str)> = Vec::new();
    for p in [
        "/maxage",
        "/public",
        "/private",
        "/nostore",
        "/expires",
        "/etag",
        "/lastmod",
        "/none",
        "/404",
        "/vary",
        "/cookie",
        "/big",
        "/age",
        "/oldage",
        "/chunked",
        "/smaxage0",
        "/pragma",
        "/conn",
    ] {
        steps.push(("GET", p.into(), plain.to_vec(), "1.1"));
        steps.push(("GET", p.into(), plain.to_vec(), "1.1"));
    }
    let ims_after = "If-Modified-Since: Tue, 02 Jan 2024 00:00:00 GMT";
    let more: Vec<(&str, &str, Vec<&str>, &str)> = vec![
        ("HEAD", "/maxage", vec![], "1.1"),
        ("HEAD", "/headfirst", vec![], "1.1"),
        ("GET", "/headfirst", vec![], "1.1"),
        ("GET", "/etag", vec!["If-None-Match: \"v1\""], "1.1"),
        ("GET", "/etag", vec!["If-None-Match: \"v2\""], "1.1"),
        ("GET", "/etag", vec!["If-None-Match: *"], "1.1"),
        ("GET", "/lastmod", vec![ims_after], "1.1"),
        (
            "GET",
            "/lastmod",
            vec!["If-Modified-Since: Sun, 31 Dec 2023 00:00:00 GMT"],
            "1.1",
        ),
        ("GET", "/maxage", vec![ims_after], "1.1"),
        ("GET", "/auth", vec!["Authorization: Basic eA=="], "1.1"),
        ("GET", "/auth", vec![], "1.1"),
        ("GET", "/maxage", vec!["Authorization: Basic eA=="], "1.1"),
        ("GET", "/nc", vec!["Cache-Control: no-cache"], "1.1"),
        ("GET", "/nc", vec![], "1.1"),
        ("GET", "/maxage", vec!["Cache-Control: no-cache"], "1.1"),
        ("GET", "/maxage", vec!["Pragma: no-cache"], "1.1"),
        ("GET", "/ns", vec!["Cache-Control: no-store"], "1.1"),
        ("GET", "/ns", vec![], "1.1"),
        ("GET", "/v10", vec![], "1.0"),
        ("GET", "/v10", vec![], "1.1"),
        ("GET", "/v10", vec![], "1.0"),
        ("POST", "/maxage", vec![], "1.1"),
        ("GET", "/maxage", vec![], "1.1"),
        ("GET", "/maxage?q=1", vec![], "1.1"),
        ("GET", "/maxage?q=1", vec![], "1.1"),
        // eviction: three 300 kB objects fill the 1 MB cache c2; a hit makes /evict/1 the
        // most recent, so /evict/4 evicts /evict/2
        ("GET", "/evict/1", vec![], "1.1"),
        ("GET", "/evict/2", vec![], "1.1"),
        ("GET", "/evict/3", vec![], "1.1"),
        ("GET", "/evict/1", vec![], "1.1"),
        ("GET", "/evict/4", vec![], "1.1"),
        ("GET", "/evict/1", vec![], "1.1"),
        ("GET", "/evict/3", vec![], "1.1"),
        ("GET", "/evict/2", vec![], "1.1"),
        // the monitor URI: 200, 503 under `monitor fail`, HEAD, and an other URI forwarded
        ("GET", "/health", vec![], "1.1"),
        ("GET", "/health", vec!["X-Fail: 1"], "1.1"),
        ("HEAD", "/health", vec![], "1.1"),
        ("GET", "/health?x", vec![], "1.1"),
    ];
    for (m, p, e, v) in more {
        steps.push((m, p.into(), e, v));
    }
    let (mut hits, mut ages) = (0, Vec::new());
    for (method, path, extra, version) in &steps {
        let what = format!("{method} {path} {extra:?} HTTP/{version}");
        let (h, hage) = request(hport, method, path, extra, version);
        let (f, fage) = request(fport, method, path, extra, version);
        assert_eq!(f.status, h.status, "{what}: status line");
        assert_eq!(f.fields, h.fields, "{what}: fields");
        assert!(
            f.body == h.body,
            "{what}: bodies differ ({} and {} bytes)",
            f.body.len(),
            h.body.len()
        );
        if let (Some(a), Some(b)) = (fage, hage) {
            hits += 1;
            ages.push((what.clone(), a, b));
        }
    }
    // keep-alive: a hit, a monitor answer and a miss on one client connection (curl reuses
    // it), the same bytes from both
    let mut bodies = Vec::new();
    for port in [hport, fport] {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "10", "-H", "Host: t"])
            .args(["/maxage", "/health", "/ka"].map(|p| format!("http://127.0.0.1:{port}{p}")))
            .output()
            .expect("run curl");
        assert!(out.status.success(), "curl keep-alive on {port}");
        bodies.push(out.stdout);
    }
    assert!(bodies[0] == bodies[1], "keep-alive: {bodies:?}");
    assert!(bodies[0].starts_with(b"body /maxage #"), "{bodies:?}");
    // the comparison compared hits: both served the same ones from their caches
    assert!(hits >= 15, "only {hits} hits");
    for (what, f, h) in &ages {
        assert!(f.abs_diff(*h) <= 2, "{what}: Age {f} vs {h}");
    }
    let (f, h) = (
        fcounts.lock().expect("counts").clone(),
        hcounts.lock().expect("counts").clone(),
    );
    assert_eq!(f, h, "requests per path at the servers");
    assert_eq!(f.get("/evict/2"), Some(&2), "evicted, fetched again");
    assert_eq!(f.get("/evict/1"), Some(&1), "kept by its use");
    assert_eq!(
        f.get("/health"),
        None,
        "the monitor URI never reaches a server"
    );

    // show cache: the same caches with the same number of objects
    let (fc, hc) = (show_cache(&fsock), show_cache(&hsock));
    assert_eq!(fc, hc, "show cache");
    assert_eq!(hc.len(), 2, "two caches: {hc:?}");

    // show stat: the same lookups and hits per proxy, the monitor's requests intercepted
    for (px, sv) in [("f", "FRONTEND"), ("b", "BACKEND"), ("small", "BACKEND")] {
        let cols = [
            "cache_lookups",
            "cache_hits",
            "intercepted",
            "hrsp_2xx",
            "hrsp_3xx",
        ];
        let (fv, hv) = (stat(&fsock, px, sv, &cols), stat(&hsock, px, sv, &cols));
        assert_eq!(fv, hv, "{px}/{sv}: {cols:?}");
    }
    assert_ne!(stat(&hsock, "b", "BACKEND", &["cache_hits"])[0], "0");

    // logs: every request but the monitor URI's, on both
    let (fl, hl) = (log_lines(&flog, 1), log_lines(&hlog, 1));
    for (who, lines) in [("fulcrum", &fl), ("haproxy", &hl)] {
        assert!(
            lines.iter().any(|l| l.contains("GET /maxage HTTP/1.1")),
            "{who} logged requests: {lines:?}"
        );
        assert!(
            !lines.iter().any(|l| l.contains(" /health HTTP")),
            "{who} logged the monitor URI: {lines:?}"
        );
    }
    assert_eq!(
        fl.iter().filter(|l| l.contains("/health?x")).count(),
        hl.iter().filter(|l| l.contains("/health?x")).count()
    );
    // hits are logged by `<CACHE>` as local answers: the same server, timers, status and
    // termination fields (`b/<CACHE> TR/0/0/0/T 200 BYTES - - LR--`), compared as sorted
    // lists: two requests answered back to back on different connections may log in either
    // order (each proxy logs after the answer is sent), in haproxy as in fulcrum
    let hit_fields = |lines: &[String]| -> Vec<String> {
        let mut v: Vec<String> = lines
            .iter()
            .filter(|l| l.contains("/<CACHE> "))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let at = f.iter().position(|w| w.ends_with("/<CACHE>")).unwrap_or(0);
                let mut timers: Vec<&str> = f[at + 1].split('/').take(4).collect();
                // %TR is how long the request took to arrive: 1 ms or more on a busy machine
                // (timings are not what this compares), -1 kept apart
                if let Some(tr) = timers.first_mut().filter(|t| **t != "-1") {
                    *tr = "TR";
                }
                format!("{} {} {} {}", f[at], timers.join("/"), f[at + 2], f[at + 6])
            })
            .collect();
        v.sort();
        v
    };
    let (fh, hh) = (hit_fields(&fl), hit_fields(&hl));
    assert_eq!(fh, hh, "hit log lines");
    assert!(hh.len() >= 15, "only {} hits logged: {hl:?}", hh.len());
}
