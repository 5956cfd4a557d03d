//! Helpers for the LBaaS API tests: a fulcrum with an `api` section, and `curl` as the HTTP
//! client (a real client, as operators' tooling is), answers parsed as JSON.
#![allow(dead_code)]

use crate::common::{free_port, Fulcrum, Scratch};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Api {
    pub base: String,
    pub fulcrum: Fulcrum,
}

/// A fulcrum whose only config is an `api` section (plus `extra`), store in `scratch`.
pub fn start(scratch: &Scratch, port: u16, extra: &str) -> Api {
    let store = scratch.0.join("lbaas.db");
    let cfg = scratch.write(
        "api.cfg",
        &format!(
            "api\n    bind 127.0.0.1:{port}\n    auth noauth\n    store {}\n{extra}",
            store.display()
        ),
    );
    let fulcrum = Fulcrum::start(&cfg);
    Api {
        base: format!("http://127.0.0.1:{port}"),
        fulcrum,
    }
}

/// A free API port.
pub fn port() -> u16 {
    free_port()
}

/// One request with curl; (status, body as JSON or Null).
pub fn call(method: &str, url: &str, body: Option<&Value>, headers: &[&str]) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-m",
        "10",
        "-X",
        method,
        "-w",
        "\n%{http_code}",
        "-H",
        "Content-Type: application/json",
    ]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    if let Some(b) = body {
        cmd.args(["-d", &b.to_string()]);
    }
    cmd.arg(url);
    let out = cmd
        .output()
        .expect("curl (install it: scripts/install-deps.sh)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    let code: u16 = code.trim().parse().unwrap_or(0);
    let v = serde_json::from_str(body).unwrap_or(if body.is_empty() {
        Value::Null
    } else {
        Value::String(body.to_string())
    });
    (code, v)
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}/v2/lbaas/{path}", self.base)
    }
    pub fn get(&self, path: &str) -> (u16, Value) {
        call("GET", &self.url(path), None, &[])
    }
    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        call("POST", &self.url(path), Some(&body), &[])
    }
    pub fn put(&self, path: &str, body: Value) -> (u16, Value) {
        call("PUT", &self.url(path), Some(&body), &[])
    }
    pub fn delete(&self, path: &str) -> (u16, Value) {
        call("DELETE", &self.url(path), None, &[])
    }
    /// Creates and returns the new object's id (asserting 201).
    pub fn create(&self, path: &str, key: &str, body: Value) -> String {
        let (code, v) = self.post(path, serde_json::json!({ key: body }));
        assert_eq!(code, 201, "POST {path}: {v}\n{}", self.fulcrum.log_text());
        v[key]["id"].as_str().expect("id").to_string()
    }
    /// Waits (bounded) until the load balancer is ACTIVE again; panics on ERROR.
    pub fn wait_active(&self, lb: &str) {
        let start = Instant::now();
        loop {
            let (_, v) = self.get(&format!("loadbalancers/{lb}"));
            match v["loadbalancer"]["provisioning_status"].as_str() {
                Some("ACTIVE") => return,
                Some("ERROR") => panic!("load balancer in ERROR: {v}\n{}", self.fulcrum.log_text()),
                _ => {}
            }
            assert!(start.elapsed() < Duration::from_secs(10), "not ACTIVE: {v}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A loopback VIP unique to this test process (127.0.0.0/8 is all on `lo`).
pub fn vip(salt: u32) -> String {
    let n = std::process::id().wrapping_mul(7).wrapping_add(salt);
    format!("127.0.{}.{}", 1 + (n / 250) % 250, 2 + n % 250)
}

/// One HTTP GET through curl: (status, body, Set-Cookie value of SRV if any).
pub fn fetch(url: &str, cookie: Option<&str>) -> (u16, String, Option<String>) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-m", "5", "-D", "-", url]);
    if let Some(c) = cookie {
        cmd.args(["--cookie", c]);
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let srv = head.lines().find_map(|l| {
        let l = l
            .strip_prefix("Set-Cookie: ")
            .or_else(|| l.strip_prefix("set-cookie: "))?;
        let v = l.strip_prefix("SRV=")?;
        Some(v.split(';').next().unwrap_or("").to_string())
    });
    (code, body.to_string(), srv)
}

/// The real haproxy, or None; under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.
pub fn haproxy() -> Option<&'static str> {
    let found = Command::new("haproxy")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("haproxy");
    }
    assert!(
        std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() != Ok("1"),
        "haproxy is missing and FULCRUM_REQUIRE_NETNS=1: run scripts/install-deps.sh"
    );
    eprintln!("SKIPPED: haproxy is not installed; the rendered config was not checked by it");
    None
}

/// Waits (bounded) until `f` holds, polling every 50 ms.
pub fn wait_for(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The real `haproxy -c` on `cfg` (written to `path`); skipped loudly without haproxy (a
/// failure under FULCRUM_REQUIRE_NETNS=1).
pub fn haproxy_check(path: &std::path::Path, cfg: &str) {
    let Some(haproxy) = haproxy() else { return };
    std::fs::write(path, cfg).expect("write the rendered config");
    let out = Command::new(haproxy)
        .args(["-c", "-f"])
        .arg(path)
        .output()
        .expect("haproxy -c");
    assert!(
        out.status.success(),
        "haproxy -c refused:\n{cfg}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
