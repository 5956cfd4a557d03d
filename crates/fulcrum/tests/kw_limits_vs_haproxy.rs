//! Issue 13 deliverable 8: keywords fulcrum used to warn about and ignore, now run, side by
//! side with the real haproxy 2.6 on the same configuration: server `redir` (the 302 and its
//! fields), `option prefer-last-server` (which servers a keep-alive connection's requests
//! reach), `maxqueue` (a persistent request past the server's queue gets 503), `slowstart`
//! (a server back from maintenance gets a small share at first), `track` and `on-marked-down
//! shutdown-sessions` (the stats' status of the tracking server, the session closed), bind
//! `mss` (the MSS a client sees), `interface` (the socket `ss` lists), `defer-accept` (a
//! silent connection is not accepted), bind `maxconn` (a second client waits), global
//! `maxconnrate` and `tune.http.logurilen` (the request line of the log line).

mod common;

use common::{free_port, Fulcrum, Scratch};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

const HEAD: &str = "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n timeout queue 5s\n";

/// A keep-alive HTTP server answering `server NAME` (after `slow` when the path has "slow").
fn app(name: &'static str, slow: Duration) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(c) = c else { continue };
            std::thread::spawn(move || serve(c, name, slow));
        }
    });
    port
}

fn serve(c: TcpStream, name: &str, slow: Duration) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
    let mut w = c.try_clone().expect("clone");
    let mut r = BufReader::new(c);
    loop {
        let mut first = String::new();
        if r.read_line(&mut first).unwrap_or(0) == 0 {
            return;
        }
        let mut len = 0usize;
        loop {
            let mut l = String::new();
            if r.read_line(&mut l).unwrap_or(0) == 0 {
                return;
            }
            let t = l.trim_end();
            if t.is_empty() {
                break;
            }
            if let Some((n, v)) = t.split_once(':') {
                if n.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        if first.contains("slow") {
            std::thread::sleep(slow);
        }
        let b = format!("server {name}");
        let resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{b}", b.len());
        if w.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// A TCP echo server.
fn echo() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            std::thread::spawn(move || {
                let mut b = [0u8; 1024];
                while let Ok(n) = c.read(&mut b) {
                    if n == 0 || c.write_all(&b[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// One runtime-socket command's answer.
fn cli(sock: &Path, cmd: &str) -> String {
    let Ok(mut s) = UnixStream::connect(sock) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(format!("{cmd}\n").as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// `show stat`'s column `col` of PROXY/NAME.
fn stat(sock: &Path, px: &str, name: &str, col: &str) -> String {
    let out = cli(sock, "show stat");
    let mut lines = out.lines();
    let head: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let Some(i) = head.iter().position(|c| *c == col) else {
        return String::new();
    };
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&px) && f.get(1) == Some(&name))
        .and_then(|f| f.get(i).map(|v| v.to_string()))
        .unwrap_or_default()
}

/// Waits (bounded) until `what` holds; false after 10 s.
fn until(what: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if what() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// One request on a new connection: (status, the named header fields, body).
fn request(port: u16, head: &str, fields: &[&str]) -> (String, Vec<String>, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(head.as_bytes()).expect("send");
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    parse(&all, fields)
}

fn parse(all: &str, fields: &[&str]) -> (String, Vec<String>, String) {
    let status = all.split(' ').nth(1).unwrap_or("").to_string();
    let (head, body) = all.split_once("\r\n\r\n").unwrap_or((all, ""));
    let got = fields
        .iter()
        .map(|f| {
            head.lines()
                .filter_map(|l| l.split_once(':'))
                .filter(|(n, _)| n.eq_ignore_ascii_case(f))
                .map(|(n, v)| format!("{}: {}", n.to_ascii_lowercase(), v.trim()))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    (status, got, body.to_string())
}

/// `n` requests on one keep-alive connection: the server names answering.
fn keep_alive(port: u16, path: &str, n: usize) -> Vec<String> {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    let mut out = Vec::new();
    for _ in 0..n {
        w.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .expect("send");
        let mut len = 0usize;
        loop {
            let mut l = String::new();
            if r.read_line(&mut l).unwrap_or(0) == 0 {
                return out;
            }
            let t = l.trim_end();
            if t.is_empty() {
                break;
            }
            if let Some((n, v)) = t.split_once(':') {
                if n.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return out;
        }
        out.push(String::from_utf8_lossy(&body).to_string());
    }
    out
}

/// Both proxies on `cfg(sock, port, port2)`: fulcrum's and haproxy's runtime sockets and
/// ports (`ports2`: a second port each, for a second frontend).
struct Pair {
    _f: Fulcrum,
    _h: fulcrum_testlab::process::Child,
    socks: [std::path::PathBuf; 2],
    ports: [u16; 2],
    ports2: [u16; 2],
    _scratch: Scratch,
}

fn start(tag: &str, cfg: impl Fn(&Path, u16, u16) -> String) -> Option<Pair> {
    if !fulcrum_testlab::require::tool(tag, "haproxy", "haproxy") {
        return None;
    }
    let scratch = Scratch::new(tag);
    let socks = [scratch.0.join("f.sock"), scratch.0.join("h.sock")];
    let ports = [free_port(), free_port()];
    let ports2 = [free_port(), free_port()];
    let fcfg = scratch.write("f.cfg", &cfg(&socks[0], ports[0], ports2[0]));
    let hcfg = scratch.write("h.cfg", &cfg(&socks[1], ports[1], ports2[1]));
    let f = Fulcrum::start(&fcfg);
    let h = fulcrum_testlab::process::Child::haproxy_listening(
        &hcfg,
        hcfg.with_extension("log"),
        ports[1],
    );
    assert!(fulcrum_testlab::wait::listening(
        ports[0],
        Duration::from_secs(10)
    ));
    Some(Pair {
        _f: f,
        _h: h,
        socks,
        ports,
        ports2,
        _scratch: scratch,
    })
}

const NAMES: [&str; 2] = ["fulcrum", "haproxy"];

#[test]
fn redir_prefer_last_server_and_maxqueue_as_haproxy() {
    let red = app("red", Duration::ZERO);
    let (a1, a2) = (app("s1", Duration::ZERO), app("s2", Duration::ZERO));
    let slow = app("slow", Duration::from_millis(1500));
    let Some(p) = start("kw_server_keywords", |sock, port, _| {
        format!(
            "global\n stats socket {} level admin\n{HEAD}\
             frontend f\n bind 127.0.0.1:{port}\n\
             use_backend red if {{ path_beg /red }}\n use_backend pls if {{ path_beg /pls }}\n use_backend pl if {{ path_beg /pl }}\n\
             use_backend mq if {{ path_beg /mq }}\n default_backend rr\n\
             backend red\n server r 127.0.0.1:{red} redir http://red.example\n\
             backend pl\n option prefer-last-server\n http-reuse never\n server s1 127.0.0.1:{a1}\n server s2 127.0.0.1:{a2}\n\
             backend pls\n option prefer-last-server\n server s1 127.0.0.1:{a1}\n server s2 127.0.0.1:{a2}\n\
             backend rr\n server s1 127.0.0.1:{a1}\n server s2 127.0.0.1:{a2}\n\
             backend mq\n cookie SRV\n server s1 127.0.0.1:{slow} cookie s1 maxconn 1 maxqueue 1\n server s2 127.0.0.1:{a2} cookie s2\n",
            sock.display()
        )
    }) else {
        return;
    };
    // `redir`: GET and HEAD get the 302 with the path and query; POST goes to the server
    let fields = ["location", "cache-control", "content-length"];
    for head in [
        "GET /red/a?b=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "HEAD /red HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "POST /red HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    ] {
        let [f, h] = p.ports.map(|port| request(port, head, &fields));
        assert_eq!(f, h, "{head}: fulcrum vs haproxy");
    }
    let (status, loc, _) = request(
        p.ports[0],
        "GET /red/a?b=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        &["location"],
    );
    assert_eq!(
        (status.as_str(), loc[0].as_str()),
        ("302", "location: http://red.example/red/a?b=1")
    );
    // `option prefer-last-server`: a keep-alive connection whose server connection is its own
    // (`http-reuse never`) stays on its server; a shared one (`http-reuse safe`, the
    // default: haproxy gives it back to the server's idle list) and none: round robin
    for path in ["/pls", "/pl", "/rr"] {
        let [f, h] = p.ports.map(|port| keep_alive(port, path, 4));
        assert_eq!(f, h, "{path}: servers reached, fulcrum vs haproxy");
        assert_eq!(f.len(), 4);
        let same = f.iter().all(|s| *s == f[0]);
        assert_eq!(same, path == "/pl", "{path}: {f:?}");
    }
    // `maxqueue 1` behind `maxconn 1`: a persistent request waits for the server; the next
    // one finds the queue full and gets 503 (no `option redispatch`)
    for (i, (&port, sock)) in p.ports.iter().zip(&p.socks).enumerate() {
        let send = |n: u32| {
            std::thread::spawn(move || {
                request(
                    port,
                    &format!("GET /mq/slow{n} HTTP/1.1\r\nHost: t\r\nCookie: SRV=s1\r\nConnection: close\r\n\r\n"),
                    &[],
                )
                .0
            })
        };
        let first = send(1);
        assert!(
            until(|| stat(sock, "mq", "s1", "scur") == "1"),
            "{}: first request on s1",
            NAMES[i]
        );
        let second = send(2);
        assert!(
            until(|| stat(sock, "mq", "s1", "qcur") == "1"),
            "{}: second request queued on s1",
            NAMES[i]
        );
        let third = send(3).join().expect("third");
        let got = [
            first.join().expect("first"),
            second.join().expect("second"),
            third,
        ];
        assert_eq!(got, ["200", "200", "503"], "{}", NAMES[i]);
    }
}

#[test]
fn slowstart_gives_a_returning_server_a_small_share_as_haproxy() {
    let (a1, a2) = (app("s1", Duration::ZERO), app("s2", Duration::ZERO));
    let Some(p) = start("kw_slowstart", |sock, port, _| {
        format!(
            "global\n stats socket {} level admin\n{HEAD}\
             frontend f\n bind 127.0.0.1:{port}\n use_backend plain if {{ path_beg /plain }}\n default_backend ss\n\
             backend ss\n server s1 127.0.0.1:{a1} weight 100 slowstart 10s\n server s2 127.0.0.1:{a2} weight 100\n\
             backend plain\n server s1 127.0.0.1:{a1} weight 100\n server s2 127.0.0.1:{a2} weight 100\n",
            sock.display()
        )
    }) else {
        return;
    };
    let mut shares = Vec::new();
    for (i, (&port, sock)) in p.ports.iter().zip(&p.socks).enumerate() {
        let mut counts = Vec::new();
        for (be, path) in [("ss", "/"), ("plain", "/plain")] {
            cli(sock, &format!("set server {be}/s1 state maint"));
            cli(sock, &format!("set server {be}/s1 state ready"));
            let n = (0..40)
                .filter(|_| {
                    let head =
                        format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
                    request(port, &head, &[]).2 == "server s1"
                })
                .count();
            counts.push(n);
        }
        // slow start: s1 at 1/16 of its weight the first second, 2/16 the next (HAProxy's
        // ramp); without it, half
        assert!(
            counts[0] <= 12,
            "{}: s1 got {} of 40 during its slow start",
            NAMES[i],
            counts[0]
        );
        assert!(
            (15..=25).contains(&counts[1]),
            "{}: s1 got {} of 40 without slow start",
            NAMES[i],
            counts[1]
        );
        shares.push(counts);
    }
    eprintln!(
        "s1's requests of 40 (slow start, plain): fulcrum {:?}, haproxy {:?}",
        shares[0], shares[1]
    );
}

/// An echoed round trip on `c`: whether `msg` came back.
fn round_trip(c: &mut TcpStream, msg: &[u8]) -> bool {
    if c.write_all(msg).is_err() {
        return false;
    }
    let mut b = vec![0u8; msg.len()];
    c.read_exact(&mut b).is_ok() && b == msg
}

#[test]
fn track_and_shutdown_sessions_as_haproxy() {
    let (e1, e2) = (echo(), echo());
    // the checks of `a` and `c` go to a port the test closes to mark them DOWN (both proxies)
    let checks = TcpListener::bind("127.0.0.1:0").expect("bind");
    let chk = checks.local_addr().expect("addr").port();
    // each proxy's syslog: the tracking server's state lines
    let logs: Vec<std::net::UdpSocket> = (0..2)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("udp"))
        .collect();
    let log_ports: Vec<u16> = logs
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let Some(p) = start("kw_track", |sock, port, port2| {
        let log = log_ports[n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)];
        format!(
            "global\n stats socket {} level admin\n log 127.0.0.1:{log} local0\n{HEAD} log global\n\
             frontend f\n mode tcp\n bind 127.0.0.1:{port}\n default_backend t\n\
             frontend g\n mode tcp\n bind 127.0.0.1:{port2}\n default_backend keep\n\
             backend t\n mode tcp\n server a 127.0.0.1:{e1} check port {chk} inter 200ms rise 1 fall 1 on-marked-down shutdown-sessions\n\
             backend t2\n mode tcp\n server b 127.0.0.1:{e2} track t/a\n\
             backend keep\n mode tcp\n server c 127.0.0.1:{e2} check port {chk} inter 200ms rise 1 fall 1\n",
            sock.display()
        )
    }) else {
        return;
    };
    let mut conns = Vec::new();
    for (i, sock) in p.socks.iter().enumerate() {
        assert!(
            until(|| stat(sock, "t", "a", "status") == "UP"
                && stat(sock, "keep", "c", "status") == "UP"),
            "{}: servers UP",
            NAMES[i]
        );
        let mut shut = TcpStream::connect(("127.0.0.1", p.ports[i])).expect("connect");
        let mut kept = TcpStream::connect(("127.0.0.1", p.ports2[i])).expect("connect");
        for c in [&mut shut, &mut kept] {
            c.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            assert!(
                round_trip(c, b"hello"),
                "{}: echo through the proxy",
                NAMES[i]
            );
        }
        conns.push((shut, kept));
    }
    assert_eq!(
        stat(&p.socks[0], "t2", "b", "status"),
        stat(&p.socks[1], "t2", "b", "status"),
        "the tracking server's status while UP"
    );
    // the checks fail from now on: `a` and `c` go DOWN, `b` follows `a`
    drop(checks);
    for (i, sock) in p.socks.iter().enumerate() {
        assert!(
            until(|| stat(sock, "t", "a", "status").starts_with("DOWN")
                && stat(sock, "keep", "c", "status").starts_with("DOWN")
                && stat(sock, "t2", "b", "status").starts_with("DOWN")),
            "{}: a, c and b (tracking a) DOWN: b is {}",
            NAMES[i],
            stat(sock, "t2", "b", "status")
        );
    }
    for col in ["status", "check_status", "weight"] {
        assert_eq!(
            stat(&p.socks[0], "t2", "b", col),
            stat(&p.socks[1], "t2", "b", col),
            "the tracking server's {col} while DOWN"
        );
    }
    // `Server t2/b is DOWN via t/a. ...`, word for word
    let via: Vec<String> = logs
        .iter()
        .map(|l| {
            l.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            let mut b = [0u8; 2048];
            for _ in 0..20 {
                let Ok(n) = l.recv(&mut b) else { break };
                let line = String::from_utf8_lossy(&b[..n]).to_string();
                if let Some((_, msg)) = line.split_once(" via ").and(line.split_once("]: ")) {
                    return msg.trim().to_string();
                }
            }
            String::new()
        })
        .collect();
    assert_eq!(via[0], via[1], "the tracking server's DOWN line");
    assert!(
        via[0].starts_with("Server t2/b is DOWN via t/a."),
        "{via:?}"
    );
    for (i, (shut, kept)) in conns.iter_mut().enumerate() {
        // `on-marked-down shutdown-sessions`: the session on `a` was closed
        let mut b = [0u8; 16];
        let closed = matches!(shut.read(&mut b), Ok(0) | Err(_));
        assert!(closed, "{}: the session on a is closed", NAMES[i]);
        // without it, the session on `c` goes on
        assert!(
            round_trip(kept, b"still"),
            "{}: the session on c goes on",
            NAMES[i]
        );
    }
}

/// The local address `ss` lists for the sockets listening on `port` (`ADDR%DEV:PORT` with
/// SO_BINDTODEVICE).
fn ss_local(port: u16) -> Vec<String> {
    let out = std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
        .expect("ss (iproute2)");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn bind_options_as_haproxy() {
    // answers at once, but `/slow` after 1.5 s
    let slow = app("app", Duration::from_millis(1500));
    // ports: mss, interface, defer-accept, its control, maxconn, its control (each proxy)
    let extra: Vec<[u16; 5]> = (0..2)
        .map(|_| {
            [
                free_port(),
                free_port(),
                free_port(),
                free_port(),
                free_port(),
            ]
        })
        .collect();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let Some(p) = start("kw_bind", |sock, port, port2| {
        let [m, i, d, c, k] = extra[n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)];
        format!(
            "global\n stats socket {} level admin\n{HEAD}\
             frontend plain\n bind 127.0.0.1:{port}\n default_backend b\n\
             frontend mss\n bind 127.0.0.1:{m} mss 1200\n default_backend b\n\
             frontend dev\n bind 127.0.0.1:{i} interface lo\n default_backend b\n\
             frontend defer\n bind 127.0.0.1:{d} defer-accept\n default_backend b\n\
             frontend nodefer\n bind 127.0.0.1:{c}\n default_backend b\n\
             frontend one\n bind 127.0.0.1:{port2} maxconn 1\n default_backend b\n\
             frontend many\n bind 127.0.0.1:{k}\n default_backend b\n\
             backend b\n server s1 127.0.0.1:{slow}\n",
            sock.display()
        )
    }) else {
        return;
    };
    for (i, [m, dev, ..]) in extra.iter().enumerate() {
        assert!(
            fulcrum_testlab::wait::listening(*m, Duration::from_secs(10)),
            "{}",
            NAMES[i]
        );
        let _ = dev;
    }
    // `mss 1200`: the MSS a client's socket gets from the listener's SYN-ACK
    let mss = |port: u16| {
        let c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        socket2::SockRef::from(&c).mss().expect("TCP_MAXSEG")
    };
    let [f, h] = [0, 1].map(|i| (mss(extra[i][0]), mss(p.ports[i])));
    assert_eq!(f, h, "(mss listener, plain listener): fulcrum vs haproxy");
    assert!(f.0 < f.1 && f.0 <= 1200, "mss 1200 lowers the MSS: {f:?}");
    // `interface lo`: SO_BINDTODEVICE, as `ss` shows it
    let [f, h] = [0, 1].map(|i| ss_local(extra[i][1]));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        f[0].replace(&extra[0][1].to_string(), "P"),
        h[0].replace(&extra[1][1].to_string(), "P")
    );
    assert!(f[0].contains("%lo"), "{f:?}");
    for (i, sock) in p.socks.iter().enumerate() {
        let [_, _, d, c, k] = extra[i];
        // `defer-accept`: a connection that sends nothing is not accepted (counted) while
        // the same one to a plain listener is
        let mut silent_d = TcpStream::connect(("127.0.0.1", d)).expect("connect");
        let _silent_c = TcpStream::connect(("127.0.0.1", c)).expect("connect");
        assert!(
            until(|| stat(sock, "nodefer", "FRONTEND", "stot") == "1"),
            "{}: plain listener accepts",
            NAMES[i]
        );
        assert_eq!(
            stat(sock, "defer", "FRONTEND", "stot"),
            "0",
            "{}: deferred",
            NAMES[i]
        );
        silent_d
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        silent_d
            .write_all(b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .expect("send");
        let mut all = String::new();
        let _ = silent_d.read_to_string(&mut all);
        assert!(
            all.starts_with("HTTP/1.1 200"),
            "{}: deferred then served: {all}",
            NAMES[i]
        );
        // bind `maxconn 1`: a second client waits for the first one's connection to end;
        // without it, the quick one is answered first
        for (port, limited) in [(p.ports2[i], true), (k, false)] {
            let t0 = Instant::now();
            let slow_req = std::thread::spawn(move || {
                request(
                    port,
                    "GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                    &[],
                );
                t0.elapsed()
            });
            let fe = if limited { "one" } else { "many" };
            assert!(
                until(|| stat(sock, fe, "FRONTEND", "scur") == "1"),
                "{}: first client in",
                NAMES[i]
            );
            let (status, _, body) = request(
                port,
                "GET /fast HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                &[],
            );
            let fast_done = t0.elapsed();
            assert_eq!(
                (status.as_str(), body.as_str()),
                ("200", "server app"),
                "{}",
                NAMES[i]
            );
            let slow_done = slow_req.join().expect("slow");
            // the slow answer takes 1.5 s: waiting behind it means done after ~1.5 s (the two
            // end within microseconds of each other then, in either order)
            let waited = if limited {
                fast_done >= Duration::from_millis(1400)
            } else {
                fast_done >= slow_done
            };
            assert_eq!(
                waited, limited,
                "{} {fe}: quick client done at {fast_done:?}, slow one at {slow_done:?}",
                NAMES[i]
            );
        }
    }
}

/// The next syslog datagram's request line (the last quoted field of an httplog line),
/// past the `<BADREQ>` lines of the port probes (`wait::listening` connects and closes: both
/// proxies log that, not always in the same order relative to the requests).
fn logged_request(sock: &std::net::UdpSocket) -> String {
    let mut b = [0u8; 4096];
    for _ in 0..10 {
        let n = sock.recv(&mut b).expect("a log line");
        let line = String::from_utf8_lossy(&b[..n]).to_string();
        let end = line.rfind('"').unwrap_or(0);
        let start = line[..end].rfind('"').map_or(0, |s| s + 1);
        if let Some(r) = line.split_once("R=") {
            return r.1.trim_end().to_string();
        }
        if &line[start..end] != "<BADREQ>" {
            return line[start..end].to_string();
        }
    }
    panic!("only <BADREQ> lines logged");
}

#[test]
fn maxconnrate_and_logurilen_as_haproxy() {
    let fast = app("fast", Duration::ZERO);
    let logs: Vec<std::net::UdpSocket> = (0..2)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("udp"))
        .collect();
    for l in &logs {
        l.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
    }
    let log_ports: Vec<u16> = logs
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let Some(p) = start("kw_rates", |sock, port, port2| {
        let log = log_ports[n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)];
        format!(
            "global\n stats socket {} level admin\n maxconnrate 4\n tune.http.logurilen 40\n log 127.0.0.1:{log} local0\n{HEAD}\
             \x20log global\n option httplog\n\
             frontend f\n bind 127.0.0.1:{port}\n default_backend b\n\
             frontend parts\n bind 127.0.0.1:{port2}\n log-format \"R=%HM|%HU|%HP|%HQ|%HV|%ST\"\n default_backend b\n\
             backend b\n server s1 127.0.0.1:{fast}\n",
            sock.display()
        )
    }) else {
        return;
    };
    // `tune.http.logurilen 40`: the request line logged is cut to 40 bytes
    for path in [
        "/short",
        "/a-much-longer-path-that-goes-on-and-on?and=a&query=string",
    ] {
        let [f, h] = [0, 1].map(|i| {
            let head = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            assert_eq!(request(p.ports[i], &head, &[]).0, "200");
            logged_request(&logs[i])
        });
        assert_eq!(f, h, "{path}: the request line logged");
        assert!(f.len() <= 40, "{f}");
    }
    // ... and the request line's parts are read from the cut line (`%HV` is then HTTP/0.9).
    // (`%ST` in the format: haproxy 2.6 logs a line of request-line variables alone twice.)
    for path in [
        "/short?q",
        "/a-much-longer-path-that-goes?on=and&on",
        "/a-much-longer-path-that-goes-on-and-on?q",
    ] {
        let [f, h] = [0, 1].map(|i| {
            let head = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            assert_eq!(request(p.ports2[i], &head, &[]).0, "200");
            logged_request(&logs[i])
        });
        assert_eq!(f, h, "{path}: %HM|%HU|%HP|%HQ|%HV logged");
    }
    // `maxconnrate 4`: 12 connections at once are accepted at 4 per second
    for (i, &port) in p.ports.iter().enumerate() {
        // a second for the connections made above to leave the rate's window
        std::thread::sleep(Duration::from_millis(1100));
        let t0 = Instant::now();
        let done: Vec<_> = (0..12)
            .map(|_| {
                std::thread::spawn(move || {
                    let r = request(
                        port,
                        "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                        &[],
                    );
                    (r.0, t0.elapsed())
                })
            })
            .collect();
        let done: Vec<(String, Duration)> = done
            .into_iter()
            .map(|t| t.join().expect("client"))
            .collect();
        assert!(
            done.iter().all(|(s, _)| s == "200"),
            "{}: {done:?}",
            NAMES[i]
        );
        let early = done
            .iter()
            .filter(|(_, t)| *t < Duration::from_millis(700))
            .count();
        // HAProxy's `freq_ctr` counts in periods aligned to the clock and weighs the last
        // period in: a burst that straddles a period boundary gets up to twice the rate
        // (CI saw haproxy answer 4 at once and 4 more 11 ms later). At 4 a second, 12 at once
        // still leave at least 4 waiting past 0.7 s.
        assert!(
            (1..=8).contains(&early),
            "{}: {early} of 12 answered in the first 0.7 s: {done:?}",
            NAMES[i]
        );
    }
}
