//! The README's example serves real traffic: examples/quickstart.cfg balances two demo servers
//! made by fulcrum itself, answering in turn, and its stats listener shows them (stats CSV and
//! Prometheus metrics).

use fulcrum_testlab::ports::free_port;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Cleanup(PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Running(Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str) -> std::io::Result<String> {
    get_path(addr, "/")
}

fn get_path(addr: &str, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// The example as shipped, with its four fixed ports (8080 8081 8082 8404) moved to free ones,
/// so the test does not depend on what else the machine runs; every other line is unchanged.
/// Returns the config's path and the new "www" and "stats" addresses.
fn example_on_free_ports() -> (PathBuf, String, String) {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart.cfg");
    let mut text = std::fs::read_to_string(&shipped).expect("examples/quickstart.cfg");
    let mut moved = Vec::new();
    for fixed in [8080u16, 8081, 8082, 8404] {
        let from = format!("127.0.0.1:{fixed}");
        assert!(text.contains(&from), "the example no longer uses {from}");
        let to = format!("127.0.0.1:{}", free_port());
        text = text.replace(&from, &to);
        moved.push(to);
    }
    let dir = std::env::temp_dir().join(format!("fulcrum-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg = dir.join("quickstart.cfg");
    std::fs::write(&cfg, text).expect("write the example");
    (cfg, moved[0].clone(), moved[3].clone())
}

#[test]
fn quickstart_example_balances_its_demo_servers() {
    let (cfg, www, stats) = example_on_free_ports();
    let _cleanup = Cleanup(cfg.parent().expect("dir").to_path_buf());
    let _fulcrum = Running(
        Command::new(env!("CARGO_BIN_EXE_fulcrum"))
            .args(["run", "-f", cfg.to_str().expect("path")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start fulcrum"),
    );
    let start = Instant::now();
    let first = loop {
        match get(&www) {
            Ok(r) => break r,
            Err(_) if start.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("example did not start serving within 10 s: {e}"),
        }
    };
    let mut answers = vec![first];
    for _ in 0..3 {
        answers.push(get(&www).expect("request"));
    }
    for a in &answers {
        assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    }
    let who: Vec<&str> = answers
        .iter()
        .map(|a| {
            if a.contains("hello from app-1") {
                "app-1"
            } else if a.contains("hello from app-2") {
                "app-2"
            } else {
                "?"
            }
        })
        .collect();
    assert!(!who.contains(&"?"), "{answers:?}");
    // roundrobin over two equal servers alternates.
    assert_ne!(who[0], who[1]);
    assert_eq!(who[0], who[2]);
    assert_eq!(who[1], who[3]);

    // The stats listener: both servers in the CSV, the four answers in the metrics.
    let csv = get_path(&stats, "/stats;csv").expect("stats csv");
    assert!(csv.starts_with("HTTP/1.1 200"), "{csv}");
    assert!(csv.contains("# pxname,svname,qcur"), "{csv}");
    assert!(
        csv.contains("\napp_pool,app-1,") && csv.contains("\napp_pool,app-2,"),
        "{csv}"
    );
    let metrics = get_path(&stats, "/metrics").expect("metrics");
    let twoxx = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("haproxy_backend_http_responses_total{proxy=\"app_pool\",code=\"2xx\"} ")
        })
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert_eq!(twoxx, Some(4), "{metrics}");
}
