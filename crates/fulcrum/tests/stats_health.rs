//! The stats page of a real `fulcrum run`: health checks show on it (a dead server is DOWN with
//! HAProxy's check status `L4CON`, its description, the time since the change and its
//! downtime), and counters survive a reload for the proxies and servers that stay.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// GET `path` on 127.0.0.1:`port` (`Connection: close`); the body.
fn fetch(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// The CSV line of `px/sv` as column → value.
fn csv_row(csv: &str, px: &str, sv: &str) -> std::collections::HashMap<String, String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .expect("header")
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let line = lines
        .find(|l| l.starts_with(&format!("{px},{sv},")))
        .unwrap_or_else(|| panic!("no {px}/{sv} in\n{csv}"));
    header
        .iter()
        .map(|h| h.to_string())
        .zip(line.split(',').map(str::to_string))
        .collect()
}

fn config(front: u16, app: u16, dead: u16, stats: u16, extra: &str) -> String {
    format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend www\n bind 127.0.0.1:{front}\n default_backend pool\n\
         backend pool\n balance roundrobin\n option redispatch\n retries 1\n\
         \x20server live 127.0.0.1:{app} check inter 100ms fall 2 rise 2\n\
         \x20server dead 127.0.0.1:{dead} check inter 100ms fall 2 rise 2\n\
         frontend app\n bind 127.0.0.1:{app}\n http-request return status 200 content-type text/plain string ok\n\
         listen stats\n bind 127.0.0.1:{stats}\n stats uri /s\n{extra}"
    )
}

#[test]
fn health_checks_show_on_the_page_and_counters_survive_a_reload() {
    let (front, app, dead, stats) = (free_port(), free_port(), free_port(), free_port());
    let scratch = Scratch::new("stats-health");
    let cfg = scratch.write("h.cfg", &config(front, app, dead, stats, ""));
    let f = Fulcrum::start(&cfg);
    f.wait_line("pool/dead is DOWN", Duration::from_secs(10))
        .expect("dead server detected");
    let csv = fetch(stats, "/s;csv");
    let d = csv_row(&csv, "pool", "dead");
    assert_eq!(d["status"], "DOWN");
    assert_eq!(d["check_status"], "L4CON");
    assert_eq!(d["check_desc"], "Layer4 connection problem");
    assert_eq!(d["chkdown"], "1");
    assert_eq!(
        (d["check_rise"].as_str(), d["check_fall"].as_str()),
        ("2", "2")
    );
    assert!(
        d["lastchg"].parse::<u64>().is_ok() && d["downtime"].parse::<u64>().is_ok(),
        "{d:?}"
    );
    let l = csv_row(&csv, "pool", "live");
    assert_eq!(l["status"], "UP");
    // Every probe's result reaches the page: the live server's first check passes (bounded).
    let t = Instant::now();
    let mut l = l;
    while l["check_status"] != "L4OK" && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
        l = csv_row(&fetch(stats, "/s;csv"), "pool", "live");
    }
    assert_eq!(l["check_status"], "L4OK", "{l:?}");
    assert_eq!(l["check_desc"], "Layer4 check passed");
    let page = fetch(stats, "/s");
    assert!(page.contains("data-px=\"pool\" data-sv=\"dead\""));
    assert!(page.contains("L4CON"), "check result on the page");
    // Traffic, then a reload that keeps `www`, `pool` and both servers.
    for _ in 0..12 {
        let r = get(front).expect("get");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    }
    let before = csv_row(&fetch(stats, "/s;csv"), "www", "FRONTEND");
    assert_eq!(before["req_tot"], "12");
    std::fs::write(
        &cfg,
        config(front, app, dead, stats, " stats refresh 10s\n"),
    )
    .expect("rewrite");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &f.child.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    f.wait_line("reloaded", Duration::from_secs(10))
        .expect("reloaded");
    // at once: a server DOWN by its checks is DOWN in the new configuration from its first
    // moment (not UP until health replays its state: the race this test once lost)
    assert_eq!(
        csv_row(&fetch(stats, "/s;csv"), "pool", "dead")["status"],
        "DOWN",
        "health state kept through the reload"
    );
    let t = Instant::now();
    let mut after = csv_row(&fetch(stats, "/s;csv"), "www", "FRONTEND");
    while after["req_tot"] != "12" && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
        after = csv_row(&fetch(stats, "/s;csv"), "www", "FRONTEND");
    }
    assert_eq!(
        after["req_tot"], "12",
        "frontend counters lost in the reload"
    );
    let pool = csv_row(&fetch(stats, "/s;csv"), "pool", "live");
    assert_eq!(pool["hrsp_2xx"], "12", "server counters lost in the reload");
    assert_eq!(
        csv_row(&fetch(stats, "/s;csv"), "pool", "dead")["status"],
        "DOWN",
        "health state kept"
    );
}
