//! The LVS state machine: virtual servers from the model, real-server states from the health
//! engine, quorum with hysteresis; each change yields a `Plan` (the nft transaction from the
//! ruleset last applied to the one wanted now, persistence entries to purge, quorum scripts to
//! run). Pure: the adapter applies the plan and calls `applied` once the kernel took it.

use crate::build::{self, alive_weight, Inputs, RsLive};
use crate::names::{self, TABLE};
use crate::ruleset::{diff, Ruleset, TableId};
use fulcrum_config::model::{LbKind, VirtualServer, VirtualServerAddress};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

#[derive(Debug, Default)]
pub struct Core {
    vss: Vec<VirtualServer>,
    live: HashMap<(String, String), RsLive>,
    quorum_lost: HashSet<String>,
    dr_devices: HashMap<IpAddr, String>,
    applied: Ruleset,
    /// `alpha`: real servers DOWN until their first passing check.
    alpha_pending: HashSet<(String, String)>,
    /// `expire_nodest_conn`: real servers that went DOWN since the last plan.
    went_down: HashSet<(String, String)>,
}

/// `expire_nodest_conn`: the kernel's NAT flows of a real server that went DOWN, to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flush {
    pub protocol: fulcrum_config::model::IpProtocol,
    /// The virtual address and port (None for a fwmark virtual server: every flow to the
    /// real server).
    pub virtual_address: Option<(IpAddr, u16)>,
    pub address: IpAddr,
    pub port: u16,
}

/// A script to run: keepalived's `quorum_up` / `quorum_down`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptRun {
    pub virtual_server: String,
    pub up: bool,
    pub command: String,
}

/// Persistence entries pointing at a real server that left: (table, map, value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purge {
    pub table: TableId,
    pub map: String,
    /// The element's value as nft prints it in JSON (`10.99.0.3 . 80` → address and port).
    pub address: IpAddr,
    pub port: Option<u16>,
    /// A DR real server's own persistence set: flushed whole.
    pub whole: bool,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub desired: Ruleset,
    /// The nft script; empty when nothing changes.
    pub script: String,
    pub purge: Vec<Purge>,
    /// Flows to delete at once (`expire_nodest_conn`).
    pub flush: Vec<Flush>,
    pub scripts: Vec<ScriptRun>,
    /// Virtual servers that cannot be programmed, and why.
    pub notes: Vec<String>,
    /// Quorum changes to log.
    pub quorum_changes: Vec<(String, bool)>,
}

impl Core {
    pub fn new(vss: Vec<VirtualServer>, dr_devices: HashMap<IpAddr, String>) -> Core {
        let mut c = Core {
            vss,
            dr_devices,
            ..Core::default()
        };
        c.start_alpha(&HashSet::new());
        // Initial quorum: keepalived starts with real servers up (without `alpha`).
        let lost: HashSet<String> = c
            .vss
            .iter()
            .filter(|vs| c.alive(vs) < u64::from(vs.quorum))
            .map(names::health_vs)
            .collect();
        c.quorum_lost = lost;
        c
    }

    pub fn virtual_servers(&self) -> &[VirtualServer] {
        &self.vss
    }

    pub fn applied_ruleset(&self) -> &Ruleset {
        &self.applied
    }

    /// Whether the health engine's names belong to one of our virtual servers.
    pub fn knows(&self, vs: &str) -> bool {
        self.vss.iter().any(|v| names::health_vs(v) == vs)
    }

    /// Real servers (with checkers) of `alpha` virtual servers that were not configured
    /// before start DOWN, waiting for a passing check.
    fn start_alpha(&mut self, before: &HashSet<(String, String)>) {
        for vs in &self.vss {
            if !vs.alpha {
                continue;
            }
            let v = names::health_vs(vs);
            for rs in vs.real_servers.iter().filter(|rs| !rs.checkers.is_empty()) {
                let key = (v.clone(), names::health_rs(rs.ip, rs.port));
                if !before.contains(&key) {
                    self.live.entry(key.clone()).or_default().up = false;
                    self.alpha_pending.insert(key);
                }
            }
        }
    }

    fn configured(&self) -> HashSet<(String, String)> {
        configured(&self.vss)
    }

    /// A probe's outcome: under `alpha`, the first passing check brings the server UP (the
    /// health engine, which starts servers UP, reports no change then). True if it changed.
    pub fn record_check(&mut self, vs: &str, rs: &str, passed: bool) -> bool {
        let key = (vs.to_string(), rs.to_string());
        if passed && self.alpha_pending.remove(&key) {
            self.live.entry(key).or_default().up = true;
            return true;
        }
        false
    }

    /// `omega`: the quorum_down scripts to run when fulcrum stops.
    pub fn shutdown_scripts(&self) -> Vec<ScriptRun> {
        self.vss
            .iter()
            .filter(|vs| vs.omega && !self.quorum_lost.contains(&names::health_vs(vs)))
            .filter_map(|vs| {
                vs.quorum_down.as_ref().map(|c| ScriptRun {
                    virtual_server: names::health_vs(vs),
                    up: false,
                    command: c.clone(),
                })
            })
            .collect()
    }

    pub fn set_up(&mut self, vs: &str, rs: &str, up: bool) {
        let key = (vs.to_string(), rs.to_string());
        self.alpha_pending.remove(&key);
        let l = self.live.entry(key.clone()).or_default();
        let was_up = l.up;
        l.up = up;
        if up {
            self.went_down.remove(&key);
        } else if was_up {
            self.went_down.insert(key);
        }
    }

    pub fn set_weight(&mut self, vs: &str, rs: &str, weight: u32) {
        self.live
            .entry((vs.to_string(), rs.to_string()))
            .or_default()
            .weight = Some(weight);
    }

    /// Active connections of a real server (conntrack); true if it changed.
    pub fn set_active(&mut self, vs: &str, rs: &str, active: u64) -> bool {
        let l = self
            .live
            .entry((vs.to_string(), rs.to_string()))
            .or_default();
        let changed = l.active != active;
        l.active = active;
        changed
    }

    /// A real server's connections (conntrack): `active` for the least-connection
    /// schedulers, `total` (active + inactive) for its `uthreshold`, whose overload flag
    /// follows IPVS's hysteresis. True if the ruleset may change.
    pub fn set_conns(&mut self, vs: &str, rs: &str, active: u64, total: u64) -> bool {
        let config = self
            .vss
            .iter()
            .filter(|v| names::health_vs(v) == vs)
            .flat_map(|v| v.real_servers.iter())
            .find(|r| names::health_rs(r.ip, r.port) == rs)
            .cloned();
        let l = self
            .live
            .entry((vs.to_string(), rs.to_string()))
            .or_default();
        let over = config.is_some_and(|r| crate::build::overloaded(l.overloaded, total, &r));
        let changed = l.active != active || l.overloaded != over;
        l.active = active;
        l.overloaded = over;
        changed
    }

    /// Whether some NAT virtual server schedules by connection counts or limits them.
    pub fn wants_load(&self) -> bool {
        self.vss.iter().any(needs_counts)
    }

    pub fn live(&self, vs: &str, rs: &str) -> RsLive {
        self.live
            .get(&(vs.to_string(), rs.to_string()))
            .copied()
            .unwrap_or_default()
    }

    pub fn quorum_lost(&self, vs: &str) -> bool {
        self.quorum_lost.contains(vs)
    }

    /// A new model: states of real servers still configured are kept, the rest forgotten.
    pub fn reload(&mut self, vss: Vec<VirtualServer>, dr_devices: HashMap<IpAddr, String>) {
        let keep = configured(&vss);
        let before = self.configured();
        self.live.retain(|k, _| keep.contains(k));
        self.alpha_pending.retain(|k| keep.contains(k));
        let names: HashSet<String> = vss.iter().map(names::health_vs).collect();
        self.quorum_lost.retain(|v| names.contains(v));
        self.vss = vss;
        self.dr_devices = dr_devices;
        self.start_alpha(&before);
    }

    fn alive(&self, vs: &VirtualServer) -> u64 {
        let empty = HashSet::new();
        alive_weight(vs, &self.inputs(&empty))
    }

    fn inputs<'a>(&'a self, quorum_lost: &'a HashSet<String>) -> Inputs<'a> {
        Inputs {
            virtual_servers: &self.vss,
            live: &self.live,
            quorum_lost,
            dr_devices: &self.dr_devices,
            previous: &self.applied,
        }
    }

    /// Updates the quorum states and computes what to apply.
    pub fn plan(&mut self) -> Plan {
        let mut plan = Plan::default();
        // keepalived: quorum is gained at >= quorum + hysteresis, lost below quorum - hysteresis.
        for vs in &self.vss {
            let name = names::health_vs(vs);
            let alive = self.alive(vs);
            let lost = self.quorum_lost.contains(&name);
            let q = u64::from(vs.quorum);
            let h = u64::from(vs.hysteresis);
            let change = if lost && alive >= q + h {
                Some(true)
            } else if !lost && (alive < q.saturating_sub(h) || alive == 0) {
                Some(false)
            } else {
                None
            };
            if let Some(up) = change {
                plan.quorum_changes.push((name.clone(), up));
                let cmd = if up { &vs.quorum_up } else { &vs.quorum_down };
                if let Some(c) = cmd {
                    plan.scripts.push(ScriptRun {
                        virtual_server: name.clone(),
                        up,
                        command: c.clone(),
                    });
                }
            }
        }
        for (name, up) in &plan.quorum_changes {
            if *up {
                self.quorum_lost.remove(name);
            } else {
                self.quorum_lost.insert(name.clone());
            }
        }
        let (desired, notes) = build::build(&self.inputs(&self.quorum_lost));
        plan.notes = notes;
        plan.script = diff(&self.applied, &desired);
        plan.purge = self.purges(&desired);
        self.expire_nodest(&mut plan);
        plan.desired = desired;
        plan
    }

    /// `expire_nodest_conn`: the flows and persistence entries of real servers that went DOWN.
    fn expire_nodest(&mut self, plan: &mut Plan) {
        let went_down = std::mem::take(&mut self.went_down);
        for vs in self.vss.iter().filter(|vs| vs.expire_nodest_conn) {
            let v = names::health_vs(vs);
            let chain = names::vs_chain(vs);
            for rs in &vs.real_servers {
                if !went_down.contains(&(v.clone(), names::health_rs(rs.ip, rs.port))) {
                    continue;
                }
                let addresses = std::iter::once(&vs.address).chain(vs.also.iter());
                for a in addresses {
                    let virtual_address = match *a {
                        VirtualServerAddress::Ip { ip, port } => Some((ip, port)),
                        VirtualServerAddress::Fwmark(_) => None,
                    };
                    plan.flush.push(Flush {
                        protocol: vs.protocol,
                        virtual_address,
                        address: rs.ip,
                        port: rs.port,
                    });
                }
                // With `inhibit_on_failure` the server keeps its chain (weight 0), so the
                // persistence entries were not purged with it: purge them now (DR: its flows
                // too, and its own persistence set).
                let mut purges = Vec::new();
                let rs_chain = names::rs_chain(&chain, rs.ip, rs.port);
                if vs.lb_kind == LbKind::Dr {
                    let table = TableId {
                        family: "netdev",
                        name: TABLE.into(),
                    };
                    purges.push(Purge {
                        table: table.clone(),
                        map: format!("{chain}_flows"),
                        address: rs.ip,
                        port: None,
                        whole: false,
                    });
                    // A removed server's set went with it; an inhibited one keeps it.
                    if vs.persistence_timeout.is_some() && rs.inhibit_on_failure {
                        purges.push(Purge {
                            table,
                            map: format!("{rs_chain}_persist"),
                            address: rs.ip,
                            port: None,
                            whole: true,
                        });
                    }
                } else if vs.persistence_timeout.is_some() {
                    purges.push(Purge {
                        table: TableId {
                            family: "inet",
                            name: TABLE.into(),
                        },
                        map: format!("{chain}_persist"),
                        address: rs.ip,
                        port: match vs.address {
                            VirtualServerAddress::Fwmark(_) => None,
                            _ => Some(rs.port),
                        },
                        whole: false,
                    });
                }
                for purge in purges {
                    if !plan.purge.contains(&purge) {
                        plan.purge.push(purge);
                    }
                }
            }
        }
    }

    /// Persistence entries of real servers whose chain is gone (failed or removed): LVS
    /// reschedules a client whose template points at an unavailable server.
    fn purges(&self, desired: &Ruleset) -> Vec<Purge> {
        let mut out = Vec::new();
        for vs in &self.vss {
            if vs.lb_kind == fulcrum_config::model::LbKind::Dr {
                out.extend(self.dr_purges(vs, desired));
                continue;
            }
            let Some(_) = vs.persistence_timeout else {
                continue;
            };
            let chain = names::vs_chain(vs);
            let id = TableId {
                family: "inet",
                name: TABLE.into(),
            };
            let (Some(old), Some(new)) = (self.applied.tables.get(&id), desired.tables.get(&id))
            else {
                continue;
            };
            let with_port = matches!(
                vs.address,
                fulcrum_config::model::VirtualServerAddress::Ip { .. }
            );
            for rs in &vs.real_servers {
                let c = names::rs_chain(&chain, rs.ip, rs.port);
                if old.chains.contains_key(&c) && !new.chains.contains_key(&c) {
                    out.push(Purge {
                        table: id.clone(),
                        map: format!("{chain}_persist"),
                        address: rs.ip,
                        port: with_port.then_some(rs.port),
                        whole: false,
                    });
                }
            }
        }
        out
    }

    /// DR: the remembered flows of a real server its checker took out (not of one a reload
    /// removed, whose flows may finish there): a client reusing a source port must be hashed
    /// afresh rather than sent to a dead server.
    fn dr_purges(&self, vs: &VirtualServer, desired: &Ruleset) -> Vec<Purge> {
        let id = TableId {
            family: "netdev",
            name: TABLE.into(),
        };
        let (Some(old), Some(new)) = (self.applied.tables.get(&id), desired.tables.get(&id)) else {
            return Vec::new();
        };
        let chain = names::vs_chain(vs);
        let v = names::health_vs(vs);
        vs.real_servers
            .iter()
            .filter(|rs| {
                let c = names::rs_chain(&chain, rs.ip, rs.port);
                old.chains.contains_key(&c)
                    && !new.chains.contains_key(&c)
                    && !self.live(&v, &names::health_rs(rs.ip, rs.port)).up
            })
            .map(|rs| Purge {
                table: id.clone(),
                map: format!("{chain}_flows"),
                address: rs.ip,
                port: None,
                whole: false,
            })
            .collect()
    }

    /// The kernel holds `desired` now.
    pub fn applied(&mut self, desired: Ruleset) {
        self.applied = desired;
    }

    /// Forget what was applied (the table was removed, or must be rebuilt from scratch).
    pub fn reset_applied(&mut self) {
        self.applied = Ruleset::default();
    }
}

/// (virtual server, real server) names of every configured real server.
/// A NAT virtual server whose scheduling reads conntrack's counts: lc/wlc/sed/nq, or a real
/// server with `uthreshold`.
pub fn needs_counts(vs: &VirtualServer) -> bool {
    vs.lb_kind == fulcrum_config::model::LbKind::Nat
        && (matches!(vs.lb_algo.as_str(), "lc" | "wlc" | "sed" | "nq")
            || vs.real_servers.iter().any(|r| r.uthreshold.is_some()))
}

fn configured(vss: &[VirtualServer]) -> HashSet<(String, String)> {
    vss.iter()
        .flat_map(|vs| {
            let v = names::health_vs(vs);
            vs.real_servers
                .iter()
                .map(move |rs| (v.clone(), names::health_rs(rs.ip, rs.port)))
        })
        .collect()
}
