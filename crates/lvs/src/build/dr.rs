//! DR (`table netdev fulcrum_lvs`): the virtual server's chain on the VIP's device — known
//! flows first (`<vs>_flows`), then persistent clients (one timed set per real server), then
//! a hash of the flow (or of the client) into the slots; each real server's chain learns the
//! flow (and the client) and does `fwd ... device`, so the packet keeps the VIP.

use super::*;

pub(super) fn add_dr(t: &mut Table, vs: &VirtualServer, inputs: &Inputs) -> Result<(), String> {
    let VirtualServerAddress::Ip { ip: vip, .. } = vs.address else {
        return Err(
            "fwmark virtual servers need lb_kind NAT (the mark is set after netdev ingress)".into(),
        );
    };
    let dev = inputs.dr_devices.get(&vip).ok_or_else(|| {
        format!("no interface known for DR virtual address {vip} (no vrrp_instance holds it and no route was found)")
    })?;
    let chain = names::vs_chain(vs);
    add_service(t, vs, &chain)?;
    let base = format!(
        "ingress_{}",
        dev.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    t.chains.entry(base).or_insert_with(|| Chain {
        hook: Some(format!(
            "type filter hook ingress device \"{dev}\" priority -500; policy accept;"
        )),
        // Only frames addressed to this director: a bridge floods unknown unicast, and a
        // BACKUP director must not forward what was meant for the MASTER's MAC.
        rules: DISPATCH
            .iter()
            .map(|s| format!("meta pkttype host {s}"))
            .collect(),
    });
    let f = fam(vip);
    let p = proto(vs.protocol);
    let addr_type = if vip.is_ipv4() {
        "ipv4_addr"
    } else {
        "ipv6_addr"
    };
    let flows = format!("{chain}_flows");
    let timeout = if vs.protocol == IpProtocol::Udp {
        DR_FLOW_TIMEOUT_UDP
    } else {
        DR_FLOW_TIMEOUT_TCP
    };
    t.maps.insert(
        flows.clone(),
        Map {
            decl: format!(
                "type {addr_type} . inet_service : {addr_type}; flags dynamic,timeout; timeout {timeout}s; size {DYNAMIC_SIZE};"
            ),
            dynamic: true,
            ..Map::default()
        },
    );
    let members = members(vs, inputs);
    let prev = previous_slots(inputs, "netdev", &chain, &members);
    let table = slots_stable(&members, Algo::parse(&vs.lb_algo), &prev);
    let slots_map = format!("{chain}_slots");
    // Persistence: one dynamic timed set of clients (`source_key`) per real server, refreshed
    // by every packet of the client (as the NAT map is), consulted before the hash; a real
    // server that leaves the rotation takes its set with it.
    let persist = vs.persistence_timeout.map(|timeout| {
        let key = source_key(vip, vs);
        let sets: Vec<(String, String)> = members
            .iter()
            .filter(|m| !m.sorry)
            .map(|m| {
                let c = member_chain(&chain, m);
                (format!("{c}_persist"), c)
            })
            .collect();
        for (set, _) in &sets {
            t.maps.insert(
                set.clone(),
                Map {
                    decl: format!(
                        "type {addr_type}; flags dynamic,timeout; timeout {}s; size {DYNAMIC_SIZE};",
                        timeout.as_secs().max(1)
                    ),
                    dynamic: true,
                    is_set: true,
                    ..Map::default()
                },
            );
        }
        (key, sets)
    });
    let mut vs_rules: Vec<String> = members::source_filter(vs, vip).into_iter().collect();
    if let Some((key, sets)) = &persist {
        for (set, _) in sets {
            vs_rules.push(format!(
                "meta l4proto {p} {key} @{set} update @{set} {{ {key} }}"
            ));
        }
    }
    vs_rules.push(format!(
        "meta l4proto {p} fwd {f} to {f} saddr . {p} sport map @{flows} device \"{dev}\""
    ));
    if let Some((key, sets)) = &persist {
        for (set, member) in sets {
            vs_rules.push(format!("meta l4proto {p} {key} @{set} goto {member}"));
        }
    }
    if !table.is_empty() {
        // Per flow, never per packet: a hash of the flow (or of the client under persistence
        // or `sh`) picks the slot; numgen would scatter one connection's packets.
        let key = if vs.persistence_timeout.is_some() {
            source_key(vip, vs)
        } else if Algo::parse(&vs.lb_algo) == Algo::SourceHash {
            format!("{f} saddr")
        } else if Algo::parse(&vs.lb_algo) == Algo::DestinationHash {
            format!("{f} daddr")
        } else {
            format!("{f} saddr . {p} sport")
        };
        vs_rules.push(format!(
            "meta l4proto {p} jhash {key} mod {} seed {SEED} vmap @{slots_map}",
            table.len()
        ));
    }
    t.maps.insert(
        slots_map,
        Map {
            decl: "typeof numgen inc mod 2 : verdict;".into(),
            elems: slot_elems(&chain, &table, &members),
            dynamic: false,
            is_set: false,
        },
    );
    for m in &members {
        if m.ip.is_ipv4() != vip.is_ipv4() {
            return Err(format!(
                "real server {} is not of the virtual server's address family",
                m.ip
            ));
        }
        let remember = match &persist {
            Some((key, _)) if !m.sorry => {
                format!(" update @{}_persist {{ {key} }}", member_chain(&chain, m))
            }
            _ => String::new(),
        };
        let rule = format!(
            "meta l4proto {p} update @{flows} {{ {f} saddr . {p} sport : {} }}{remember} counter fwd {f} to {} device \"{dev}\"",
            m.ip, m.ip
        );
        t.chains
            .insert(member_chain(&chain, m), one_rule_chain(rule));
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
