//! Health checks run by `fulcrum run` take a dead server out of rotation, logged as HAProxy does,
//! and bring it back when it answers again.

mod common;

use common::{free_port, get, Fulcrum, Scratch};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

/// A tiny HTTP server answering "from app-2" until the test ends.
fn serve_app2(listener: TcpListener) {
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten().take(10_000) {
            let mut conn = conn;
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\nconnection: close\r\n\r\nfrom app-2\n",
            );
        }
    });
}

#[test]
fn a_dead_server_leaves_rotation_and_comes_back() {
    let (front, app1, app2) = (free_port(), free_port(), free_port());
    let scratch = Scratch::new("health-wiring");
    let cfg = scratch.write(
        "h.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend www\n bind 127.0.0.1:{front}\n default_backend app_pool\n\
             backend app_pool\n balance roundrobin\n server app-1 127.0.0.1:{app1} check inter 100ms fall 2 rise 2\n server app-2 127.0.0.1:{app2} check inter 100ms fall 2 rise 2\n\
             frontend app-1\n bind 127.0.0.1:{app1}\n http-request return status 200 content-type text/plain string \"from app-1\\n\"\n"
        ),
    );
    let lb = Fulcrum::start(&cfg);
    let wait_line = |needle: &str| {
        lb.wait_line(needle, Duration::from_secs(15))
            .map(|(_, l)| l)
            .unwrap_or_else(|| panic!("no log line containing {needle:?} within 15 s"))
    };
    // app-2 has nothing listening: checks take it DOWN, with HAProxy's line.
    let line = wait_line("Server app_pool/app-2 is DOWN");
    assert!(
        line.contains("1 active and 0 backup servers left"),
        "{line}"
    );
    for _ in 0..6 {
        let r = get(front).expect("request");
        assert!(
            r.starts_with("HTTP/1.1 200") && r.contains("from app-1"),
            "only app-1 serves now: {r}"
        );
    }
    // app-2 starts answering: `rise` successes bring it back into rotation.
    serve_app2(TcpListener::bind(("127.0.0.1", app2)).expect("bind app-2"));
    wait_line("Server app_pool/app-2 is UP");
    let answers: Vec<String> = (0..4).map(|_| get(front).expect("request")).collect();
    assert!(
        answers.iter().any(|a| a.contains("from app-2")),
        "{answers:?}"
    );
    assert!(
        answers.iter().any(|a| a.contains("from app-1")),
        "{answers:?}"
    );
}
