//! `fulcrum status [--json]` against a real `fulcrum run`: servers UP, DOWN (with the check's
//! reason) and MAINT (after `disable server` on the runtime socket), the recent changes with
//! their times; and, in a network namespace with a keepalived config, the VRRP instance
//! MASTER holding its virtual address.

mod runtime_support;

use runtime_support::*;
use serde_json::Value;
use std::time::Duration;

fn proxy_config(dir: &std::path::Path, bind: &str, up: u16, down: u16) -> String {
    format!(
        "global\n stats socket {sock} level admin\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend www\n bind {bind}\n default_backend app\n\
         frontend demo\n bind 127.0.0.1:{up}\n http-request return status 200 content-type text/plain string ok\n\
         backend app\n server s1 127.0.0.1:{up} check inter 200ms\n server s2 127.0.0.1:{down} check inter 200ms\n \
         server s3 127.0.0.1:{up} check inter 200ms\n",
        sock = dir.join("admin.sock").display()
    )
}

fn server<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["backends"][0]["servers"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no server {name} in {report}"))
}

#[test]
fn status_shows_servers_with_reasons_and_the_last_changes() {
    let mut bind = 0;
    let f = Fulcrum::start_bound("status", "admin.sock", |dir| {
        bind = free_port();
        proxy_config(dir, &format!("127.0.0.1:{bind}"), free_port(), free_port())
    });
    let dir = f.dir.clone();
    let mut report = Value::Null;
    let settled = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        let (ok, out, _) = f.status(true);
        report = serde_json::from_str(&out).unwrap_or(Value::Null);
        ok && server(&report, "s2")["status"] == "DOWN"
            && server(&report, "s1")["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("Layer4 check passed"))
    });
    assert!(
        settled.is_some(),
        "s2 never reported DOWN, or s1's check never passed: {report}\n{}",
        f.log()
    );
    assert_eq!(report["pid"], f.child.pid());
    assert_eq!(server(&report, "s1")["status"], "UP");
    let up_reason = server(&report, "s1")["reason"].as_str().unwrap_or("");
    assert!(
        up_reason.starts_with("Layer4 check passed"),
        "the latest check: {up_reason}"
    );
    let reason = server(&report, "s2")["reason"].as_str().unwrap_or("");
    assert!(reason.starts_with("Layer4 connection problem"), "{reason}");
    assert_eq!(
        report["frontends"][0]["binds"][0],
        format!("127.0.0.1:{bind}")
    );

    assert_eq!(
        query(&dir.join("admin.sock"), "disable server app/s3").expect("disable"),
        "\n"
    );
    let (ok, text, err) = f.status(false);
    assert!(ok, "{err}");
    assert!(
        text.starts_with(&format!(
            "fulcrum {} (pid {}), up 0d 0h00m",
            env!("CARGO_PKG_VERSION"),
            f.child.pid()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("  www (frontend http): 127.0.0.1:{bind}; ")),
        "{text}"
    );
    assert!(text.contains("  app: 1/3 UP\n"), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or("")
            .to_string()
    };
    assert!(line("s1").contains(" UP "), "{text}");
    assert!(
        line("s2").contains(" DOWN ") && line("s2").contains("Layer4 connection problem"),
        "{text}"
    );
    assert!(
        line("s3").contains(" MAINT ") && line("s3").contains("maintenance"),
        "{text}"
    );
    // Newest first: the MAINT set just now, then s2 going DOWN.
    let changes: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Recent changes"))
        .skip(1)
        .collect();
    assert!(changes[0].contains("server app/s3  MAINT"), "{text}");
    assert!(
        changes
            .iter()
            .any(|l| l.contains("server app/s2  DOWN  (Layer4 connection problem")),
        "{text}"
    );
    assert!(
        changes[0].trim_start().starts_with("20")
            && changes[0].contains('T')
            && changes[0].contains("Z  "),
        "{text}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["status", "--control", "/nonexistent/fulcrum.sock"])
        .output()
        .expect("status");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach fulcrum"));
}

#[test]
fn status_shows_the_vrrp_master_and_its_address_in_a_netns() {
    if !fulcrum_testlab::netns::available("status_shows_the_vrrp_master_and_its_address_in_a_netns")
    {
        return;
    }
    let lab = fulcrum_testlab::netns::Lab::new(1).expect("netns lab");
    let node = lab.node(0);
    let dir = Scratch::new("status-vrrp");
    let keepalived = "vrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  priority 150\n  \
                      advert_int 1\n  virtual_ipaddress {\n    10.99.0.100/32 dev eth0\n  }\n}\n";
    let haproxy = proxy_config(&dir, "*:8080", 8000, 8001);
    let f = Fulcrum::start_files(
        dir.clone(),
        &[("h.cfg", &haproxy), ("k.conf", keepalived)],
        Some(&node.netns),
    );
    let vip =
        fulcrum_testlab::wait::until(Duration::from_secs(15), || node.has_address("10.99.0.100"));
    assert!(
        vip.is_some(),
        "the single node never took the VIP\n{}",
        f.log()
    );
    let mut report = Value::Null;
    let settled = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        let (ok, out, _) = f.status(true);
        report = serde_json::from_str(&out).unwrap_or(Value::Null);
        ok && report["vrrp_instances"][0]["state"] == "MASTER"
            && server(&report, "s2")["status"] == "DOWN"
    });
    assert!(settled.is_some(), "{report}\n{}", f.log());
    let inst = &report["vrrp_instances"][0];
    assert_eq!(inst["name"], "VI_1");
    assert_eq!(inst["priority"], 150);
    assert_eq!(
        inst["addresses_held"],
        serde_json::json!(["10.99.0.100/32"])
    );
    assert_eq!(server(&report, "s1")["status"], "UP");

    let (ok, text, err) = f.status(false);
    assert!(ok, "{err}");
    assert!(
        text.contains("  VI_1 (VRID 51 on eth0): MASTER, priority 150, holds 10.99.0.100/32\n"),
        "{text}"
    );
    assert!(text.contains("  www (frontend http): *:8080; "), "{text}");
    assert!(
        text.contains("vrrp_instance VI_1  MASTER"),
        "the transition is in the recent changes: {text}"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("s2 ") && l.contains(" DOWN ")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("s1 ") && l.contains(" UP ")),
        "{text}"
    );
    drop(f);
    drop(lab);
}
