//! `option abortonclose` (issue 19 item 8), side by side with the real `haproxy`: a backend
//! whose only server takes one request at a time (`maxconn 1`) holds request A; request B
//! queues behind it and its client closes; request C queues after B. When A is answered the
//! queue drains. Without the option the closed client's request B is still sent to the server
//! (a close may be a half-close); with it, B is dropped and the server sees only A and C.
//! Each proxy runs with and without the option, the close arriving with the request or while it
//! is queued; the queue length is read on each one's stats socket (`show stat` qcur) instead of
//! waiting a fixed time. Measured: haproxy 2.6 sends B in every case (it does not watch a
//! queued request's client connection); fulcrum drops it with the option, as the option's
//! documentation describes, and sends it without.

mod common;

use common::{free_port, Fulcrum, Scratch};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The server: answers every request at once except the first, held until `release` fires;
/// records each request's path.
fn server(release: mpsc::Receiver<()>) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for (n, c) in l.incoming().flatten().take(100).enumerate() {
            let mut r = BufReader::new(c);
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
                    break;
                }
            }
            if let Ok(mut v) = s.lock() {
                v.push(path);
            }
            if n == 0 {
                let _ = release.recv_timeout(Duration::from_secs(20));
            }
            let _ = r
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (port, seen)
}

fn query(path: &Path, line: &str) -> Option<String> {
    let mut s = UnixStream::connect(path).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(format!("{line}\n").as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// The backend's `qcur` from `show stat`.
fn queued(sock: &Path) -> Option<u64> {
    let out = query(sock, "show stat")?;
    out.lines()
        .find(|l| l.starts_with("b,BACKEND,"))
        .and_then(|l| l.split(',').nth(2))
        .and_then(|q| q.parse().ok())
}

fn request(port: u16, path: &str) -> TcpStream {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .expect("write");
    c
}

fn answered(mut c: TcpStream) -> bool {
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    out.starts_with("HTTP/1.1 200")
}

/// One run; the paths the server received.
fn run(haproxy: bool, abort: bool, fin_with_request: bool) -> Vec<String> {
    let scratch = Scratch::new(&format!(
        "abortonclose-{haproxy}-{abort}-{fin_with_request}"
    ));
    let (tx, rx) = mpsc::channel();
    let (sport, seen) = server(rx);
    let front = free_port();
    let sock = scratch.0.join("admin.sock");
    let cfg = scratch.write(
        "p.cfg",
        &format!(
            "global\n stats socket {} mode 600 level admin\n\
             defaults\n mode http\n timeout connect 2s\n timeout client 20s\n timeout server 20s\n timeout queue 20s\n\
             frontend f\n bind 127.0.0.1:{front}\n default_backend b\n\
             backend b\n{} server s 127.0.0.1:{sport} maxconn 1\n",
            sock.display(),
            if abort { " option abortonclose\n" } else { "" }
        ),
    );
    let _proxy: Box<dyn std::any::Any> = if haproxy {
        let h = fulcrum_testlab::process::Child::haproxy(&cfg, scratch.0.join("h.log"));
        let up = fulcrum_testlab::wait::until(Duration::from_secs(10), || queued(&sock).is_some());
        assert!(up.is_some(), "haproxy up: {}", h.output());
        Box::new(h)
    } else {
        Box::new(Fulcrum::start(&cfg))
    };
    let wait_queue = |n: u64| {
        let ok = fulcrum_testlab::wait::until(Duration::from_secs(10), || queued(&sock) == Some(n));
        assert!(
            ok.is_some(),
            "queue never reached {n} (now {:?})",
            queued(&sock)
        );
    };
    let a = request(front, "/a");
    let held = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        seen.lock().is_ok_and(|v| v.len() == 1)
    });
    assert!(held.is_some(), "request A reached the server");
    let b = request(front, "/b");
    if fin_with_request {
        // The client closes right after its request: the close arrives with it.
        let _ = b.shutdown(std::net::Shutdown::Write);
    }
    // With `abortonclose`, a close that arrives with the request may drop B at once (before
    // anyone can see it queued): then only C queues.
    let dropped_at_once = abort && fin_with_request;
    if !dropped_at_once {
        wait_queue(1);
    }
    let c = request(front, "/c");
    if dropped_at_once {
        let ok = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
            matches!(queued(&sock), Some(1 | 2))
        });
        assert!(ok.is_some(), "C never queued (now {:?})", queued(&sock));
    } else {
        wait_queue(2);
    }
    drop(b); // the client closes while B is queued
    if abort {
        // A proxy may drop B at once (the queue shrinks) or when it reaches the head of the
        // queue; give it the chance to show the former (bounded), then drain.
        let _ = fulcrum_testlab::wait::until(Duration::from_secs(3), || queued(&sock) == Some(1));
    }
    let _ = tx.send(());
    let which = format!(
        "{} run, abortonclose {abort}, close with the request {fin_with_request}",
        if haproxy { "haproxy's" } else { "fulcrum's" }
    );
    assert!(answered(a), "A answered ({which})");
    let t = std::time::Instant::now();
    let c_ok = answered(c);
    let detail = format!(
        "{which}; after {:?}; queue now {:?}; server saw {:?}",
        t.elapsed(),
        queued(&sock),
        seen.lock().map(|v| v.clone()).unwrap_or_default()
    );
    if haproxy && !c_ok {
        // Seen in about one run in eight under load: haproxy 2.6 leaves C queued until
        // `timeout queue` after dropping B (close with the request, `abortonclose`) although
        // the server's one slot is free: its own race, reported, not required of it.
        eprintln!("haproxy did not answer C: {detail}");
    }
    assert!(c_ok || haproxy, "C answered ({detail})");
    let v = seen.lock().map(|v| v.clone()).unwrap_or_default();
    v
}

#[test]
fn abortonclose_drops_a_queued_request_whose_client_left() {
    if !fulcrum_testlab::require::tool("abortonclose", "haproxy", "haproxy") {
        return;
    }
    for fin_with_request in [true, false] {
        for abort in [false, true] {
            let h = run(true, abort, fin_with_request);
            let f = run(false, abort, fin_with_request);
            eprintln!(
                "abortonclose {abort}, close {}: haproxy's server saw {h:?}, fulcrum's {f:?}",
                if fin_with_request {
                    "with the request"
                } else {
                    "while queued"
                }
            );
            let want: &[&str] = if abort {
                &["/a", "/c"]
            } else {
                &["/a", "/b", "/c"]
            };
            assert_eq!(f, want, "fulcrum, abortonclose {abort}");
            // haproxy 2.6 forwards B in both cases even with the option (measured here: it
            // does not look at a queued request's client connection), so only that it ran
            // is required of it (and that it served A: it sometimes leaves C queued, see `run`); its
            // figures are printed beside fulcrum's.
            // (B and C may reach haproxy's server in either order once the queue drains.)
            assert!(
                h.first().map(String::as_str) == Some("/a"),
                "haproxy served A first: {h:?}"
            );
        }
    }
}
