//! Helpers of the HTTP/2 client-side tests: an HTTP/1 backend that records every request head
//! it receives and answers by path, and curl / h2load / nghttp runs with bounded time.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Request heads the backend received (the request line and fields, as text), and the
/// length of each request's body.
#[derive(Clone, Default)]
pub struct Seen(
    pub Arc<Mutex<Vec<(String, usize)>>>,
    /// Connections accepted.
    pub Arc<std::sync::atomic::AtomicUsize>,
);

impl Seen {
    pub fn take(&self) -> Vec<(String, usize)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
    pub fn connections(&self) -> usize {
        self.1.load(std::sync::atomic::Ordering::Relaxed)
    }
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// An HTTP/1.1 backend (keep-alive) on 127.0.0.1: `/big/N` answers N bytes, `/chunked` a
/// chunked body, `/nocontent` 204, anything else 200 with `body=LEN` and the head it got;
/// `Expect: 100-continue` is answered `100 Continue` before the body is read.
pub fn backend() -> (SocketAddr, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").expect("backend bind");
    let addr = l.local_addr().expect("backend addr");
    let seen = Seen::default();
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let seen = s2.clone();
            seen.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::thread::spawn(move || conn(s, seen));
        }
    });
    (addr, seen)
}

/// The byte at `i` of every `/big/N` body (so a download is checked byte by byte).
pub fn big_byte(i: usize) -> u8 {
    (i % 251) as u8
}

fn read_body(r: &mut BufReader<TcpStream>, head: &str) -> Option<usize> {
    let lower = head.to_ascii_lowercase();
    if lower.contains("\ntransfer-encoding: chunked") {
        let mut total = 0;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            if size == 0 {
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t).ok()? <= 2 {
                        return Some(total);
                    }
                }
            }
            let mut buf = vec![0u8; size + 2];
            r.read_exact(&mut buf).ok()?;
            total += size;
        }
    }
    let len = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut left = len;
    let mut buf = [0u8; 65536];
    while left > 0 {
        let n = r.read(&mut buf[..left.min(65536)]).ok()?;
        if n == 0 {
            return None;
        }
        left -= n;
    }
    Some(len)
}

fn conn(s: TcpStream, seen: Seen) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut w) = s.try_clone() else { return };
    let mut r = BufReader::new(s);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        // A client waiting for `100 Continue` gets it before the body is read.
        if head.to_ascii_lowercase().contains("\nexpect: 100-continue")
            && w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
        {
            return;
        }
        let Some(body_len) = read_body(&mut r, &head) else {
            return;
        };
        let path = head.split(' ').nth(1).unwrap_or("/").to_string();
        let is_head = head.starts_with("HEAD ");
        seen.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((head.clone(), body_len));
        let mut out: Vec<u8> = Vec::new();
        if path == "/slow" {
            std::thread::sleep(Duration::from_secs(4));
        }
        if let Some(n) = path.strip_prefix("/big/") {
            let n: usize = n.parse().unwrap_or(0);
            out.extend_from_slice(
                format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").as_bytes(),
            );
            if !is_head {
                out.extend((0..n).map(big_byte));
            }
        } else if path == "/chunked" {
            out.extend_from_slice(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Backend: yes\r\n\r\n",
            );
            if !is_head {
                out.extend_from_slice(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
            }
        } else if path == "/nocontent" {
            out.extend_from_slice(b"HTTP/1.1 204 No Content\r\nX-Backend: yes\r\n\r\n");
        } else {
            let text = format!("body={body_len}\n{head}");
            out.extend_from_slice(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nKeep-Alive: timeout=5\r\n\r\n",
                    text.len()
                )
                .as_bytes(),
            );
            if !is_head {
                out.extend_from_slice(text.as_bytes());
            }
        }
        if w.write_all(&out).is_err() {
            return;
        }
    }
}

/// Runs a client tool (at most `secs` seconds through `timeout`); returns (success, stdout +
/// stderr).
pub fn run(tool: &str, args: &[&str], secs: u32) -> (bool, String) {
    let out = Command::new("timeout")
        .arg(secs.to_string())
        .arg(tool)
        .args(args)
        .output()
        .expect("run client tool");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// curl over HTTP/2 with prior knowledge (h2c); returns (success, output).
pub fn curl_h2(args: &[&str]) -> (bool, String) {
    let mut all = vec!["-sS", "--http2-prior-knowledge", "--max-time", "20"];
    all.extend_from_slice(args);
    run("curl", &all, 25)
}

/// The config both proxies run: `bind ... proto h2`, `tune.h2.*`, a rule on `req.ver`, a
/// response header naming the config generation, cookie persistence, httplog to stderr.
pub fn config(port: u16, be: SocketAddr, gen: u32) -> String {
    format!(
        "global\n  log stderr format raw local0\n  tune.h2.max-concurrent-streams 7\n  tune.h2.initial-window-size 1048576\n\
         defaults\n  mode http\n  log global\n  option httplog\n  timeout client 10s\n  timeout connect 2s\n  timeout server 10s\n\
         frontend fe\n  bind 127.0.0.1:{port} proto h2\n  stats enable\n  stats uri /st\n  http-request set-header X-Ver %[req.ver]\n  http-response set-header X-Gen {gen}\n  default_backend be\n\
         backend be\n  cookie SRV insert indirect nocache\n  server s1 {be} cookie s1\n"
    )
}
