//! `http-request use-service prometheus-exporter if { path /metrics }` through `fulcrum run`:
//! the numbers follow real traffic, every family has the name, type and HELP the real
//! haproxy's exporter gives it on the same config (dashboards keep working), and the whole
//! exposition passes `promtool check metrics` (Debian `prometheus`). haproxy and promtool are
//! required under FULCRUM_REQUIRE_NETNS=1 (CI installs them); otherwise they skip loudly.

mod common;

use common::{app_server, free_port, get, Fulcrum, Scratch};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fulcrum_testlab::require::{have, required};

fn scrape(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{out}"
    );
    out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
}

/// `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// family → (TYPE, HELP).
fn families(text: &str) -> BTreeMap<String, (String, String)> {
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.entry(name.to_string()).or_default().1 = help.to_string();
        } else if let Some(rest) = l.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            out.entry(name.to_string()).or_default().0 = kind.to_string();
        }
    }
    out
}

fn config(front: u16, app1: u16, app2: u16) -> String {
    format!(
        "global\n nbthread 2\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend www\n bind 127.0.0.1:{front}\n http-request use-service prometheus-exporter if {{ path /metrics }}\n default_backend app_pool\n\
         backend app_pool\n balance roundrobin\n option httpchk GET /\n\
         server app-1 127.0.0.1:{app1} check inter 200\n server app-2 127.0.0.1:{app2} check inter 200\n"
    )
}

#[test]
fn metrics_follow_traffic_and_match_haproxys_exporter() {
    let scratch = Scratch::new("prometheus");
    let (front, p1, p2) = (free_port(), free_port(), free_port());
    let _app1 = app_server(&scratch, "app-1", p1, 200);
    let _app2 = app_server(&scratch, "app-2", p2, 200);
    let cfg = scratch.write("lb.cfg", &config(front, p1, p2));
    let lb = Fulcrum::start(&cfg);

    let before = samples(&scrape(front));
    let n = 20;
    for _ in 0..n {
        let r = get(front).expect("request");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    }
    // Checks run every 200 ms: wait (bounded) until both servers report a check status.
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let t = scrape(front);
        if t.contains(
            "haproxy_server_check_status{proxy=\"app_pool\",server=\"app-2\",state=\"L7OK\"} 1",
        ) || Instant::now() > deadline
        {
            break t;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let after = samples(&text);
    let delta =
        |k: &str| after.get(k).copied().unwrap_or(f64::NAN) - before.get(k).copied().unwrap_or(0.0);
    assert_eq!(
        delta("haproxy_backend_http_responses_total{proxy=\"app_pool\",code=\"2xx\"}"),
        n as f64,
        "{text}"
    );
    assert_eq!(
        delta("haproxy_server_sessions_total{proxy=\"app_pool\",server=\"app-1\"}")
            + delta("haproxy_server_sessions_total{proxy=\"app_pool\",server=\"app-2\"}"),
        n as f64,
        "{text}"
    );
    assert_eq!(
        delta("haproxy_server_sessions_total{proxy=\"app_pool\",server=\"app-1\"}"),
        (n / 2) as f64,
        "round robin"
    );
    assert!(delta("haproxy_frontend_bytes_out_total{proxy=\"www\"}") > 0.0);
    assert_eq!(
        after.get("haproxy_server_status{proxy=\"app_pool\",server=\"app-1\",state=\"UP\"}"),
        Some(&1.0),
        "{text}"
    );
    assert_eq!(
        after.get("haproxy_server_status{proxy=\"app_pool\",server=\"app-1\",state=\"DOWN\"}"),
        Some(&0.0)
    );
    assert_eq!(
        after
            .get("haproxy_server_check_status{proxy=\"app_pool\",server=\"app-2\",state=\"L7OK\"}"),
        Some(&1.0),
        "{text}"
    );
    assert_eq!(after.get("haproxy_process_nbthread"), Some(&2.0));

    // promtool (the Prometheus project's own linter) accepts the exposition.
    if have("promtool") {
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("feed promtool");
        let out = child.wait_with_output().expect("promtool runs");
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        assert!(
            !required(),
            "promtool is required under FULCRUM_REQUIRE_NETNS=1 (Debian package prometheus)"
        );
        eprintln!("SKIPPED promtool check: promtool not installed (Debian package prometheus)");
    }

    // The real haproxy, same config: every family fulcrum writes exists there with the same
    // type and HELP, and the main families dashboards use are present in both.
    if !have("haproxy") {
        assert!(
            !required(),
            "haproxy is required under FULCRUM_REQUIRE_NETNS=1"
        );
        eprintln!("SKIPPED haproxy comparison: haproxy not installed");
        return;
    }
    drop(lb);
    let hfront = free_port();
    let hcfg = scratch.write("ha.cfg", &config(hfront, p1, p2));
    let mut ha = common::Running(
        Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&hcfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", hfront)).is_err() {
        assert!(Instant::now() < deadline, "haproxy listening");
        assert!(
            ha.0.try_wait().ok().flatten().is_none(),
            "haproxy exited early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its check families appear once both servers' first checks are done (as fulcrum's did).
    let checked = |st: &str| {
        ["app-1", "app-2"].iter().all(|s| {
            samples(st).get(&format!(
                "haproxy_server_check_status{{proxy=\"app_pool\",server=\"{s}\",state=\"L7OK\"}}"
            )) == Some(&1.0)
        })
    };
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || checked(&scrape(hfront)))
            .is_some(),
        "haproxy never finished its first checks"
    );
    let theirs = families(&scrape(hfront));
    let ours = families(&text);
    let fulcrum_own: Vec<&String> = ours.keys().filter(|k| k.starts_with("fulcrum_")).collect();
    assert!(fulcrum_own.is_empty() || fulcrum_own.iter().all(|k| !theirs.contains_key(*k)));
    for (name, (kind, help)) in ours.iter().filter(|(k, _)| k.starts_with("haproxy_")) {
        match theirs.get(name) {
            Some((k, h)) => {
                assert_eq!(k, kind, "TYPE of {name}");
                assert_eq!(h, help, "HELP of {name}");
            }
            None => panic!("{name} is not a family of haproxy's exporter"),
        }
    }
    for must in [
        "haproxy_frontend_current_sessions",
        "haproxy_frontend_sessions_total",
        "haproxy_frontend_bytes_in_total",
        "haproxy_frontend_http_requests_total",
        "haproxy_frontend_http_responses_total",
        "haproxy_backend_status",
        "haproxy_backend_http_responses_total",
        "haproxy_backend_active_servers",
        "haproxy_server_status",
        "haproxy_server_current_sessions",
        "haproxy_server_sessions_total",
        "haproxy_server_check_status",
        "haproxy_server_weight",
    ] {
        assert!(theirs.contains_key(must), "haproxy has {must}");
        assert!(ours.contains_key(must), "fulcrum has {must}");
    }
    eprintln!(
        "{} of haproxy's {} families are served by fulcrum",
        ours.len(),
        theirs.len()
    );
}

/// `chkfail` and `chkdown` of a server that dies, through both exporters at once: HAProxy
/// counts the checks that failed while the server was UP (`fall` of them), not the ones after.
#[test]
fn failed_checks_are_counted_as_haproxy_counts_them() {
    let scratch = Scratch::new("prometheus-chkfail");
    let (front, hfront, p1, p2) = (free_port(), free_port(), free_port(), free_port());
    let app1 = app_server(&scratch, "app-1", p1, 200);
    let _app2 = app_server(&scratch, "app-2", p2, 200);
    let lb = Fulcrum::start(&scratch.write("lb.cfg", &config(front, p1, p2)));
    let ha = if have("haproxy") {
        let hcfg = scratch.write("ha.cfg", &config(hfront, p1, p2));
        let child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&hcfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", hfront)).is_err() {
            assert!(Instant::now() < deadline, "haproxy listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(common::Running(child))
    } else {
        assert!(
            !required(),
            "haproxy is required under FULCRUM_REQUIRE_NETNS=1"
        );
        eprintln!("SKIPPED the haproxy half: haproxy not installed");
        None
    };
    let key = |m: &str| format!("haproxy_server_{m}{{proxy=\"app_pool\",server=\"app-1\"}}");
    let state = |st: &str| {
        format!("haproxy_server_check_status{{proxy=\"app_pool\",server=\"app-1\",state=\"{st}\"}}")
    };
    let fronts: Vec<u16> = std::iter::once(front)
        .chain(ha.as_ref().map(|_| hfront))
        .collect();
    // Both see app-1 pass a check (last check L7OK), then it dies.
    for &p in &fronts {
        let passed = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
            samples(&scrape(p)).get(&state("L7OK")) == Some(&1.0)
        });
        assert!(
            passed.is_some(),
            "app-1 never passed a check behind port {p}"
        );
    }
    drop(app1);
    lb.wait_line("Server app_pool/app-1 is DOWN", Duration::from_secs(10))
        .expect("fulcrum marks app-1 DOWN");
    for &p in &fronts {
        let down = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
            samples(&scrape(p)).get(&key("check_up_down_total")) == Some(&1.0)
        });
        assert!(down.is_some(), "app-1 never went DOWN behind port {p}");
    }
    // An observation window, not a synchronisation: more checks fail while DOWN (inter 200ms),
    // and neither proxy may count them.
    std::thread::sleep(Duration::from_millis(1000));
    let ours = samples(&scrape(front));
    assert_eq!(
        ours.get(&key("check_failures_total")),
        Some(&3.0),
        "fall 3: three failed checks while UP"
    );
    assert_eq!(ours.get(&key("check_up_down_total")), Some(&1.0));
    if ha.is_some() {
        let theirs = samples(&scrape(hfront));
        assert_eq!(
            ours.get(&key("check_failures_total")),
            theirs.get(&key("check_failures_total")),
            "chkfail: fulcrum vs haproxy"
        );
        assert_eq!(
            ours.get(&key("check_up_down_total")),
            theirs.get(&key("check_up_down_total")),
            "chkdown: fulcrum vs haproxy"
        );
    }
}
