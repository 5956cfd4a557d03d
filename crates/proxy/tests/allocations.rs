//! Heap allocations per HTTP/1 request on the proxy's hot path, counted for the whole process
//! while a blocking client (fixed buffers: it allocates nothing) sends small requests through
//! the in-process proxy to a backend in another process (python3), so every allocation counted
//! is the proxy's: keep-alive requests on one connection, and a new connection per request.
//! Prints the figures and guards them: measured 1 per keep-alive request (the request phases'
//! boxed future, boxed so an idle connection holds only the small session future) and 10 per
//! new connection (the session task, its tokio cell, the session, the first read, the request
//! future, the session's timer reused by all its waits (`session/alarm.rs`: one allocation per
//! connection instead of a timer entered and removed per wait), two runtime registrations and
//! what closing them takes); one more per request fails.

mod common;

use fulcrum_testlab::alloc_count::{allocations, Counting};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations per keep-alive request at which the test fails.
const MAX_KEEP_ALIVE: f64 = 2.0;
/// Allocations per request on a new connection at which the test fails.
const MAX_NEW_CONN: f64 = 11.0;

/// A keep-alive HTTP/1.1 backend in a python3 child: a fixed answer per request head.
struct PyBackend(std::process::Child, u16);

impl PyBackend {
    fn start() -> Option<PyBackend> {
        let script = r#"
import socket, threading, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(128)
print(s.getsockname()[1], flush=True)
ans = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
def serve(c):
    buf = b""
    while True:
        d = c.recv(65536)
        if not d:
            return
        buf += d
        while b"\r\n\r\n" in buf:
            _, buf = buf.split(b"\r\n\r\n", 1)
            c.sendall(ans)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        let mut out = child.stdout.take()?;
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while out.read(&mut b).ok()? == 1 && b[0] != b'\n' {
            line.push(b[0]);
        }
        let port = String::from_utf8_lossy(&line).trim().parse().ok()?;
        Some(PyBackend(child, port))
    }
}

impl Drop for PyBackend {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const REQ: &[u8] = b"GET /small HTTP/1.1\r\nHost: t\r\n\r\n";
const REQ_CLOSE: &[u8] = b"GET /small HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/// Reads one answer (a head and 5 bytes of body) into `buf`; false on a short read.
fn answer(c: &mut TcpStream, buf: &mut [u8]) -> bool {
    let mut at = 0;
    loop {
        match c.read(&mut buf[at..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => at += n,
        }
        if let Some(p) = buf[..at].windows(4).position(|w| w == b"\r\n\r\n") {
            if at >= p + 4 + 5 {
                return true;
            }
        }
    }
}

/// Allocations per request of `n` keep-alive requests on one connection.
fn keep_alive(port: u16, n: u64) -> f64 {
    let mut buf = [0u8; 4096];
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5))).ok();
    for _ in 0..200 {
        c.write_all(REQ).expect("send");
        assert!(answer(&mut c, &mut buf), "warm-up answer");
    }
    let before = allocations();
    for _ in 0..n {
        c.write_all(REQ).expect("send");
        assert!(answer(&mut c, &mut buf), "answer");
    }
    (allocations() - before) as f64 / n as f64
}

/// Allocations per request of `n` requests each on a new connection.
fn new_conn(port: u16, n: u64) -> f64 {
    let mut buf = [0u8; 4096];
    let one = |buf: &mut [u8]| {
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5))).ok();
        c.write_all(REQ_CLOSE).expect("send");
        assert!(answer(&mut c, buf), "answer");
    };
    for _ in 0..200 {
        one(&mut buf);
    }
    let before = allocations();
    for _ in 0..n {
        one(&mut buf);
    }
    (allocations() - before) as f64 / n as f64
}

#[test]
fn allocations_per_request() {
    if !fulcrum_testlab::require::tool("allocations_per_request", "python3", "python3") {
        return;
    }
    let backend = PyBackend::start().expect("python3 backend");
    let port = common::free_port();
    let text = format!(
        "global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:{port}\n  default_backend app\n\
         backend app\n  server s 127.0.0.1:{}\n",
        backend.1
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = rt.block_on(common::start(&text));
    assert!(
        rt.block_on(common::wait_listening(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            port
        ))))
    );
    let ka = keep_alive(port, 2000);
    let nc = new_conn(port, 500);
    eprintln!("allocations per request: keep-alive {ka:.2}, new connection {nc:.2}");
    rt.block_on(handle.shutdown(Duration::from_secs(1)));
    assert!(
        ka < MAX_KEEP_ALIVE,
        "keep-alive: {ka:.2} allocations per request"
    );
    assert!(
        nc < MAX_NEW_CONN,
        "new connection: {nc:.2} allocations per request"
    );
}
