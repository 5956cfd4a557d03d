//! The README's example serves real traffic: examples/quickstart.cfg balances two demo servers
//! made by fulcrum itself, answering in turn, and its stats listener shows them (stats CSV and
//! Prometheus metrics).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

#[test]
fn quickstart_example_balances_its_demo_servers() {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart.cfg");
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
        match get("127.0.0.1:8080") {
            Ok(r) => break r,
            Err(_) if start.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("example did not start serving within 10 s: {e}"),
        }
    };
    let mut answers = vec![first];
    for _ in 0..3 {
        answers.push(get("127.0.0.1:8080").expect("request"));
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
    let csv = get_path("127.0.0.1:8404", "/stats;csv").expect("stats csv");
    assert!(csv.starts_with("HTTP/1.1 200"), "{csv}");
    assert!(csv.contains("# pxname,svname,qcur"), "{csv}");
    assert!(
        csv.contains("\napp_pool,app-1,") && csv.contains("\napp_pool,app-2,"),
        "{csv}"
    );
    let metrics = get_path("127.0.0.1:8404", "/metrics").expect("metrics");
    let twoxx = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("haproxy_backend_http_responses_total{proxy=\"app_pool\",code=\"2xx\"} ")
        })
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert_eq!(twoxx, Some(4), "{metrics}");
}
