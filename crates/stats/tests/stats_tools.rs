//! The stats page read by the real consumers operators point at HAProxy:
//! - Prometheus' `haproxy_exporter` (Debian `prometheus-haproxy-exporter`) scraping
//!   `stats uri;csv` produces the expected metrics (server up/down, HTTP responses by class,
//!   requests, bytes) with no parse failure;
//! - headless Chromium (Debian `chromium`) loads the HTML page twice under a bounded load and
//!   the frontend's session total has grown; a screenshot is saved to `target/tmp/stats-page.png`.
//!
//! A missing tool skips loudly, unless FULCRUM_REQUIRE_NETNS=1 (CI), where it fails.

#[path = "../../proxy/tests/common/mod.rs"]
mod common;
use common::*;

/// The proxy with the stats crate's applets (the shared helper starts it without any).
async fn start(text: &str) -> fulcrum_proxy::ProxyHandle {
    let stats = fulcrum_stats::Stats::new(std::time::Instant::now());
    fulcrum_proxy::start_with(&load(text), std::sync::Arc::new(stats))
        .await
        .expect("proxy start")
}
use fulcrum_proxy::server::AdminState;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Whether `tool` is installed; when not, skips loudly (or fails under FULCRUM_REQUIRE_NETNS=1).
fn have(tool: &str, package: &str) -> bool {
    fulcrum_testlab::require::tool("stats tools", tool, package)
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cfg(port: u16, a: SocketAddr, b: SocketAddr) -> String {
    format!(
        "defaults\n mode http\n option http-ignore-probes\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend web\n bind 127.0.0.1:{port}\n default_backend app\n\
         backend app\n balance roundrobin\n server a {a}\n server b {b}\n\
         listen stats\n bind 127.0.0.1:{}\n stats enable\n stats uri /stats\n stats refresh 2s\n stats admin if LOCALHOST\n",
        port + 1
    )
}

/// The value of a metric line `name{labels} value` in Prometheus text output.
fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)
            .and_then(|v| v.trim().parse().ok())
    })
}

async fn get_boxed(to: SocketAddr, path: &str) -> std::io::Result<Response> {
    Box::pin(get(to, path)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_haproxy_exporter_reads_the_csv() {
    if !have("prometheus-haproxy-exporter", "prometheus-haproxy-exporter") {
        return;
    }
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let port = free_range(2);
    let proxy = start(&cfg(port, a.addr, b.addr)).await;
    assert!(wait_listening(addr(port)).await && wait_listening(addr(port + 1)).await);
    for _ in 0..10 {
        assert_eq!(get_boxed(addr(port), "/").await.expect("get").status, 200);
    }
    // b in maintenance: the exporter must see it down.
    let be = proxy.generation().expect("gen").backends["app"].clone();
    be.set_server_admin(1, AdminState::Maint);
    for _ in 0..4 {
        assert_eq!(get_boxed(addr(port), "/").await.expect("get").text(), "a");
    }
    let eport = free_port();
    let child = Command::new("prometheus-haproxy-exporter")
        .arg(format!("--web.listen-address=127.0.0.1:{eport}"))
        .arg(format!(
            "--haproxy.scrape-uri=http://127.0.0.1:{}/stats;csv",
            port + 1
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the exporter");
    let _child = Kill(child);
    assert!(wait_listening(addr(eport)).await, "exporter did not listen");
    let m = get_boxed(addr(eport), "/metrics").await.expect("metrics");
    assert_eq!(m.status, 200);
    let t = m.text();
    if std::env::var("STATS_TOOLS_DUMP").is_ok() {
        eprintln!("{t}");
    }
    assert_eq!(metric(&t, "haproxy_up "), Some(1.0), "{t}");
    assert_eq!(
        metric(&t, "haproxy_exporter_csv_parse_failures_total "),
        Some(0.0)
    );
    assert_eq!(
        metric(&t, "haproxy_server_up{backend=\"app\",server=\"a\"}"),
        Some(1.0),
        "{t}"
    );
    assert_eq!(
        metric(&t, "haproxy_server_up{backend=\"app\",server=\"b\"}"),
        Some(0.0)
    );
    assert_eq!(metric(&t, "haproxy_backend_up{backend=\"app\"}"), Some(1.0));
    assert_eq!(
        metric(
            &t,
            "haproxy_backend_http_responses_total{backend=\"app\",code=\"2xx\"}"
        ),
        Some(14.0)
    );
    assert_eq!(
        metric(
            &t,
            "haproxy_frontend_http_responses_total{code=\"2xx\",frontend=\"web\"}"
        ),
        Some(14.0)
    );
    assert_eq!(
        metric(&t, "haproxy_frontend_http_requests_total{frontend=\"web\"}"),
        Some(14.0)
    );
    assert_eq!(
        metric(
            &t,
            "haproxy_server_http_responses_total{backend=\"app\",code=\"2xx\",server=\"a\"}"
        ),
        Some(9.0)
    );
    assert_eq!(
        metric(
            &t,
            "haproxy_server_http_responses_total{backend=\"app\",code=\"2xx\",server=\"b\"}"
        ),
        Some(5.0)
    );
    assert_eq!(
        metric(&t, "haproxy_backend_sessions_total{backend=\"app\"}"),
        Some(14.0)
    );
    assert!(metric(
        &t,
        "haproxy_server_bytes_out_total{backend=\"app\",server=\"a\"}"
    )
    .is_some_and(|v| v > 9.0 * 40.0));
    assert!(
        metric(&t, "haproxy_frontend_bytes_in_total{frontend=\"web\"}")
            .is_some_and(|v| v > 14.0 * 20.0)
    );
    assert_eq!(
        metric(&t, "haproxy_backend_current_queue{backend=\"app\"}"),
        Some(0.0)
    );
    proxy.shutdown(Duration::from_secs(1)).await;
}

/// Runs headless Chromium on `url`: the DOM, and a screenshot when `shot` is given.
fn chromium(url: &str, profile: &std::path::Path, shot: Option<&std::path::Path>) -> String {
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1500,700",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    match shot {
        Some(p) => cmd.arg(format!("--screenshot={}", p.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {:?}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `data-col` cell of the line `px/sv` in the page's DOM.
fn cell(dom: &str, px: &str, sv: &str, col: &str) -> Option<u64> {
    let start = dom.find(&format!("data-px=\"{px}\" data-sv=\"{sv}\""))?;
    let line = &dom[start..start + dom[start..].find("</tr>")?];
    let pat = format!("data-col=\"{col}\">");
    let at = line.find(&pat)? + pat.len();
    line[at..].split('<').next()?.trim().parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_sees_the_numbers_move() {
    if !have("chromium", "chromium") {
        return;
    }
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let port = free_range(2);
    let proxy = start(&cfg(port, a.addr, b.addr)).await;
    assert!(wait_listening(addr(port)).await && wait_listening(addr(port + 1)).await);
    // A bounded load: at most 3000 requests or 30 s, stopped when the test is done.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let load = {
        let (stop, sent) = (stop.clone(), sent.clone());
        tokio::spawn(async move {
            let t = Instant::now();
            while !stop.load(Ordering::Relaxed)
                && sent.load(Ordering::Relaxed) < 3000
                && t.elapsed() < Duration::from_secs(30)
            {
                if get_boxed(addr(port), "/").await.is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let dir = TempDir::new("chromium");
    let url = format!("http://127.0.0.1:{}/stats", port + 1);
    let u = url.clone();
    let p = dir.0.clone();
    let first = tokio::task::spawn_blocking(move || chromium(&u, &p, None))
        .await
        .expect("chromium");
    let n1 = cell(&first, "web", "FRONTEND", "stot")
        .unwrap_or_else(|| panic!("no web FRONTEND stot in the page:\n{first}"));
    // Let the load move the numbers on.
    let t = Instant::now();
    let at = sent.load(Ordering::Relaxed);
    while sent.load(Ordering::Relaxed) < at + 20 && t.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (u, p) = (url.clone(), dir.0.clone());
    let second = tokio::task::spawn_blocking(move || chromium(&u, &p, None))
        .await
        .expect("chromium");
    let n2 = cell(&second, "web", "FRONTEND", "stot").expect("stot on the second load");
    assert!(
        n2 > n1,
        "the page's session total did not grow under load: {n1} then {n2}"
    );
    let t2 = cell(&second, "app", "BACKEND", "hrsp_2xx").expect("backend 2xx");
    assert!(t2 >= n1, "backend 2xx {t2}");
    assert!(
        second.contains("<form method=\"post\""),
        "stats admin if LOCALHOST shows the form"
    );
    // The page asks for no favicon (it would reach the listen's empty backend: a 503).
    assert_eq!(
        cell(&second, "stats", "BACKEND", "hrsp_5xx"),
        Some(0),
        "a browser's extra request failed"
    );
    // The screenshot, for people: with one server draining, through the page's own form.
    let form = "s=b&action=drain&b=app";
    let post = format!(
        "POST /stats HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    let mut c = Client::connect(addr(port + 1)).await.expect("connect");
    c.send_raw(post.as_bytes()).await.expect("post");
    let r = Box::pin(c.read_response(false)).await.expect("answer");
    assert_eq!(r.header("location"), Some("/stats;st=DONE"));
    // Cargo's scratch directory for integration tests (target/tmp, wherever the target is).
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("stats-page.png");
    let (u, p, s) = (format!("{url};st=DONE"), dir.0.clone(), shot.clone());
    tokio::task::spawn_blocking(move || chromium(&u, &p, Some(&s)))
        .await
        .expect("chromium screenshot");
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} is {size} bytes",
        shot.display()
    );
    eprintln!("stats page screenshot: {}", shot.display());
    stop.store(true, Ordering::Relaxed);
    let _ = load.await;
    proxy.shutdown(Duration::from_secs(1)).await;
}
