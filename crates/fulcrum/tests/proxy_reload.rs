//! The real binary reloads on SIGHUP without failing a request: 20 reloads under a bounded
//! load (new connection per request and keep-alive clients), then an invalid config that is
//! refused while the running one keeps serving.

use fulcrum_testlab::ports::free_port;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Running(Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `port` for the proxy, `p1`/`p2` for its two demo servers (each a free port of its own: the
/// ports next to a free one may be held by other tests' connections).
fn config((port, p1, p2): (u16, u16, u16), gen: u32) -> String {
    format!(
        "global\n  nbthread 2\ndefaults\n  mode http\n  timeout client 5s\n  timeout connect 1s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:{port}\n  default_backend demo\n\
         backend demo\n  server d1 127.0.0.1:{p1}\n  server d2 127.0.0.1:{p2}\n\
         frontend demo1\n  bind 127.0.0.1:{p1}\n  http-request return status 200 content-type text/plain string \"gen{gen} d1\"\n\
         frontend demo2\n  bind 127.0.0.1:{p2}\n  http-request return status 200 content-type text/plain string \"gen{gen} d2\"\n",
    )
}

/// One request; `Ok((status, body, server_closes))`.
fn request(s: &mut BufReader<TcpStream>, close: bool) -> std::io::Result<(u16, String, bool)> {
    let req = if close {
        "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    } else {
        "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
    };
    s.get_mut().write_all(req.as_bytes())?;
    let mut line = String::new();
    s.read_line(&mut line)?;
    let status: u16 = line.get(9..12).and_then(|v| v.parse().ok()).unwrap_or(0);
    let (mut len, mut closes) = (0usize, false);
    loop {
        let mut h = String::new();
        if s.read_line(&mut h)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "eof in head",
            ));
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            if n.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
            if n.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close") {
                closes = true;
            }
        }
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned(), closes))
}

fn connect(port: u16) -> std::io::Result<BufReader<TcpStream>> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(BufReader::new(s))
}

fn wait_serving(port: u16) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if connect(port)
            .and_then(|mut c| request(&mut c, true))
            .is_ok_and(|r| r.0 == 200)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn sighup_reloads_twenty_times_under_load_without_a_failed_request() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("fulcrum-proxy-reload-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let file = dir.0.join("haproxy.cfg");
    let ports = (free_port(), free_port(), free_port());
    let port = ports.0;
    std::fs::write(&file, config(ports, 0)).expect("write config");
    let child = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["run", "-f", file.to_str().expect("path")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fulcrum");
    let pid = child.id().to_string();
    let _running = Running(child);
    assert!(wait_serving(port), "fulcrum did not start serving");

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for i in 0..4 {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        workers.push(std::thread::spawn(move || {
            let keep_alive = i % 2 == 0;
            let mut conn: Option<BufReader<TcpStream>> = None;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 50_000 {
                n += 1;
                if conn.is_none() {
                    conn = connect(port).ok();
                }
                let Some(c) = conn.as_mut() else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                match request(c, !keep_alive) {
                    Ok((200, _, closes)) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        if closes || !keep_alive {
                            conn = None;
                        }
                    }
                    other => {
                        eprintln!("failed request: {other:?}");
                        failed.fetch_add(1, Ordering::Relaxed);
                        conn = None;
                    }
                }
            }
        }));
    }
    // Each step waits until the workers have observably completed `n` more requests.
    let advance = |n: u64| {
        let target = ok.load(Ordering::Relaxed) + n;
        assert!(
            fulcrum_testlab::wait::until(Duration::from_secs(10), || ok.load(Ordering::Relaxed)
                >= target)
            .is_some(),
            "the load stalled"
        );
    };
    for gen in 1..=20 {
        advance(10);
        std::fs::write(&file, config(ports, gen)).expect("write config");
        let st = Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill -HUP");
        assert!(st.success());
    }
    advance(20);
    // An invalid config is refused; the running one keeps serving.
    std::fs::write(
        &file,
        "frontend broken\n  bind 127.0.0.1:notaport\n  default_backend nowhere\n",
    )
    .expect("write");
    let _ = Command::new("kill").args(["-HUP", &pid]).status();
    advance(20);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("{ok} requests succeeded, {failed} failed across 20 SIGHUP reloads");
    assert_eq!(failed, 0, "no request may fail during reloads");
    assert!(ok > 200, "the load ran ({ok} requests)");
    let (status, body, _) =
        request(&mut connect(port).expect("connect"), true).expect("after reloads");
    assert_eq!(status, 200);
    assert!(
        body.starts_with("gen20 "),
        "the last valid config serves: {body}"
    );
}
