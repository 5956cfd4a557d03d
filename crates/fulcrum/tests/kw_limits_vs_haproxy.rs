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
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        );
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
    assert!(fulcrum_testlab::wait::listening(ports[0], Duration::from_secs(10)));
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
    let (status, loc, _) = request(p.ports[0], "GET /red/a?b=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &["location"]);
    assert_eq!((status.as_str(), loc[0].as_str()), ("302", "location: http://red.example/red/a?b=1"));
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
        assert!(until(|| stat(sock, "mq", "s1", "scur") == "1"), "{}: first request on s1", NAMES[i]);
        let second = send(2);
        assert!(until(|| stat(sock, "mq", "s1", "qcur") == "1"), "{}: second request queued on s1", NAMES[i]);
        let third = send(3).join().expect("third");
        let got = [first.join().expect("first"), second.join().expect("second"), third];
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
                    let head = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
                    request(port, &head, &[]).2 == "server s1"
                })
                .count();
            counts.push(n);
        }
        // slow start: s1 at 1/16 of its weight the first second, 2/16 the next (HAProxy's
        // ramp); without it, half
        assert!(counts[0] <= 12, "{}: s1 got {} of 40 during its slow start", NAMES[i], counts[0]);
        assert!((15..=25).contains(&counts[1]), "{}: s1 got {} of 40 without slow start", NAMES[i], counts[1]);
        shares.push(counts);
    }
    eprintln!("s1's requests of 40 (slow start, plain): fulcrum {:?}, haproxy {:?}", shares[0], shares[1]);
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
    let Some(p) = start("kw_track", |sock, port, port2| {
        format!(
            "global\n stats socket {} level admin\n{HEAD}\
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
            until(|| stat(sock, "t", "a", "status") == "UP" && stat(sock, "keep", "c", "status") == "UP"),
            "{}: servers UP", NAMES[i]
        );
        let mut shut = TcpStream::connect(("127.0.0.1", p.ports[i])).expect("connect");
        let mut kept = TcpStream::connect(("127.0.0.1", p.ports2[i])).expect("connect");
        for c in [&mut shut, &mut kept] {
            c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            assert!(round_trip(c, b"hello"), "{}: echo through the proxy", NAMES[i]);
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
    for (i, (shut, kept)) in conns.iter_mut().enumerate() {
        // `on-marked-down shutdown-sessions`: the session on `a` was closed
        let mut b = [0u8; 16];
        let closed = matches!(shut.read(&mut b), Ok(0) | Err(_));
        assert!(closed, "{}: the session on a is closed", NAMES[i]);
        // without it, the session on `c` goes on
        assert!(round_trip(kept, b"still"), "{}: the session on c goes on", NAMES[i]);
    }
}
