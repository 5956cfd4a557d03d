//! Server address forms and `source`, through a real `fulcrum run`: HTTP and TCP mode to
//! servers on a unix socket path and on an abstract (abns@) name, with health checks that take
//! them DOWN when their socket goes away and UP when it is back; and `source` seen by the
//! servers as the peer address of requests and of health checks alike.

mod common;

use common::{free_port, get, Fulcrum, Scratch};
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request through a `mode tcp` frontend (the server behind it speaks HTTP).
fn get_through_tcp(port: u16) -> String {
    get(port).unwrap_or_else(|e| format!("request failed: {e}"))
}

fn app_config(path: &str, abns: &str) -> String {
    format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend app_unix\n bind unix@{path}\n http-request return status 200 content-type text/plain string via-unix\n\
         frontend app_abns\n bind abns@{abns}\n http-request return status 200 content-type text/plain string via-abns\n"
    )
}

#[test]
fn http_and_tcp_to_unix_and_abns_servers_with_checks() {
    let scratch = Scratch::new("server-unix");
    let path = scratch.0.join("app.sock");
    let path = path.to_str().expect("utf-8 path").to_string();
    let abns = format!("fulcrum-server-abns-{}", std::process::id());
    let app_cfg = scratch.write("app.cfg", &app_config(&path, &abns));
    let app = Fulcrum::start(&app_cfg);

    let (wu, wa, tu, ta) = (free_port(), free_port(), free_port(), free_port());
    let chk = "check inter 100ms fall 2 rise 2";
    let cfg = scratch.write(
        "lb.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend web_unix\n bind 127.0.0.1:{wu}\n default_backend b_unix\n\
             frontend web_abns\n bind 127.0.0.1:{wa}\n default_backend b_abns\n\
             frontend tcp_unix\n mode tcp\n bind 127.0.0.1:{tu}\n default_backend t_unix\n\
             frontend tcp_abns\n mode tcp\n bind 127.0.0.1:{ta}\n default_backend t_abns\n\
             backend b_unix\n option httpchk GET /health\n option forwardfor\n server s unix@{path} {chk}\n\
             backend b_abns\n server s abns@{abns} {chk}\n\
             backend t_unix\n mode tcp\n server s {path} {chk}\n\
             backend t_abns\n mode tcp\n option httpchk\n server s abns@{abns} {chk}\n"
        ),
    );
    let lb = Fulcrum::start(&cfg);
    let served = |port: u16, body: &str| {
        let r = get_through_tcp(port);
        assert!(
            r.starts_with("HTTP/1.1 200") && r.ends_with(body),
            "port {port}: expected 200 {body}: {r}\n{}",
            lb.log_text()
        );
    };
    served(wu, "via-unix");
    served(wa, "via-abns");
    served(tu, "via-unix");
    served(ta, "via-abns");
    // Keep-alive on the client side, server connections reused from the pool: several requests
    // on one connection all answered.
    let mut c = TcpStream::connect(("127.0.0.1", wu)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    for i in 0..3 {
        c.write_all(format!("GET /k{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .expect("write");
        let mut buf = [0u8; 512];
        let n = c.read(&mut buf).expect("read");
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(
            text.starts_with("HTTP/1.1 200") && text.ends_with("via-unix"),
            "request {i}: {text}"
        );
    }
    drop(c);

    // The sockets go away: every check fails, the servers go DOWN, requests get 503.
    drop(app);
    for be in ["b_unix", "b_abns", "t_unix", "t_abns"] {
        let line = lb.wait_line(&format!("Server {be}/s is DOWN"), Duration::from_secs(15));
        assert!(line.is_some(), "{be}/s not DOWN: {}", lb.log_text());
    }
    let r = get_through_tcp(wu);
    assert!(r.starts_with("HTTP/1.1 503"), "{r}");

    // Back: checks pass `rise` times, the servers are UP and serve again.
    let _app = Fulcrum::start(&app_cfg);
    for be in ["b_unix", "b_abns", "t_unix", "t_abns"] {
        let line = lb.wait_line(&format!("Server {be}/s is UP"), Duration::from_secs(15));
        assert!(line.is_some(), "{be}/s not UP again: {}", lb.log_text());
    }
    served(wu, "via-unix");
    served(wa, "via-abns");
    served(tu, "via-unix");
    served(ta, "via-abns");
}

/// What a recording server saw: each connection's peer address and first request line.
type Seen = Arc<Mutex<Vec<(IpAddr, String)>>>;

/// A server on 127.0.0.1 recording each connection's peer address and first request line
/// (empty for a connection that sent nothing).
fn recording_server() -> (u16, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for _ in 0..10_000 {
            // The address `accept` returns: a check may reset its connection at once (as
            // HAProxy's), after which `peer_addr` has nothing to say.
            let Ok((conn, from)) = l.accept() else {
                continue;
            };
            let record = record.clone();
            std::thread::spawn(move || {
                let mut conn = conn;
                let peer = from.ip();
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let first = String::from_utf8_lossy(&buf)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                record.lock().expect("record").push((peer, first.clone()));
                if !first.is_empty() {
                    let _ = conn.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    );
                }
            });
        }
    });
    (port, seen)
}

#[test]
fn source_is_the_peer_address_of_requests_and_checks() {
    let scratch = Scratch::new("server-source");
    let (p1, seen1) = recording_server();
    let (p2, seen2) = recording_server();
    let (f1, f2) = (free_port(), free_port());
    let cfg = scratch.write(
        "lb.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n source 127.0.0.2\n\
             frontend web\n bind 127.0.0.1:{f1}\n default_backend b_http\n\
             frontend tcp\n mode tcp\n bind 127.0.0.1:{f2}\n default_backend b_tcp\n\
             backend b_http\n option httpchk GET /health\n server s 127.0.0.1:{p1} check inter 100ms\n\
             backend b_tcp\n mode tcp\n source 127.0.0.5\n option tcp-check\n tcp-check send PING\\r\\n\n server s 127.0.0.1:{p2} check inter 100ms source 127.0.0.3\n"
        ),
    );
    let lb = Fulcrum::start(&cfg);
    for port in [f1, f2] {
        let r = get(port).expect("request");
        assert!(
            r.starts_with("HTTP/1.1 200") && r.ends_with("ok"),
            "port {port}: {r}\n{}",
            lb.log_text()
        );
    }
    // Let a few checks run.
    let enough = |seen: &Seen, check: &dyn Fn(&str) -> bool| {
        common_wait(Duration::from_secs(10), || {
            seen.lock()
                .expect("seen")
                .iter()
                .filter(|(_, l)| check(l))
                .count()
                >= 2
        })
    };
    assert!(
        enough(&seen1, &|l| l.starts_with("GET /health")),
        "no httpchk seen: {:?}",
        seen1.lock().expect("seen")
    );
    // (a plain connect check is never accepted, as HAProxy's: its handshake's last ACK is
    // held back and the check resets first; a check that sends is)
    assert!(
        enough(&seen2, &|l| l == "PING"),
        "no TCP check seen: {:?}",
        seen2.lock().expect("seen")
    );
    // The defaults' source for b_http: its request and its checks.
    let s1 = seen1.lock().expect("seen").clone();
    assert!(s1.iter().any(|(_, l)| l.starts_with("GET / ")), "{s1:?}");
    assert!(
        s1.iter().all(|(ip, _)| ip.to_string() == "127.0.0.2"),
        "{s1:?}"
    );
    // The server's own source wins over its backend's.
    let s2 = seen2.lock().expect("seen").clone();
    assert!(s2.iter().any(|(_, l)| l.starts_with("GET / ")), "{s2:?}");
    assert!(
        s2.iter().all(|(ip, _)| ip.to_string() == "127.0.0.3"),
        "{s2:?}"
    );
}

fn common_wait(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    f()
}
