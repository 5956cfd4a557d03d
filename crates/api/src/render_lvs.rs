//! Renders UDP and SCTP listeners as keepalived `virtual_server` blocks, the way Octavia's
//! amphora driver does (its `keepalivedlvs.cfg.j2`): one virtual server per listener on the
//! VIP and the listener's port, NAT, the default pool's members as real servers, SOURCE_IP
//! persistence as `persistence_timeout` / `persistence_granularity` (Octavia's defaults 360 s
//! and 255.255.255.255), a UDP-CONNECT monitor as a MISC_CHECK running the UDP check
//! (Octavia's `udp_check.sh ADDRESS PORT`; fulcrum's own `fulcrum udp-check ADDRESS PORT`)
//! with `delay_loop` = delay, `delay_before_retry` = timeout, `retry` = max_retries_down,
//! `misc_timeout` = delay. As Octavia, a listener whose pool has no enabled member is not
//! rendered at all, and disabled members are left out.
//!
//! Two spellings differ from Octavia's template: `lvs_sched` / `lvs_method` instead of the
//! old `lb_algo` / `lb_kind` (same meaning; keepalived accepts both, the old ones with a
//! warning fulcrum would log on every change).
//!
//! The text goes to the running fulcrum as a keepalived-syntax source next to the haproxy.cfg
//! rendering (`render.rs`), in the same reload, so the LVS data plane (crates/lvs, nftables)
//! serves it. Pure: the check command is given by the caller.

use crate::state::{b, i, s, Obj, State};
use std::fmt::Write;

/// The protocols served by the LVS data plane rather than the proxy.
pub fn is_l4(protocol: &str) -> bool {
    matches!(protocol, "UDP" | "SCTP")
}

/// Every UDP/SCTP virtual server of the load balancers `render::render_all` runs.
pub fn render_all(state: &State, check: &str) -> String {
    let mut lbs: Vec<&Obj> = state
        .all("loadbalancer")
        .filter(|o| !matches!(s(o, "provisioning_status"), "ERROR" | "PENDING_DELETE"))
        .collect();
    lbs.sort_by_key(|o| i(o, "_seq"));
    let mut out = String::new();
    for lb in lbs {
        out.push_str(&render_lb(state, s(lb, "id"), check));
    }
    out
}

fn live(o: &Obj) -> bool {
    s(o, "provisioning_status") != "PENDING_DELETE"
}

fn enabled(o: &Obj) -> bool {
    live(o) && b(o, "admin_state_up")
}

/// Octavia's BALANCE_MAP for LVS.
pub fn scheduler(alg: &str) -> &'static str {
    match alg {
        "LEAST_CONNECTIONS" => "lc",
        "SOURCE_IP" => "sh",
        _ => "rr",
    }
}

/// The virtual servers of one load balancer.
pub fn render_lb(state: &State, lb_id: &str, check: &str) -> String {
    let mut out = String::new();
    let Some(lb) = state.get("loadbalancer", lb_id).filter(|o| enabled(o)) else {
        return out;
    };
    let vip = s(lb, "vip_address");
    for lid in state.children("listener", "loadbalancer_id", lb_id) {
        let Some(l) = state
            .get("listener", &lid)
            .filter(|l| enabled(l) && is_l4(s(l, "protocol")))
        else {
            continue;
        };
        let Some(p) = l
            .get("default_pool_id")
            .and_then(|v| v.as_str())
            .and_then(|pid| state.get("pool", pid))
            .filter(|p| enabled(p))
        else {
            continue;
        };
        out.push_str(&virtual_server(state, vip, l, p, check));
    }
    out
}

fn virtual_server(state: &State, vip: &str, l: &Obj, p: &Obj, check: &str) -> String {
    let pid = s(p, "id");
    let members: Vec<&Obj> = state
        .children("member", "pool_id", pid)
        .iter()
        .filter_map(|m| state.get("member", m))
        .filter(|m| enabled(m))
        .collect();
    let mut o = String::new();
    if members.is_empty() {
        let _ = writeln!(
            o,
            "# Listener {} has no enabled member in pool {pid}: not rendered\n",
            s(l, "id")
        );
        return o;
    }
    let hm = state
        .children("healthmonitor", "pool_id", pid)
        .into_iter()
        .filter_map(|h| state.get("healthmonitor", &h))
        .find(|h| enabled(h));
    let _ = writeln!(o, "# Configuration for Listener {}", s(l, "id"));
    let _ = writeln!(o, "virtual_server {vip} {} {{", i(l, "protocol_port"));
    let _ = writeln!(o, "    lvs_sched {}", scheduler(s(p, "lb_algorithm")));
    let _ = writeln!(o, "    lvs_method NAT");
    let _ = writeln!(o, "    protocol {}", s(l, "protocol"));
    if let Some(sp) = p
        .get("session_persistence")
        .and_then(|v| v.as_object())
        .filter(|sp| s(sp, "type") == "SOURCE_IP")
    {
        let timeout = sp
            .get("persistence_timeout")
            .and_then(|v| v.as_i64())
            .filter(|t| *t > 0)
            .unwrap_or(360);
        let granularity = sp
            .get("persistence_granularity")
            .and_then(|v| v.as_str())
            .filter(|g| !g.is_empty())
            .unwrap_or("255.255.255.255");
        let _ = writeln!(o, "    persistence_timeout {timeout}");
        let _ = writeln!(o, "    persistence_granularity {granularity}");
    }
    // Octavia enforces allowed_cidrs in the VIP port's security group; fulcrum's LVS runs
    // its own keyword (keepalived warns on it and ignores it).
    if let Some(list) = l.get("allowed_cidrs").and_then(|v| v.as_array()) {
        let nets: Vec<&str> = list.iter().filter_map(|c| c.as_str()).collect();
        if !nets.is_empty() {
            let _ = writeln!(o, "    allowed_cidrs {}", nets.join(" "));
        }
    }
    if let Some(h) = hm {
        let _ = writeln!(o, "    delay_loop {}", i(h, "delay"));
        let _ = writeln!(o, "    delay_before_retry {}", i(h, "timeout"));
        let _ = writeln!(o, "    retry {}", i(h, "max_retries_down"));
    }
    let _ = writeln!(o, "    # Configuration for Pool {pid}");
    if let Some(h) = hm {
        let _ = writeln!(o, "    # Configuration for HealthMonitor {}", s(h, "id"));
    }
    for m in members {
        let _ = writeln!(o, "    # Configuration for Member {}", s(m, "id"));
        let _ = writeln!(
            o,
            "    real_server {} {} {{",
            s(m, "address"),
            i(m, "protocol_port")
        );
        let _ = writeln!(o, "        weight {}", i(m, "weight"));
        // Octavia's keepalivedlvs template: the listener's limit on every real server.
        if i(l, "connection_limit") > 0 {
            let _ = writeln!(o, "        uthreshold {}", i(l, "connection_limit"));
        }
        if let Some(h) = hm {
            let _ = writeln!(o, "        delay_before_retry {}", i(h, "timeout"));
            let _ = writeln!(o, "        retry {}", i(h, "max_retries_down"));
            if s(h, "type") == "UDP-CONNECT" {
                let addr = m
                    .get("monitor_address")
                    .and_then(|v| v.as_str())
                    .unwrap_or(s(m, "address"));
                let port = m
                    .get("monitor_port")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(i(m, "protocol_port"));
                let _ = writeln!(o, "        MISC_CHECK {{");
                let _ = writeln!(o, "            misc_path \"{check} {addr} {port}\"");
                let _ = writeln!(o, "            misc_timeout {}", i(h, "delay"));
                let _ = writeln!(o, "        }}");
            }
        }
        let _ = writeln!(o, "    }}");
    }
    let _ = writeln!(o, "}}\n");
    o
}
