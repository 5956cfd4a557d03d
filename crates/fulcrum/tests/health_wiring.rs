//! Health checks run by `fulcrum run` take a dead server out of rotation, logged as HAProxy does,
//! and bring it back when it answers again.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
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

/// A tiny HTTP server answering "from app-2" until the test ends.
fn serve_app2(listener: TcpListener) {
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten().take(10_000) {
            let mut conn = conn;
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\nconnection: close\r\n\r\nfrom app-2\n");
        }
    });
}

#[test]
fn a_dead_server_leaves_rotation_and_comes_back() {
    let (front, app1, app2) = (free_port(), free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("fulcrum-health-wiring-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("h.cfg");
    std::fs::write(
        &cfg,
        format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend www\n bind 127.0.0.1:{front}\n default_backend app_pool\n\
             backend app_pool\n balance roundrobin\n server app-1 127.0.0.1:{app1} check inter 100ms fall 2 rise 2\n server app-2 127.0.0.1:{app2} check inter 100ms fall 2 rise 2\n\
             frontend app-1\n bind 127.0.0.1:{app1}\n http-request return status 200 content-type text/plain string \"from app-1\\n\"\n"
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
    let wait_line = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return l,
                Ok(_) => {}
                Err(_) => panic!("no log line containing {needle:?} within 15 s"),
            }
        }
    };
    // app-2 has nothing listening: checks take it DOWN, with HAProxy's line.
    let line = wait_line("Server app_pool/app-2 is DOWN");
    assert!(line.contains("1 active and 0 backup servers left"), "{line}");
    for _ in 0..6 {
        let r = get(front).expect("request");
        assert!(r.starts_with("HTTP/1.1 200") && r.contains("from app-1"), "only app-1 serves now: {r}");
    }
    // app-2 starts answering: `rise` successes bring it back into rotation.
    serve_app2(TcpListener::bind(("127.0.0.1", app2)).expect("bind app-2"));
    wait_line("Server app_pool/app-2 is UP");
    let answers: Vec<String> = (0..4).map(|_| get(front).expect("request")).collect();
    assert!(answers.iter().any(|a| a.contains("from app-2")), "{answers:?}");
    assert!(answers.iter().any(|a| a.contains("from app-1")), "{answers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
