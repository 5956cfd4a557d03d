//! Measures the time from a server's death (its listener closed) to its removal (the DOWN
//! report), for fulcrum's health monitor and for the real HAProxy with the same config
//! (`check inter 100 fall 3`, TCP checks), against the expected `inter × fall`.
//!
//! Run: `cargo run --release -p fulcrum-health --example detect_bench [TRIALS]`

use fulcrum_health::HealthMonitor;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;

const INTER_MS: u64 = 100;
const FALL: u32 = 3;

fn cfg(backend_port: u16, listen_port: u16) -> String {
    format!(
        "global\n    log stderr format raw local0\ndefaults\n    mode tcp\n    log global\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{listen_port}\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:{backend_port} check inter {INTER_MS} fall {FALL} rise 1\n"
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(0, |a| a.port())
}

/// A listener accepting and dropping connections until aborted.
async fn start_backend() -> (u16, tokio::task::JoinHandle<()>) {
    let l = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot bind: {e}");
            std::process::exit(1);
        }
    };
    let port = l.local_addr().map_or(0, |a| a.port());
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    });
    (port, task)
}

/// Random-ish phase so the kill does not always land just after a check.
fn phase(i: u32) -> Duration {
    Duration::from_millis(u64::from(i.wrapping_mul(37) % INTER_MS as u32))
}

async fn fulcrum_trial(i: u32) -> Option<Duration> {
    let (port, task) = start_backend().await;
    let text = cfg(port, free_port());
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "bench.cfg",
        text: &text,
    }]);
    let (handle, mut rx) = HealthMonitor::start(&loaded.config);
    tokio::time::sleep(Duration::from_millis(3 * INTER_MS) + phase(i)).await;
    let killed = Instant::now();
    task.abort();
    let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .ok()
        .flatten()?;
    let took = killed.elapsed();
    handle.shutdown().await;
    (!ev.up).then_some(took)
}

async fn haproxy_trial(i: u32) -> Option<Duration> {
    let (port, task) = start_backend().await;
    let dir = std::env::temp_dir().join(format!("fulcrum-detect-{}-{i}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg(port, free_port())).ok()?;
    let mut child = tokio::process::Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let mut lines = BufReader::new(child.stderr.take()?).lines();
    tokio::time::sleep(Duration::from_millis(3 * INTER_MS) + phase(i)).await;
    let killed = Instant::now();
    task.abort();
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("is DOWN") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    let took = killed.elapsed();
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
    found.then_some(took)
}

fn summary(name: &str, mut v: Vec<Duration>) {
    if v.is_empty() {
        println!("{name}: no successful trial");
        return;
    }
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: n={} min {:.0} ms, median {:.0} ms, max {:.0} ms (inter × fall = {} ms)",
        v.len(),
        ms(v[0]),
        ms(v[v.len() / 2]),
        ms(v[v.len() - 1]),
        INTER_MS * u64::from(FALL)
    );
}

#[tokio::main]
async fn main() {
    let trials: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let mut f = Vec::new();
    let mut h = Vec::new();
    for i in 0..trials {
        if let Some(d) = fulcrum_trial(i).await {
            f.push(d);
        }
        if let Some(d) = haproxy_trial(i).await {
            h.push(d);
        }
    }
    summary("fulcrum", f);
    summary("haproxy", h);
}
