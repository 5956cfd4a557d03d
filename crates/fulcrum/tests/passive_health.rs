//! Passive health through `fulcrum run`: a server answering 500 to real requests is taken out
//! of rotation by `observe layer7 error-limit 2 on-error mark-down`, with HAProxy's log line,
//! while its active checks (TCP, every 10 s) would still pass: only the data plane's
//! observations can have done it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

struct Running(Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn get(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

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
                let _ = write!(conn, "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            }
        }
    });
    requests
}

#[test]
fn a_server_answering_500_is_marked_down_by_observe_layer7() {
    let (front, app1, app2) = (free_port(), free_port(), free_port());
    let bad = serve(TcpListener::bind(("127.0.0.1", app1)).expect("bind app-1"), "500 Internal Server Error", "broken app-1\n");
    let good = serve(TcpListener::bind(("127.0.0.1", app2)).expect("bind app-2"), "200 OK", "from app-2\n");
    let dir = std::env::temp_dir().join(format!("fulcrum-passive-health-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("p.cfg");
    std::fs::write(
        &cfg,
        format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend www\n bind 127.0.0.1:{front}\n default_backend app_pool\n\
             backend app_pool\n balance roundrobin\n\
             default-server check inter 10s fall 3 rise 2 observe layer7 error-limit 2 on-error mark-down\n\
             server app-1 127.0.0.1:{app1}\n server app-2 127.0.0.1:{app2}\n"
        ),
    )
    .expect("write cfg");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["run", "-f", cfg.to_str().expect("path")])
        .env("FULCRUM_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fulcrum");
    let stderr = child.stderr.take().expect("stderr");
    let _guard = Running(child);
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_line = |needle: &str, within: Duration| -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return Some(l),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    };
    wait_line("fulcrum started", Duration::from_secs(15)).expect("fulcrum started");

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
    assert!(line.contains("Detected 2 consecutive errors, last one was: Wrong http response"), "{line}");
    assert!(line.contains("1 active and 0 backup servers left"), "{line}");
    assert_eq!(bad.load(Ordering::SeqCst), 2, "app-1 saw exactly the two failing requests");

    // From now on every request goes to app-2.
    let before = good.load(Ordering::SeqCst);
    for _ in 0..8 {
        let r = get(front).expect("request");
        assert!(r.starts_with("HTTP/1.1 200") && r.contains("from app-2"), "only app-2 serves now: {r}");
    }
    assert_eq!(good.load(Ordering::SeqCst), before + 8);
    assert_eq!(bad.load(Ordering::SeqCst), 2, "app-1 gets no more requests");
    let _ = std::fs::remove_dir_all(&dir);
}
