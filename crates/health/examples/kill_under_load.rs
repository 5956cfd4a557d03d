//! Failed requests when a server is killed under load, fulcrum (proxy + health wired as the
//! supervisor should) against the real HAProxy with the same config (`retries 3`, `option
//! redispatch`, `check inter 100 fall 3`). Also shows the wiring of health into the proxy.
//!
//! Run: `cargo run --release -p fulcrum-health --example kill_under_load [SECONDS] [CLIENTS]`

use fulcrum_health::HealthMonitor;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(0, |a| a.port())
}

/// An HTTP backend whose death closes its listener and every open connection at once.
struct Backend {
    addr: SocketAddr,
    conns: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Backend {
    async fn start(name: &'static str) -> Option<Backend> {
        let l = TcpListener::bind("127.0.0.1:0").await.ok()?;
        let addr = l.local_addr().ok()?;
        let conns: Arc<Mutex<JoinSet<()>>> = Arc::new(Mutex::new(JoinSet::new()));
        let c = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let Ok(mut set) = c.lock() else { return };
                set.spawn(async move {
                    let mut buf = Vec::new();
                    let mut tmp = [0u8; 4096];
                    loop {
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            // a little work so requests are in flight when the kill lands
                            tokio::time::sleep(Duration::from_millis(2)).await;
                            let resp = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{name}",
                                name.len()
                            );
                            if s.write_all(resp.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        match s.read(&mut tmp).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        }
                    }
                });
            }
        });
        Some(Backend {
            addr,
            conns,
            accept,
        })
    }

    fn kill(&self) {
        self.accept.abort();
        if let Ok(mut set) = self.conns.lock() {
            set.abort_all();
        }
    }
}

fn cfg(port: u16, b: &[Backend]) -> String {
    format!(
        "global\n    log stderr format raw local0\ndefaults\n    mode http\n    log global\n    retries 3\n    option redispatch\n\
         \x20   timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    balance roundrobin\n    option httpchk GET /\n\
         \x20   server s1 {} check inter 100 fall 3 rise 2\n    server s2 {} check inter 100 fall 3 rise 2\n    server s3 {} check inter 100 fall 3 rise 2\n",
        b[0].addr, b[1].addr, b[2].addr
    )
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
    failed_after_down: AtomicU64,
}

/// Keep-alive clients sending GETs until `stop`; a failure reconnects.
async fn client(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    down: Arc<AtomicBool>,
    counts: Arc<Counts>,
) {
    let mut conn: Option<TcpStream> = None;
    let mut tmp = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            conn = TcpStream::connect(addr).await.ok();
        }
        let Some(s) = conn.as_mut() else {
            counts.failed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let ok = async {
            s.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
                .await
                .ok()?;
            let mut got = Vec::new();
            loop {
                let n = s.read(&mut tmp).await.ok()?;
                if n == 0 {
                    return None;
                }
                got.extend_from_slice(&tmp[..n]);
                if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    if got.len() >= end + 6 {
                        return Some(got.starts_with(b"HTTP/1.1 200"));
                    }
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(3), ok).await {
            Ok(Some(true)) => {
                counts.ok.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                counts.failed.fetch_add(1, Ordering::Relaxed);
                if down.load(Ordering::Relaxed) {
                    counts.failed_after_down.fetch_add(1, Ordering::Relaxed);
                }
                conn = None;
            }
        }
    }
}

/// Runs the load, kills s1 at one third; `detected` is set by the caller's DOWN watcher.
async fn load(
    addr: SocketAddr,
    secs: u64,
    clients: usize,
    backends: &[Backend],
    down: Arc<AtomicBool>,
) -> Arc<Counts> {
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let mut set = JoinSet::new();
    for _ in 0..clients {
        set.spawn(client(addr, stop.clone(), down.clone(), counts.clone()));
    }
    tokio::time::sleep(Duration::from_secs(secs) / 3).await;
    backends[0].kill();
    tokio::time::sleep(Duration::from_secs(secs) * 2 / 3).await;
    stop.store(true, Ordering::Relaxed);
    while set.join_next().await.is_some() {}
    counts
}

async fn fulcrum_run(secs: u64, clients: usize) -> Option<(Arc<Counts>, Option<Duration>)> {
    let backends = [
        Backend::start("s1").await?,
        Backend::start("s2").await?,
        Backend::start("s3").await?,
    ];
    let port = free_port();
    let text = cfg(port, &backends);
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "bench.cfg",
        text: &text,
    }]);
    let proxy = fulcrum_proxy::start(&loaded.config).await.ok()?;
    // --- the wiring the supervisor needs: health events flip the proxy's servers ---
    let (health, mut events) = HealthMonitor::start(&loaded.config);
    let generation = proxy.generation()?;
    let down = Arc::new(AtomicBool::new(false));
    let detected: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let (d, det) = (down.clone(), detected.clone());
    let applier = tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            if let Some(be) = generation.backends.get(&ev.backend) {
                if let Some(i) = be.servers.iter().position(|s| s.name == ev.server) {
                    be.set_server_up(i, ev.up);
                }
            }
            if !ev.up {
                d.store(true, Ordering::Relaxed);
                if let Ok(mut t) = det.lock() {
                    *t = Some(Instant::now());
                }
            }
            eprintln!("fulcrum: {}", ev.log_line);
        }
    });
    // ---
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    let counts = load(
        SocketAddr::from(([127, 0, 0, 1], port)),
        secs,
        clients,
        &backends,
        down,
    )
    .await;
    let kill_at = start + Duration::from_secs(secs) / 3;
    let detect = detected
        .lock()
        .ok()
        .and_then(|t| *t)
        .map(|t| t.saturating_duration_since(kill_at));
    health.shutdown().await;
    applier.abort();
    proxy.shutdown(Duration::from_millis(200)).await;
    Some((counts, detect))
}

async fn haproxy_run(secs: u64, clients: usize) -> Option<(Arc<Counts>, Option<Duration>)> {
    let backends = [
        Backend::start("s1").await?,
        Backend::start("s2").await?,
        Backend::start("s3").await?,
    ];
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("fulcrum-kill-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg(port, &backends)).ok()?;
    let mut child = tokio::process::Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let stderr = child.stderr.take()?;
    let down = Arc::new(AtomicBool::new(false));
    let detected: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let (d, det) = (down.clone(), detected.clone());
    let watcher = tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("is DOWN") {
                d.store(true, Ordering::Relaxed);
                if let Ok(mut t) = det.lock() {
                    *t = Some(Instant::now());
                }
                eprintln!("haproxy: {line}");
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = Instant::now();
    let counts = load(
        SocketAddr::from(([127, 0, 0, 1], port)),
        secs,
        clients,
        &backends,
        down,
    )
    .await;
    let kill_at = start + Duration::from_secs(secs) / 3;
    let detect = detected
        .lock()
        .ok()
        .and_then(|t| *t)
        .map(|t| t.saturating_duration_since(kill_at));
    let _ = child.kill().await;
    watcher.abort();
    let _ = std::fs::remove_dir_all(&dir);
    Some((counts, detect))
}

fn report(name: &str, r: Option<(Arc<Counts>, Option<Duration>)>) {
    match r {
        None => println!("{name}: could not run"),
        Some((c, detect)) => println!(
            "{name}: {} ok, {} failed ({} after the DOWN report), DOWN reported {} after the kill",
            c.ok.load(Ordering::Relaxed),
            c.failed.load(Ordering::Relaxed),
            c.failed_after_down.load(Ordering::Relaxed),
            detect.map_or("never".to_string(), |d| format!("{} ms", d.as_millis()))
        ),
    }
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let clients: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8);
    report("fulcrum", fulcrum_run(secs, clients).await);
    report("haproxy", haproxy_run(secs, clients).await);
}
