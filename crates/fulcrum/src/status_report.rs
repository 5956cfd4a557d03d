//! `fulcrum status`, server side: the recent state changes (servers UP/DOWN/MAINT/DRAIN, VRRP
//! instances) with their times, and the report the control socket answers with — each VRRP
//! instance with its state, priority and the addresses it holds; each frontend with its binds;
//! each backend with its servers and why they are in their state. Built from plain data the
//! supervisor gathers; pure apart from reading the clock when a change is recorded.

use crate::runtime_api::render::BackendView;
use fulcrum_config::model::{BindAddress, Config};
use fulcrum_health::HealthEvent;
use fulcrum_vrrp::Status as VrrpStatus;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

/// How many changes `fulcrum status` remembers.
const KEEP: usize = 50;

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Unix time, milliseconds.
    pub at_ms: u64,
    /// `server app/s1`, `vrrp_instance VI_1`.
    pub object: String,
    pub state: String,
    pub reason: String,
}

/// The recent changes, and each server's last health-check reason.
#[derive(Debug, Default)]
pub struct History {
    changes: VecDeque<Change>,
    /// (backend, server) → the last check outcome, in HAProxy's words.
    reasons: HashMap<(String, String), String>,
    /// (backend, server) → HAProxy's short check status of the last outcome (`L4CON`, ...).
    check_codes: HashMap<(String, String), &'static str>,
    vrrp: HashMap<String, String>,
    /// Servers that have been stopped (DOWN or MAINT) at least once: HAProxy's health counter
    /// of an unchecked server drops to 0 then and stays there.
    stopped_once: std::collections::HashSet<(String, String)>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl History {
    pub fn record(&mut self, object: String, state: &str, reason: String) {
        if self.changes.len() == KEEP {
            self.changes.pop_front();
        }
        self.changes.push_back(Change {
            at_ms: now_ms(),
            object,
            state: state.to_string(),
            reason,
        });
    }

    /// A health-check event (replays after a reload are not changes).
    pub fn health(&mut self, ev: &HealthEvent) {
        let key = (ev.backend.clone(), ev.server.clone());
        let reason = ev.reason.to_string();
        let reason = reason
            .strip_prefix("reason: ")
            .unwrap_or(&reason)
            .to_string();
        self.check_codes
            .insert(key.clone(), ev.reason.status.code());
        if !ev.up {
            self.stopped_once.insert(key.clone());
        }
        self.reasons.insert(key, reason.clone());
        if !ev.replay && ev.weight.is_none() {
            self.record(
                format!("server {}/{}", ev.backend, ev.server),
                if ev.up { "UP" } else { "DOWN" },
                reason,
            );
        }
    }

    /// A server was set to MAINT (runtime API, stats page).
    pub fn stopped(&mut self, backend: &str, server: &str) {
        self.stopped_once
            .insert((backend.to_string(), server.to_string()));
    }

    pub fn was_stopped(&self, backend: &str, server: &str) -> bool {
        self.stopped_once
            .contains(&(backend.to_string(), server.to_string()))
    }

    /// The last health-check reason of a server, if a check changed its state.
    pub fn reason(&self, backend: &str, server: &str) -> Option<&str> {
        self.reasons
            .get(&(backend.to_string(), server.to_string()))
            .map(String::as_str)
    }

    /// HAProxy's short status of the last check that changed the server's state.
    pub fn check_code(&self, backend: &str, server: &str) -> Option<&'static str> {
        self.check_codes
            .get(&(backend.to_string(), server.to_string()))
            .copied()
    }

    /// The VRRP instances' current states: records each change of state.
    pub fn vrrp(&mut self, statuses: &[(String, VrrpStatus)]) {
        for (name, st) in statuses {
            let state = st.state.keyword().to_string();
            if self.vrrp.get(name) != Some(&state) {
                self.vrrp.insert(name.clone(), state.clone());
                self.record(
                    format!("vrrp_instance {name}"),
                    &state,
                    format!("priority {}", st.priority),
                );
            }
        }
    }

    pub fn changes(&self) -> std::collections::vec_deque::Iter<'_, Change> {
        self.changes.iter()
    }
}

/// `2026-11-23T11:40:01Z` from unix milliseconds (UTC).
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = fulcrum_sample::time::civil((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

fn bind_text(address: &BindAddress, first: u16, last: u16) -> String {
    let host = match address {
        BindAddress::Ip(ip) if ip.is_ipv6() => format!("[{ip}]"),
        BindAddress::Ip(ip) => ip.to_string(),
        BindAddress::AnyV4 => "*".into(),
        BindAddress::AnyV6 => "[::]".into(),
        BindAddress::Unix(p) => return format!("unix@{p}"),
        BindAddress::Abns(n) => return format!("abns@{n}"),
        BindAddress::Fd(n) => return format!("fd@{n}"),
        BindAddress::Sockpair(n) => return format!("sockpair@{n}"),
    };
    if first == last {
        format!("{host}:{first}")
    } else {
        format!("{host}:{first}-{last}")
    }
}

/// Everything `fulcrum status` shows, as JSON (`--json` prints it as is).
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub backends: Vec<BackendView>,
    pub frontend_connections: Vec<(String, u64)>,
    pub vrrp: Vec<(String, VrrpStatus)>,
    pub history: &'a History,
    pub uptime_s: u64,
}

pub fn build(i: &Inputs<'_>) -> Value {
    let vrrp: Vec<Value> = i
        .config
        .keepalived
        .vrrp_instances
        .iter()
        .map(|inst| {
            let st = i.vrrp.iter().find(|(n, _)| n == &inst.name).map(|(_, s)| s);
            let state = st.map_or("UNKNOWN", |s| s.state.keyword());
            let addresses: Vec<String> = inst
                .virtual_ipaddress
                .iter()
                .map(|v| format!("{}/{}", v.address, v.prefix))
                .collect();
            let held = if state == "MASTER" {
                addresses.clone()
            } else {
                Vec::new()
            };
            json!({
                "name": inst.name,
                "state": state,
                "priority": st.map(|s| s.priority),
                "configured_priority": inst.priority,
                "interface": inst.interface,
                "virtual_router_id": inst.virtual_router_id,
                "addresses_held": held,
                "virtual_addresses": addresses,
            })
        })
        .collect();
    let frontends: Vec<Value> = i
        .config
        .frontends()
        .map(|p| {
            let binds: Vec<String> = p
                .binds
                .iter()
                .map(|b| bind_text(&b.address, b.port_first, b.port_last))
                .collect();
            let conns = i
                .frontend_connections
                .iter()
                .find(|(n, _)| n == &p.name)
                .map_or(0, |(_, c)| *c);
            json!({
                "name": p.name,
                "kind": p.kind.keyword(),
                "mode": format!("{:?}", p.mode).to_lowercase(),
                "binds": binds,
                "current_connections": conns,
                "default_backend": p.default_backend.as_ref().map(|r| r.name.clone()),
            })
        })
        .collect();
    let backends: Vec<Value> = i
        .backends
        .iter()
        .map(|b| {
            let servers: Vec<Value> = b
                .servers
                .iter()
                .map(|s| {
                    json!({
                        "name": s.name,
                        "address": format!("{}:{}", s.addr, s.port),
                        "status": s.status,
                        "reason": s.reason,
                        "weight": s.uweight,
                        "initial_weight": s.iweight,
                        "current_sessions": s.served,
                        "since_change_s": s.since_change_s,
                    })
                })
                .collect();
            json!({ "name": b.name, "servers": servers })
        })
        .collect();
    let changes: Vec<Value> = i
        .history
        .changes()
        .rev()
        .map(|c| json!({ "time": utc(c.at_ms), "unix_ms": c.at_ms, "object": c.object, "state": c.state, "reason": c.reason }))
        .collect();
    json!({
        "pid": std::process::id(),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": i.uptime_s,
        "vrrp_instances": vrrp,
        "frontends": frontends,
        "backends": backends,
        "recent_changes": changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_holds_addresses_only_as_master() {
        use fulcrum_config::{load_sources, Source};
        let h =
            "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
                 frontend web\n bind 10.99.0.100:80\n bind :::8443-8444\n default_backend app\n\
                 backend app\n server a 10.99.0.1:80 check\n";
        let k = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n priority 120\n \
                 virtual_ipaddress {\n  10.99.0.100/24\n }\n}\n";
        let loaded = load_sources(&[
            Source {
                name: "h.cfg",
                text: h,
            },
            Source {
                name: "k.conf",
                text: k,
            },
        ]);
        assert!(loaded.is_ok(), "{:?}", loaded.diagnostics);
        let mut history = History::default();
        history.record("server app/a".into(), "DOWN", "Layer4 timeout".into());
        let status = |state| VrrpStatus {
            state,
            priority: 120,
            counters: Default::default(),
        };
        let report = |state| {
            build(&Inputs {
                config: &loaded.config,
                backends: Vec::new(),
                frontend_connections: vec![("web".into(), 3)],
                vrrp: vec![("VI_1".into(), status(state))],
                history: &history,
                uptime_s: 5,
            })
        };
        let master = report(fulcrum_vrrp::machine::State::Master);
        assert_eq!(
            master["vrrp_instances"][0]["addresses_held"],
            json!(["10.99.0.100/24"])
        );
        assert_eq!(master["vrrp_instances"][0]["virtual_router_id"], 7);
        assert_eq!(
            master["frontends"][0]["binds"],
            json!(["10.99.0.100:80", "[::]:8443-8444"])
        );
        assert_eq!(master["frontends"][0]["current_connections"], 3);
        assert_eq!(master["recent_changes"][0]["object"], "server app/a");
        let backup = report(fulcrum_vrrp::machine::State::Backup);
        assert_eq!(backup["vrrp_instances"][0]["state"], "BACKUP");
        assert_eq!(backup["vrrp_instances"][0]["addresses_held"], json!([]));
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_795_433_093_000), "2026-11-23T11:24:53Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn history_keeps_the_last_changes_and_vrrp_transitions_only() {
        let mut h = History::default();
        for i in 0..(KEEP + 5) {
            h.record(format!("server a/s{i}"), "DOWN", String::new());
        }
        assert_eq!(h.changes().count(), KEEP);
        assert_eq!(
            h.changes().next().map(|c| c.object.as_str()),
            Some("server a/s5")
        );
        let st = |state| VrrpStatus {
            state,
            priority: 100,
            counters: Default::default(),
        };
        h.vrrp(&[("VI_1".into(), st(fulcrum_vrrp::machine::State::Backup))]);
        h.vrrp(&[("VI_1".into(), st(fulcrum_vrrp::machine::State::Backup))]);
        h.vrrp(&[("VI_1".into(), st(fulcrum_vrrp::machine::State::Master))]);
        let v: Vec<&str> = h
            .changes()
            .filter(|c| c.object == "vrrp_instance VI_1")
            .map(|c| c.state.as_str())
            .collect();
        assert_eq!(v, ["BACKUP", "MASTER"]);
    }
}
