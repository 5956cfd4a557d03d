//! keepalived's `virtual_server` blocks in the kernel: the health engine's events for LVS real
//! servers go to the `fulcrum_lvs` core, whose plans are applied with `nft` (one transaction
//! each), quorum_up/quorum_down scripts run, and on stop fulcrum's tables are removed (the
//! host's other nftables are never touched).
//!
//! As keepalived, the rules are installed on every director whether or not it holds the VIP
//! (a BACKUP director receives no packet for the VIP; DR hashes alike on both, see README).

use fulcrum_config::model::Config;
use fulcrum_health::HealthEvent;
use fulcrum_lvs::{nft, Core};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::IpAddr;

pub struct LvsBridge {
    core: Core,
    /// Nothing to do: no virtual_server in the configuration (nft is never run then).
    idle: bool,
    metrics: crate::lvs_metrics::LvsMetrics,
}

/// The interface each DR virtual address is served on: the `interface` (or the address's
/// `dev`) of the vrrp_instance holding it, else the route towards its first real server.
fn dr_devices(config: &Config) -> HashMap<IpAddr, String> {
    let mut out = HashMap::new();
    for vi in &config.keepalived.vrrp_instances {
        for vip in &vi.virtual_ipaddress {
            if let Some(dev) = vip.dev.clone().or_else(|| vi.interface.clone()) {
                out.insert(vip.address, dev);
            }
        }
    }
    for vs in &config.keepalived.virtual_servers {
        if let fulcrum_config::model::VirtualServerAddress::Ip { ip, .. } = vs.address {
            if out.contains_key(&ip) {
                continue;
            }
            if let Some(dev) = vs.real_servers.first().and_then(|rs| route_device(rs.ip)) {
                out.insert(ip, dev);
            }
        }
    }
    out
}

/// `ip route get ADDR` → the `dev` word.
fn route_device(addr: IpAddr) -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["-o", "route", "get", &addr.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "dev" {
            return words.next().map(str::to_string);
        }
    }
    None
}

impl LvsBridge {
    pub fn start(config: &Config, metrics: crate::lvs_metrics::LvsMetrics) -> LvsBridge {
        let vss = config.keepalived.virtual_servers.clone();
        let idle = vss.is_empty();
        let mut b = LvsBridge {
            core: Core::new(vss, dr_devices(config)),
            idle,
            metrics,
        };
        if !idle {
            // A previous run may have left its tables: start from a clean slate.
            if let Err(e) = nft::remove_tables() {
                tracing::error!("LVS: {e}");
            }
            b.sync();
        }
        b
    }

    /// Applies what changed; on a refused transaction, rebuilds the tables from scratch once.
    fn sync(&mut self) {
        let plan = self.core.plan();
        for n in &plan.notes {
            tracing::error!("virtual_server {n}");
        }
        for (vs, up) in &plan.quorum_changes {
            if *up {
                tracing::info!("virtual_server {vs}: quorum gained");
            } else {
                tracing::warn!("virtual_server {vs}: quorum lost");
            }
        }
        let started = std::time::Instant::now();
        match nft::apply(&plan.script) {
            Ok(()) => {
                tracing::debug!(
                    "LVS: ruleset updated in {:?} ({} lines)",
                    started.elapsed(),
                    plan.script.lines().count()
                );
                self.core.applied(plan.desired);
            }
            Err(e) => {
                tracing::error!("LVS: {e}; rebuilding fulcrum's nftables tables");
                self.core.reset_applied();
                let _ = nft::remove_tables();
                let again = self.core.plan();
                match nft::apply(&again.script) {
                    Ok(()) => self.core.applied(again.desired),
                    Err(e) => tracing::error!("LVS: rebuilding failed: {e}"),
                }
            }
        }
        self.publish_metrics();
        // The scripts run once the kernel has the new rules (what they announce is true).
        for s in &plan.scripts {
            run_script(&s.command);
        }
        if !plan.purge.is_empty() {
            match nft::purge(&plan.purge) {
                Ok(n) if n > 0 => {
                    tracing::info!("LVS: {n} persistence or flow entries of failed or departed real servers removed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("LVS: {e}"),
            }
        }
        // `expire_nodest_conn`: after the persistence entries, so no packet is sent back to
        // the dead server by a remembered client.
        for f in &plan.flush {
            match fulcrum_lvs::conntrack::delete(f) {
                Ok(n) => tracing::info!(
                    "LVS: expire_nodest_conn: {n} flows of real server {} deleted",
                    f.address
                ),
                Err(e) => tracing::warn!("LVS: expire_nodest_conn: {e}"),
            }
        }
    }

    /// The Prometheus snapshot: weights, states, quorum (counters are read at scrape time).
    fn publish_metrics(&self) {
        use fulcrum_lvs::names;
        let mut snap = crate::lvs_metrics::Snapshot {
            tables: self.core.applied_ruleset().tables.keys().cloned().collect(),
            ..Default::default()
        };
        for vs in self.core.virtual_servers() {
            let v = names::health_vs(vs);
            let chain = names::vs_chain(vs);
            snap.quorum.push((v.clone(), !self.core.quorum_lost(&v)));
            snap.virtual_servers
                .push(crate::lvs_metrics::VirtualServerInfo {
                    name: v.clone(),
                    protocol: names::proto(vs.protocol),
                    lb_kind: format!("{:?}", vs.lb_kind).to_uppercase(),
                    lb_algo: vs.lb_algo.clone(),
                    addresses: std::iter::once(vs.address)
                        .chain(vs.also.iter().copied())
                        .filter_map(|a| match a {
                            fulcrum_config::model::VirtualServerAddress::Ip { ip, port } => {
                                Some((ip, port))
                            }
                            fulcrum_config::model::VirtualServerAddress::Fwmark(_) => None,
                        })
                        .collect(),
                });
            for rs in &vs.real_servers {
                let r = names::health_rs(rs.ip, rs.port);
                let live = self.core.live(&v, &r);
                let (state, weight) = rs_state(live, rs);
                snap.rows.push(crate::lvs_metrics::Row {
                    virtual_server: v.clone(),
                    real_server: r,
                    weight,
                    up: live.up,
                    chain: names::rs_chain(&chain, rs.ip, rs.port),
                    address: Some((rs.ip, rs.port)),
                    state,
                });
            }
        }
        self.metrics.update(snap);
    }

    /// A health event; ignored unless it names one of our virtual servers.
    pub fn apply(&mut self, ev: &HealthEvent) {
        if self.idle || !self.core.knows(&ev.backend) {
            return;
        }
        match ev.weight {
            Some(w) => self.core.set_weight(&ev.backend, &ev.server, w),
            None => self.core.set_up(&ev.backend, &ev.server, ev.up),
        }
        // Applied before the health engine's own log line is written (the supervisor calls
        // this first): whoever reads "Removing service" can rely on the kernel's rules.
        self.sync();
        if !ev.replay {
            tracing::info!(
                "LVS: virtual_server {}: real server {} {}",
                ev.backend,
                ev.server,
                match (ev.weight, ev.up) {
                    (Some(w), _) => format!("weight {w}"),
                    (None, true) => "in rotation".to_string(),
                    (None, false) => "out of rotation".to_string(),
                }
            );
        }
    }

    /// Whether `refresh_load` has work (a NAT virtual server with lc/wlc/sed/nq, or a real
    /// server with `uthreshold`).
    pub fn wants_load(&self) -> bool {
        !self.idle && self.core.wants_load()
    }

    /// lc/wlc/sed/nq and `uthreshold`: reads conntrack's connections and reweights the slots
    /// (an overloaded real server takes no new flows).
    pub fn refresh_load(&mut self) {
        let tracked = fulcrum_lvs::conntrack::read();
        let mut changed = false;
        let vss: Vec<_> = self.core.virtual_servers().to_vec();
        for vs in vss.iter().filter(|vs| fulcrum_lvs::core::needs_counts(vs)) {
            let v = fulcrum_lvs::names::health_vs(vs);
            let proto = fulcrum_lvs::names::proto(vs.protocol);
            for rs in &vs.real_servers {
                let (mut active, mut total) = (0, 0);
                for a in std::iter::once(vs.address).chain(vs.also.iter().copied()) {
                    if let fulcrum_config::model::VirtualServerAddress::Ip { ip, port } = a {
                        if let Some(n) = tracked.get(&(proto.to_string(), ip, port, rs.ip, rs.port))
                        {
                            active += n.active;
                            total += n.active + n.inactive;
                        }
                    }
                }
                let r = fulcrum_lvs::names::health_rs(rs.ip, rs.port);
                changed |= self.core.set_conns(&v, &r, active, total);
            }
        }
        if changed {
            self.sync();
        }
    }

    /// Every probe's outcome (for `alpha`: the first passing check brings a server in).
    pub fn record_check(&mut self, r: &fulcrum_health::CheckResult) {
        if self.idle || !self.core.knows(&r.backend) {
            return;
        }
        if self
            .core
            .record_check(&r.backend, &r.server, r.outcome.status.passed())
        {
            self.sync();
            tracing::info!(
                "LVS: virtual_server {}: real server {} in rotation (alpha: first check passed)",
                r.backend,
                r.server
            );
        }
    }

    pub fn reload(&mut self, config: &Config) {
        let vss = config.keepalived.virtual_servers.clone();
        if self.idle && vss.is_empty() {
            return;
        }
        if self.idle {
            let _ = nft::remove_tables();
        }
        self.idle = false;
        self.core.reload(vss, dr_devices(config));
        self.sync();
    }

    /// Removes fulcrum's tables (stop).
    pub fn shutdown(&mut self) {
        if self.idle {
            return;
        }
        // omega: the quorum_down scripts, waited for (bounded) before the rules go.
        for s in self.core.shutdown_scripts() {
            tracing::info!(
                "virtual_server {}: omega, running quorum_down",
                s.virtual_server
            );
            if let Ok(mut child) = std::process::Command::new("/bin/sh")
                .args(["-c", &s.command])
                .spawn()
            {
                let start = std::time::Instant::now();
                while matches!(child.try_wait(), Ok(None))
                    && start.elapsed() < std::time::Duration::from_secs(5)
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        match nft::remove_tables() {
            Ok(()) => tracing::info!("LVS: fulcrum's nftables tables removed"),
            Err(e) => tracing::error!("LVS: removing fulcrum's tables: {e}"),
        }
    }

    /// For `fulcrum status`: each virtual server with its real servers, their weight, state,
    /// active/inactive connections (conntrack, NAT) and the connections the kernel scheduled
    /// to them (nft counters) — the stats page's LVS table, as JSON.
    pub fn status(&self) -> Value {
        if self.idle {
            return Value::Array(Vec::new());
        }
        self.publish_metrics();
        Value::Array(
            crate::lvs_metrics::table(&self.metrics)
                .into_iter()
                .map(|vs| {
                    let rss: Vec<Value> = vs
                        .real_servers
                        .iter()
                        .map(|rs| {
                            json!({"real_server": rs.name, "weight": rs.weight, "state": rs.state,
                                   "connections": rs.scheduled,
                                   "active_connections": rs.active,
                                   "inactive_connections": rs.inactive})
                        })
                        .collect();
                    json!({
                        "virtual_server": vs.name,
                        "protocol": vs.protocol,
                        "lb_kind": vs.lb_kind,
                        "lb_algo": vs.lb_algo,
                        "quorum": if vs.quorum_up { "up" } else { "lost" },
                        "real_servers": rss,
                    })
                })
                .collect(),
        )
    }
}

/// A real server's state as `fulcrum status` and the stats page show it, and its weight now.
fn rs_state(
    live: fulcrum_lvs::RsLive,
    rs: &fulcrum_config::model::RealServer,
) -> (&'static str, u32) {
    match (live.up, rs.inhibit_on_failure) {
        (true, _) => ("UP", live.weight.unwrap_or(rs.weight)),
        (false, true) => ("DOWN (inhibited, weight 0)", 0),
        (false, false) => ("DOWN (removed)", 0),
    }
}

/// quorum_up / quorum_down: run through the shell as keepalived, not waited for.
fn run_script(command: &str) {
    match std::process::Command::new("/bin/sh")
        .args(["-c", command])
        .spawn()
    {
        Ok(mut child) => {
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        }
        Err(e) => tracing::error!("cannot run '{command}': {e}"),
    }
}

/// The text of `fulcrum status` for the virtual servers (like `ipvsadm -Ln --stats`).
pub fn render(vss: &[Value]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if vss.is_empty() {
        return out;
    }
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    out.push_str("\nLVS virtual servers:\n");
    for vs in vss {
        let _ = writeln!(
            out,
            "  {} {} {} {} (quorum {})",
            s(vs, "protocol").to_uppercase(),
            s(vs, "virtual_server"),
            s(vs, "lb_kind"),
            s(vs, "lb_algo"),
            s(vs, "quorum")
        );
        for rs in vs
            .get("real_servers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let _ = writeln!(
                out,
                "    -> {:<24} weight {:<5} {:<28} active {:<6} inactive {:<6} {} connection(s) scheduled",
                s(rs, "real_server"),
                n(rs, "weight"),
                s(rs, "state"),
                n(rs, "active_connections"),
                n(rs, "inactive_connections"),
                n(rs, "connections")
            );
        }
    }
    out
}
