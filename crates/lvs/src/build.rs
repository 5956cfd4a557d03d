//! From the virtual servers and the live real-server states, the ruleset fulcrum wants.
//!
//! NAT (`table inet fulcrum_lvs`): base chains at the `dstnat` priority of prerouting and
//! output look the packet up in `services4`/`services6` (address . protocol . port) or
//! `fwmarks` and `goto` its virtual server's chain. That chain picks a slot — `numgen inc`
//! for rr/wrr (and lc/wlc/sed/nq, as wrr over load-divided weights), `jhash` of the source for `sh`, of the
//! destination for `dh`, of source address and port for `mh` — from `<vs>_slots`, whose
//! elements jump to one chain per real server that dnats (conntrack keeps the flow there).
//!
//! DR (`table netdev fulcrum_lvs`): an ingress chain per device does the same lookup; the
//! virtual server's chain first forwards packets of known flows (`<vs>_flows`, learned by the
//! real-server chains), then, under persistence, sends a client found in a real server's
//! timed set (`<rs chain>_persist`) to it, then hashes new ones (`jhash` of source address and
//! port, or of the source key alone under persistence) into the slots; the real-server chain
//! learns the flow (and the client) and does `fwd ip to <rs> device <dev>` — the packet keeps the VIP, the kernel resolves
//! the real server's MAC. No conntrack is involved, so both directors hash alike.

mod dr;
mod members;
mod slots;

pub use members::{alive_weight, members, overloaded, Member, RsLive};
use members::{least_conn, without_overloaded};
use slots::{member_chain, previous_slots, slot_elems};

use crate::names::{self, fam, proto, target, TABLE};
use crate::ruleset::{Chain, Map, Ruleset, Table, TableId};
use crate::sched::{slots_stable, Algo};
use fulcrum_config::model::{IpProtocol, LbKind, VirtualServer, VirtualServerAddress};
use std::collections::HashMap;
use std::net::IpAddr;

/// The size of each dynamic map (persistence, DR flows): explicit, as the kernel needs.
pub const DYNAMIC_SIZE: u32 = 65536;
/// How long a DR flow is remembered (LVS's TCP established timeout is 900s, UDP 300s).
pub const DR_FLOW_TIMEOUT_TCP: u32 = 900;
pub const DR_FLOW_TIMEOUT_UDP: u32 = 300;
/// jhash seed: fixed, so two directors hash a flow to the same real server.
const SEED: &str = "0x66756c63";

pub struct Inputs<'a> {
    pub virtual_servers: &'a [VirtualServer],
    /// (health vs name, health rs name) → state; missing = up (keepalived without `alpha`).
    pub live: &'a HashMap<(String, String), RsLive>,
    /// Virtual servers whose quorum is lost (their sorry server is in the rotation).
    pub quorum_lost: &'a std::collections::HashSet<String>,
    /// The device each DR virtual address is served on.
    pub dr_devices: &'a HashMap<IpAddr, String>,
    /// The ruleset applied now: slot assignments are patched, not recomputed.
    pub previous: &'a Ruleset,
}

/// The desired ruleset, and a note for each virtual server that cannot be programmed.
pub fn build(inputs: &Inputs) -> (Ruleset, Vec<String>) {
    let mut rs = Ruleset::default();
    let mut notes = Vec::new();
    let mut nat: Option<Table> = None;
    let mut dr: Option<Table> = None;
    for vs in inputs.virtual_servers {
        match vs.lb_kind {
            LbKind::Nat => {
                let t = nat.get_or_insert_with(nat_skeleton);
                if let Err(e) = add_nat(t, vs, inputs) {
                    notes.push(format!("{}: {e}", names::health_vs(vs)));
                }
            }
            LbKind::Dr => {
                let t = dr.get_or_insert_with(dr_skeleton);
                if let Err(e) = dr::add_dr(t, vs, inputs) {
                    notes.push(format!("{}: {e}", names::health_vs(vs)));
                }
            }
            LbKind::Tun => notes.push(format!(
                "{}: lb_kind TUN is not run (no ipip tunnel support): not forwarded",
                names::health_vs(vs)
            )),
        }
    }
    if let Some(t) = nat {
        rs.tables.insert(
            TableId {
                family: "inet",
                name: TABLE.into(),
            },
            t,
        );
    }
    if let Some(t) = dr {
        rs.tables.insert(
            TableId {
                family: "netdev",
                name: TABLE.into(),
            },
            t,
        );
    }
    (rs, notes)
}

fn service_maps(t: &mut Table) {
    for (name, ty) in [
        ("services4", "ipv4_addr . inet_proto . inet_service"),
        ("services6", "ipv6_addr . inet_proto . inet_service"),
    ] {
        t.maps.insert(
            name.into(),
            Map {
                decl: format!("type {ty} : verdict;"),
                ..Map::default()
            },
        );
    }
}

const DISPATCH: [&str; 2] = [
    "ip daddr . meta l4proto . th dport vmap @services4",
    "ip6 daddr . meta l4proto . th dport vmap @services6",
];

fn nat_skeleton() -> Table {
    let mut t = Table::default();
    service_maps(&mut t);
    t.maps.insert(
        "fwmarks".into(),
        Map {
            decl: "type mark : verdict;".into(),
            ..Map::default()
        },
    );
    let mut rules: Vec<String> = DISPATCH.iter().map(|s| s.to_string()).collect();
    rules.push("meta mark vmap @fwmarks".into());
    // Persistence entries are refreshed by every packet of a client's flows (as LVS's
    // templates live while their connections do): one rule per persistent virtual server.
    t.chains.insert(
        "persist_refresh".into(),
        Chain {
            hook: Some("type filter hook prerouting priority -90; policy accept;".into()),
            rules: Vec::new(),
        },
    );
    for hook in ["prerouting", "output"] {
        t.chains.insert(
            hook.into(),
            Chain {
                hook: Some(format!(
                    "type nat hook {hook} priority -100; policy accept;"
                )),
                rules: rules.clone(),
            },
        );
    }
    t
}

fn dr_skeleton() -> Table {
    let mut t = Table::default();
    service_maps(&mut t);
    t
}

/// Adds the `services` (or `fwmarks`) elements of every address of the virtual server (a
/// `virtual_server group` has several); returns the address family's representative.
fn add_service(t: &mut Table, vs: &VirtualServer, chain: &str) -> Result<IpAddr, String> {
    let first = add_address(t, vs, vs.address, chain)?;
    for a in &vs.also {
        let ip = add_address(t, vs, *a, chain)?;
        if ip.is_ipv4() != first.is_ipv4() {
            return Err("a virtual_server_group mixing IPv4 and IPv6 is not supported".into());
        }
    }
    Ok(first)
}

fn add_address(
    t: &mut Table,
    vs: &VirtualServer,
    address: VirtualServerAddress,
    chain: &str,
) -> Result<IpAddr, String> {
    match address {
        VirtualServerAddress::Ip { ip, port } => {
            if port == 0 {
                return Err("a virtual_server without a port (all ports) is not run yet".into());
            }
            let map = if ip.is_ipv4() {
                "services4"
            } else {
                "services6"
            };
            if let Some(m) = t.maps.get_mut(map) {
                m.elems.insert(
                    format!("{ip} . {} . {port}", proto(vs.protocol)),
                    format!("goto {chain}"),
                );
            }
            Ok(ip)
        }
        VirtualServerAddress::Fwmark(mark) => match t.maps.get_mut("fwmarks") {
            Some(m) => {
                m.elems
                    .insert(format!("{mark:#x}"), format!("goto {chain}"));
                // The family comes from the real servers.
                vs.real_servers
                    .first()
                    .map(|r| r.ip)
                    .or(vs.sorry_server.map(|s| s.0))
                    .ok_or_else(|| "a fwmark virtual_server without real servers".to_string())
            }
            None => Err(
                "fwmark virtual servers need lb_kind NAT (the mark is set after netdev ingress)"
                    .into(),
            ),
        },
    }
}

/// `ip saddr` or, with `persistence_granularity`, `ip saddr and MASK`.
fn source_key(ip: IpAddr, vs: &VirtualServer) -> String {
    let f = fam(ip);
    match vs.persistence_granularity {
        Some(mask) => format!("{f} saddr and {mask}"),
        None => format!("{f} saddr"),
    }
}

fn add_nat(t: &mut Table, vs: &VirtualServer, inputs: &Inputs) -> Result<(), String> {
    let chain = names::vs_chain(vs);
    let family_ip = add_service(t, vs, &chain)?;
    let f = fam(family_ip);
    let with_port = matches!(vs.address, VirtualServerAddress::Ip { .. });
    let p = proto(vs.protocol);
    let addr_type = if family_ip.is_ipv4() {
        "ipv4_addr"
    } else {
        "ipv6_addr"
    };
    let members = members(vs, inputs);
    let mut vs_rules: Vec<String> = members::source_filter(vs, family_ip).into_iter().collect();
    let persist = format!("{chain}_persist");
    let prev = previous_slots(inputs, "inet", &chain, &members);
    if let Some(timeout) = vs.persistence_timeout {
        let value = if with_port {
            format!("{addr_type} . inet_service")
        } else {
            addr_type.to_string()
        };
        t.maps.insert(
            persist.clone(),
            Map {
                decl: format!(
                    "type {addr_type} : {value}; flags dynamic,timeout; timeout {}s; size {DYNAMIC_SIZE};",
                    timeout.as_secs().max(1)
                ),
                dynamic: true,
                ..Map::default()
            },
        );
        let l4 = if with_port {
            format!("meta l4proto {p} ")
        } else {
            String::new()
        };
        vs_rules.push(format!(
            "{l4}dnat {f} to {} map @{persist}",
            source_key(family_ip, vs)
        ));
        if let VirtualServerAddress::Ip {
            ip: vip,
            port: vport,
        } = vs.address
        {
            // Refreshed per packet, towards servers still in the rotation only (a flow that
            // finishes on a departed server must not bring its clients back to it).
            let members_set = format!("{chain}_members");
            t.maps.insert(
                members_set.clone(),
                Map {
                    decl: format!("type {addr_type} . inet_service;"),
                    is_set: true,
                    elems: members
                        .iter()
                        .filter(|m| !m.sorry)
                        .map(|m| (format!("{} . {}", m.ip, m.port), String::new()))
                        .collect(),
                    dynamic: false,
                },
            );
            if let Some(c) = t.chains.get_mut("persist_refresh") {
                c.rules.push(format!(
                    "meta l4proto {p} ct direction original ct status dnat ct original {f} daddr {vip} ct original proto-dst {vport} {f} daddr . {p} dport @{members_set} update @{persist} {{ {} : {f} daddr . {p} dport }}",
                    source_key(family_ip, vs)
                ));
            }
        }
    }
    let table = slots_stable(
        &without_overloaded(vs, least_conn(vs, &members, inputs), inputs),
        Algo::parse(&vs.lb_algo),
        &prev,
    );
    let slots_map = format!("{chain}_slots");
    if !table.is_empty() {
        let pick = match Algo::parse(&vs.lb_algo) {
            Algo::SourceHash => format!("jhash {f} saddr mod {} seed {SEED}", table.len()),
            Algo::DestinationHash => format!("jhash {f} daddr mod {} seed {SEED}", table.len()),
            Algo::Maglev if with_port => format!(
                "jhash {f} saddr . {p} sport mod {} seed {SEED}",
                table.len()
            ),
            _ => format!("numgen inc mod {}", table.len()),
        };
        let l4 = if with_port {
            format!("meta l4proto {p} ")
        } else {
            String::new()
        };
        vs_rules.push(format!("{l4}{pick} vmap @{slots_map}"));
    }
    t.maps.insert(
        slots_map.clone(),
        Map {
            decl: "typeof numgen inc mod 2 : verdict;".into(),
            elems: slot_elems(&chain, &table, &members),
            dynamic: false,
            is_set: false,
        },
    );
    for m in &members {
        if m.ip.is_ipv4() != family_ip.is_ipv4() {
            return Err(format!(
                "real server {} is not of the virtual server's address family",
                m.ip
            ));
        }
        let port = if with_port { Some(m.port) } else { None };
        let mut rule = String::new();
        if with_port {
            rule.push_str(&format!("meta l4proto {p} "));
        }
        if vs.persistence_timeout.is_some() && !m.sorry {
            let value = match port {
                Some(pt) => format!("{} . {pt}", m.ip),
                None => m.ip.to_string(),
            };
            rule.push_str(&format!(
                "update @{persist} {{ {} : {value} }} ",
                source_key(family_ip, vs)
            ));
        }
        rule.push_str(&format!("counter dnat {f} to {}", target(m.ip, port)));
        let mut rules = vec![rule];
        if let Some(cap) = members::cap_rule(vs, m, with_port) {
            rules.insert(0, cap);
        }
        t.chains
            .insert(member_chain(&chain, m), Chain { hook: None, rules });
    }
    t.chains.insert(
        chain,
        Chain {
            hook: None,
            rules: vs_rules,
        },
    );
    Ok(())
}

fn one_rule_chain(rule: String) -> Chain {
    Chain {
        hook: None,
        rules: vec![rule],
    }
}
