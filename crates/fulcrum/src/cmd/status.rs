//! `fulcrum status [--json]`: asks the running fulcrum (over its control socket) for its state
//! and prints it at a glance, as `pcs status` does: VRRP instances with their state, priority
//! and the addresses they hold; frontends with their binds; backends with every server's state
//! (UP, DOWN, MAINT, DRAIN) and why; the last state changes with their times. `--json` prints
//! the report as the process sent it.

use serde_json::Value;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// How many recent changes the text view lists.
const CHANGES_SHOWN: usize = 10;

pub fn run(control: &Path, json: bool) -> ExitCode {
    let report = match fetch(control) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_else(|_| report.to_string())
        );
    } else {
        print!("{}", render(&report));
    }
    ExitCode::SUCCESS
}

fn fetch(control: &Path) -> Result<Value, String> {
    let mut conn = crate::control::connect(control)?;
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    conn.write_all(b"status\n")
        .map_err(|e| format!("cannot send the status request: {e}"))?;
    let mut text = String::new();
    conn.read_to_string(&mut text)
        .map_err(|e| format!("no answer from fulcrum: {e}"))?;
    if let Some(err) = text.strip_prefix("error: ") {
        return Err(err.trim().to_string());
    }
    serde_json::from_str(text.trim())
        .map_err(|e| format!("unreadable answer from fulcrum ({e}): {}", text.trim()))
}

pub(crate) fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    list(v, key)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The text view of a report.
pub fn render(r: &Value) -> String {
    let mut out = String::new();
    let up = r.get("uptime_s").and_then(Value::as_u64).unwrap_or(0);
    let _ = writeln!(
        out,
        "fulcrum {} (pid {}), up {}d {}h{:02}m{:02}s",
        s(r, "version"),
        r.get("pid").and_then(Value::as_u64).unwrap_or(0),
        up / 86_400,
        (up / 3600) % 24,
        (up / 60) % 60,
        up % 60
    );
    out.push_str(&crate::cluster_bridge::render(r));
    out.push_str(&crate::peers_bridge::render(r));
    let vrrp = list(r, "vrrp_instances");
    if !vrrp.is_empty() {
        out.push_str("\nVRRP instances:\n");
        for v in vrrp {
            let prio = v
                .get("priority")
                .and_then(Value::as_u64)
                .map_or("-".to_string(), |p| p.to_string());
            let held = strings(v, "addresses_held");
            let _ = writeln!(
                out,
                "  {} (VRID {} on {}): {}, priority {}, {}",
                s(v, "name"),
                v.get("virtual_router_id")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                v.get("interface").and_then(Value::as_str).unwrap_or("-"),
                s(v, "state"),
                prio,
                if held.is_empty() {
                    "holds no address".to_string()
                } else {
                    format!("holds {}", held.join(" "))
                }
            );
        }
    }
    out.push_str(&crate::lvs_bridge::render(list(r, "virtual_servers")));
    let frontends = list(r, "frontends");
    if !frontends.is_empty() {
        out.push_str("\nFrontends:\n");
        for f in frontends {
            let _ = writeln!(
                out,
                "  {} ({} {}): {}; {} connection(s)",
                s(f, "name"),
                s(f, "kind"),
                s(f, "mode"),
                strings(f, "binds").join(" "),
                f.get("current_connections")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            );
        }
    }
    let backends = list(r, "backends");
    if !backends.is_empty() {
        out.push_str("\nBackends:\n");
        for b in backends {
            let servers = list(b, "servers");
            let up = servers.iter().filter(|x| s(x, "status") == "UP").count();
            let _ = writeln!(out, "  {}: {}/{} UP", s(b, "name"), up, servers.len());
            let width = servers
                .iter()
                .map(|x| s(x, "name").len())
                .max()
                .unwrap_or(0);
            let awidth = servers
                .iter()
                .map(|x| s(x, "address").len())
                .max()
                .unwrap_or(0);
            for x in servers {
                let _ = writeln!(
                    out,
                    "    {:width$}  {:awidth$}  {:5}  weight {}/{}  {}",
                    s(x, "name"),
                    s(x, "address"),
                    s(x, "status"),
                    x.get("weight").and_then(Value::as_u64).unwrap_or(0),
                    x.get("initial_weight").and_then(Value::as_u64).unwrap_or(0),
                    s(x, "reason"),
                );
            }
        }
    }
    let changes = list(r, "recent_changes");
    if !changes.is_empty() {
        out.push_str("\nRecent changes (newest first):\n");
        for c in changes.iter().take(CHANGES_SHOWN) {
            let reason = s(c, "reason");
            let _ = writeln!(
                out,
                "  {}  {}  {}{}",
                s(c, "time"),
                s(c, "object"),
                s(c, "state"),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!("  ({reason})")
                }
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_view_at_a_glance() {
        let r = serde_json::json!({
            "pid": 7, "version": "0.1.0", "uptime_s": 65,
            "vrrp_instances": [{"name": "VI_1", "state": "MASTER", "priority": 100, "interface": "veth0",
                "virtual_router_id": 51, "addresses_held": ["10.99.0.100/24"]}],
            "frontends": [{"name": "web", "kind": "frontend", "mode": "http", "binds": ["10.99.0.100:80"], "current_connections": 1}],
            "backends": [{"name": "app", "servers": [
                {"name": "s1", "address": "127.0.0.1:8081", "status": "UP", "reason": "Layer4 check passed", "weight": 1, "initial_weight": 1},
                {"name": "s2", "address": "127.0.0.1:8082", "status": "DOWN", "reason": "Layer4 connection problem", "weight": 1, "initial_weight": 1}]}],
            "recent_changes": [{"time": "2026-11-23T11:40:01Z", "object": "server app/s2", "state": "DOWN", "reason": "Layer4 connection problem"}]
        });
        let text = render(&r);
        assert!(
            text.starts_with("fulcrum 0.1.0 (pid 7), up 0d 0h01m05s\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  VI_1 (VRID 51 on veth0): MASTER, priority 100, holds 10.99.0.100/24\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  web (frontend http): 10.99.0.100:80; 1 connection(s)\n"),
            "{text}"
        );
        assert!(text.contains("  app: 1/2 UP\n"), "{text}");
        assert!(
            text.contains("    s2  127.0.0.1:8082  DOWN   weight 1/1  Layer4 connection problem\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  2026-11-23T11:40:01Z  server app/s2  DOWN  (Layer4 connection problem)\n"
            ),
            "{text}"
        );
    }
}
