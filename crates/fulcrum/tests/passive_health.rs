//! Passive health through `fulcrum run`: a server answering 500 to real requests is taken out
//! of rotation by `observe layer7 error-limit 2 on-error mark-down`, with HAProxy's log line,
//! while its active checks (TCP, every 10 s) would still pass: only the data plane's
//! observations can have done it.

mod common;

use common::{free_port, get, Fulcrum, Scratch};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A tiny HTTP server answering `status` with `body` to every request; counts the requests
/// (connections that sent something: TCP checks send nothing).
fn serve(listener: TcpListener, status: &'static str, body: &'static str) -> Arc<AtomicUsize> {
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten().take(10_000) {
            let mut conn = conn;
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            if matches!(conn.read(&mut buf), Ok(n) if n > 0) {
                seen.fetch_add(1, Ordering::SeqCst);
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        }
    });
    requests
}

#[test]
fn a_server_answering_500_is_marked_down_by_observe_layer7() {
    let (front, app1, app2) = (free_port(), free_port(), free_port());
    let bad = serve(
        TcpListener::bind(("127.0.0.1", app1)).expect("bind app-1"),
        "500 Internal Server Error",
        "broken app-1\n",
    );
    let good = serve(
        TcpListener::bind(("127.0.0.1", app2)).expect("bind app-2"),
        "200 OK",
        "from app-2\n",
    );
    let scratch = Scratch::new("passive-health");
    let cfg = scratch.write(
        "p.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend www\n bind 127.0.0.1:{front}\n default_backend app_pool\n\
             backend app_pool\n balance roundrobin\n\
             default-server check inter 10s fall 3 rise 2 observe layer7 error-limit 2 on-error mark-down\n\
             server app-1 127.0.0.1:{app1}\n server app-2 127.0.0.1:{app2}\n"
        ),
    );
    let lb = Fulcrum::start(&cfg);
    let wait_line = |needle: &str, within: Duration| lb.wait_line(needle, within).map(|(_, l)| l);

    // Round robin: every other request meets app-1's 500 (passed to the client as is). Two
    // errors in a row take app-1 DOWN at once; send until then, bounded.
    let mut line = None;
    let mut five_hundreds = 0;
    for _ in 0..10 {
        let r = get(front).expect("request");
        if r.starts_with("HTTP/1.1 500") {
            five_hundreds += 1;
        }
        if five_hundreds >= 2 {
            line = wait_line("Server app_pool/app-1 is DOWN", Duration::from_secs(5));
            break;
        }
    }
    let line = line.expect("app-1 marked DOWN by passive health after 2 errors");
    assert!(line.contains("reason: Health analyze"), "{line}");
    assert!(
        line.contains("Detected 2 consecutive errors, last one was: Wrong http response"),
        "{line}"
    );
    assert!(
        line.contains("1 active and 0 backup servers left"),
        "{line}"
    );
    assert_eq!(
        bad.load(Ordering::SeqCst),
        2,
        "app-1 saw exactly the two failing requests"
    );

    // From now on every request goes to app-2.
    let before = good.load(Ordering::SeqCst);
    for _ in 0..8 {
        let r = get(front).expect("request");
        assert!(
            r.starts_with("HTTP/1.1 200") && r.contains("from app-2"),
            "only app-2 serves now: {r}"
        );
    }
    assert_eq!(good.load(Ordering::SeqCst), before + 8);
    assert_eq!(bad.load(Ordering::SeqCst), 2, "app-1 gets no more requests");
}
