//! keepalived's semantic checks over everything read, run once from `Parser::finish`.
//!
//! Resolves each instance's VRRP version (instance `version`, else global `vrrp_version`, else
//! 2; IPv6 instances always run 3, as keepalived) and applies what keepalived does to the values
//! (rounding advert_int, truncating auth_pass), then checks references (track_script, sync
//! group members), duplicates, address families and ranges. Messages point at the line of the
//! offending value and say what keepalived would do.

use super::{InstanceExtra, Parser};
use crate::diagnostics::{Diagnostics, Span};
use crate::model::{VrrpAuthType, VrrpInstance, VrrpState};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

pub fn resolve_and_check(p: &mut Parser, d: &mut Diagnostics) {
    let global_version = p.out.global_defs.vrrp_version;
    let garp = p.garp_defaults.clone();
    for (inst, extra) in &mut p.instances {
        if let (false, Some(t)) = (extra.garp_delay_set, garp.delay) {
            inst.garp_master_delay = t;
        }
        if let (false, Some(n)) = (extra.garp_repeat_set, garp.repeat) {
            inst.garp_master_repeat = n;
        }
        if let (false, Some(r)) = (extra.garp_refresh_set, garp.refresh) {
            inst.garp_master_refresh = r;
        }
        resolve_version(inst, extra, global_version, d);
        check_instance(inst, extra, d);
    }
    duplicate_names(
        p.out
            .vrrp_scripts
            .iter()
            .map(|s| (s.name.as_str(), &s.span)),
        "vrrp_script",
        d,
    );
    duplicate_names(
        p.instances.iter().map(|(i, _)| (i.name.as_str(), &i.span)),
        "vrrp_instance",
        d,
    );
    duplicate_names(
        p.out
            .vrrp_sync_groups
            .iter()
            .map(|g| (g.name.as_str(), &g.span)),
        "vrrp_sync_group",
        d,
    );
    duplicate_vrids(&p.instances, d);
    references(p, d);
    sync_group_tracking(p, d);
    for vs in &p.out.virtual_servers {
        if vs.real_servers.is_empty() {
            d.warning(&vs.span, "virtual_server has no real_server: it will carry no traffic (keepalived ignores it)");
        }
    }
    for span in &p.vs_protocol_missing {
        d.warning(span, "virtual_server has no 'protocol': using TCP (keepalived 2.2 warns and may pick UDP); write 'protocol TCP'");
    }
    script_security(p, d);
    file_checks(p, d);
}

/// Every FILE_CHECK names a track_file (keepalived: "track_file NAME not found").
fn file_checks(p: &Parser, d: &mut Diagnostics) {
    duplicate_names(
        p.out.track_files.iter().map(|t| (t.name.as_str(), &t.span)),
        "track_file",
        d,
    );
    for vs in &p.out.virtual_servers {
        for rs in &vs.real_servers {
            for c in &rs.checkers {
                if let crate::model::Checker::FileCheck {
                    span, track_file, ..
                } = c
                {
                    if !p.out.track_files.iter().any(|t| &t.name == track_file) {
                        d.error(
                            span,
                            format!(
                                "FILE_CHECK names track_file '{track_file}', which is not defined"
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// The instance's address family: of its first VIP, else of its unicast source address.
fn is_ipv6(inst: &VrrpInstance) -> Option<bool> {
    inst.virtual_ipaddress
        .first()
        .map(|v| v.address.is_ipv6())
        .or_else(|| inst.unicast_src_ip.map(|ip| ip.is_ipv6()))
}

fn resolve_version(
    inst: &mut VrrpInstance,
    x: &InstanceExtra,
    global: Option<u8>,
    d: &mut Diagnostics,
) {
    inst.version = x.version.as_ref().map(|(v, _)| *v).or(global).unwrap_or(2);
    if is_ipv6(inst) == Some(true) && inst.version == 2 {
        if let Some((_, span)) = &x.version {
            d.warning(span, format!("vrrp_instance {}: IPv6 instances always use VRRP version 3 (as keepalived); version 2 ignored", inst.name));
        }
        inst.version = 3;
    }
}

fn check_instance(inst: &mut VrrpInstance, x: &InstanceExtra, d: &mut Diagnostics) {
    let name = inst.name.clone();
    if inst.interface.is_none() {
        d.error(&inst.span, format!("vrrp_instance {name} has no 'interface': keepalived requires the interface to run VRRP on"));
    }
    if inst.virtual_router_id == 0 && x.virtual_router_id.is_none() {
        d.error(
            &inst.span,
            format!("vrrp_instance {name} has no 'virtual_router_id': expected a number 1..255"),
        );
    }
    if inst.virtual_ipaddress.is_empty() {
        d.error(
            &inst.span,
            format!("vrrp_instance {name} has no virtual_ipaddress: keepalived -t refuses it (\"No VIP specified\")"),
        );
    }
    if let (Some(span), true) = (&x.unicast_peer_block, inst.unicast_peer.is_empty()) {
        d.warning(
            span,
            format!("vrrp_instance {name}: empty unicast_peer block: multicast is used, as keepalived does (it calls this deprecated)"),
        );
    }
    if inst.priority == 255 && inst.state == Some(VrrpState::Backup) {
        let span = x.priority.clone().unwrap_or_else(|| inst.span.clone());
        d.warning(&span, format!("vrrp_instance {name}: priority 255 means address owner, which is always MASTER; 'state BACKUP' contradicts it"));
    }
    if inst.nopreempt && inst.state == Some(VrrpState::Master) {
        let span = x.state.clone().unwrap_or_else(|| inst.span.clone());
        d.warning(
            &span,
            format!("vrrp_instance {name}: nopreempt only works when the initial state is BACKUP"),
        );
    }
    if inst.nopreempt && inst.priority == 255 {
        let span = x.nopreempt.clone().unwrap_or_else(|| inst.span.clone());
        d.warning(&span, format!("vrrp_instance {name}: nopreempt does not apply to an address owner (priority 255); keepalived resets it, and so does fulcrum"));
        inst.nopreempt = false;
    }
    if inst.nopreempt && inst.preempt_delay.is_some() {
        let span = x.preempt_delay.clone().unwrap_or_else(|| inst.span.clone());
        d.warning(&span, format!("vrrp_instance {name}: preempt_delay has no effect with nopreempt; keepalived resets it, and so does fulcrum"));
        inst.preempt_delay = None;
    }
    advert_int(inst, x, d);
    authentication(inst, x, d);
    families(inst, x, d);
    tracking(inst, d);
}

/// Tracking keepalived drops with a complaint: the instance's own interface (always tracked)
/// and a script named twice (the first one counts).
fn tracking(inst: &mut VrrpInstance, d: &mut Diagnostics) {
    let own = inst.interface.clone();
    let name = inst.name.clone();
    inst.track_interface.retain(|t| {
        let is_own = own.as_deref() == Some(t.interface.as_str());
        if is_own {
            d.warning(&t.span, format!("vrrp_instance {name} always tracks its own interface {}; this track_interface line is ignored", t.interface));
        }
        !is_own
    });
    let mut seen_if = std::collections::HashSet::new();
    inst.track_interface.retain(|t| {
        let first = seen_if.insert(t.interface.clone());
        if !first {
            d.warning(&t.span, format!("track_interface {} is listed twice in vrrp_instance {name}; keepalived uses the first and ignores this one", t.interface));
        }
        first
    });
    let mut seen = std::collections::HashSet::new();
    inst.track_script.retain(|t| {
        let first = seen.insert(t.script.name.clone());
        if !first {
            d.warning(&t.script.span, format!("track_script '{}' is listed twice in vrrp_instance {name}; keepalived uses the first and ignores this one", t.script.name));
        }
        first
    });
}

/// keepalived ignores weighted tracking for instances in a sync group (a failure there must move
/// the whole group to FAULT); fulcrum drops the same entries and says so.
fn sync_group_tracking(p: &mut Parser, d: &mut Diagnostics) {
    let scripts = &p.out.vrrp_scripts;
    for g in &p.out.vrrp_sync_groups {
        for m in &g.group {
            let Some((inst, _)) = p.instances.iter_mut().find(|(i, _)| i.name == m.name) else {
                continue;
            };
            let iname = inst.name.clone();
            inst.track_script.retain(|t| {
                let script_weight = scripts.iter().find(|s| s.name == t.script.name).map_or(0, |s| s.weight);
                let weighted = t.weight.unwrap_or(script_weight) != 0;
                if weighted {
                    d.warning(&t.script.span, format!("vrrp_instance {iname} is in vrrp_sync_group {}: keepalived ignores tracked script '{}' because it has a weight; ignored", g.name, t.script.name));
                }
                !weighted
            });
            inst.track_interface.retain(|t| {
                let weighted = t.weight.is_some_and(|w| w != 0);
                if weighted {
                    d.warning(&t.span, format!("vrrp_instance {iname} is in vrrp_sync_group {}: keepalived ignores tracked interface '{}' because it has a weight; ignored", g.name, t.interface));
                }
                !weighted
            });
        }
    }
}

fn advert_int(inst: &mut VrrpInstance, x: &InstanceExtra, d: &mut Diagnostics) {
    let span = x.advert_int.clone().unwrap_or_else(|| inst.span.clone());
    let micros = inst.advert_int.as_micros();
    // Remainders kept apart: `is_multiple_of` is newer than the workspace's rust-version.
    let (sub_second, sub_centi) = (micros.rem_euclid(1_000_000), micros.rem_euclid(10_000));
    if inst.version == 2 {
        if micros >= 256_000_000 {
            d.error(
                &span,
                format!(
                    "advert_int must be less than 256 seconds for VRRPv2, found {:?}",
                    inst.advert_int
                ),
            );
        } else if sub_second > 0 {
            let rounded = ((micros + 500_000) / 1_000_000).max(1) as u64;
            d.warning(
                &span,
                format!(
                    "VRRPv2 advert_int must be a whole number of seconds, found {}s; keepalived rounds it to {rounded}s (use 'version 3' for sub-second adverts)",
                    inst.advert_int.as_secs_f64()
                ),
            );
            inst.advert_int = Duration::from_secs(rounded);
        }
    } else if micros > 40_950_000 {
        d.error(
            &span,
            format!(
                "advert_int must be at most 40.95 seconds for VRRPv3, found {}s",
                inst.advert_int.as_secs_f64()
            ),
        );
    } else if micros < 10_000 {
        d.error(
            &span,
            format!(
                "advert_int must be at least 0.01 seconds for VRRPv3, found {}s",
                inst.advert_int.as_secs_f64()
            ),
        );
    } else if sub_centi > 0 {
        let centis = ((micros + 5_000) / 10_000) as u64;
        d.warning(
            &span,
            format!(
                "VRRPv3 advert_int is sent in centiseconds, found {}s; keepalived rounds it to {}s",
                inst.advert_int.as_secs_f64(),
                centis as f64 / 100.0
            ),
        );
        inst.advert_int = Duration::from_millis(centis * 10);
    }
}

fn authentication(inst: &mut VrrpInstance, x: &InstanceExtra, d: &mut Diagnostics) {
    let version = inst.version;
    let Some(auth) = inst.authentication.as_mut() else {
        return;
    };
    let span = x
        .authentication
        .clone()
        .unwrap_or_else(|| inst.span.clone());
    if version == 3 {
        let what = match auth.auth_type {
            VrrpAuthType::Ah => "auth_type AH",
            VrrpAuthType::Pass => "authentication",
        };
        d.error(&span, format!("{what} is not available with VRRP version 3 (RFC 5798 has no authentication); remove the authentication block or use version 2"));
        return;
    }
    if auth.auth_type == VrrpAuthType::Ah && inst.state == Some(VrrpState::Master) {
        let at = x.state.clone().unwrap_or_else(|| span.clone());
        d.warning(&at, format!("vrrp_instance {}: initial state MASTER does not work with auth_type AH; keepalived starts it as BACKUP, and so does fulcrum", inst.name));
        inst.state = Some(VrrpState::Backup);
    }
    if auth.auth_pass.chars().count() > 8 {
        let truncated: String = auth.auth_pass.chars().take(8).collect();
        let at = x.auth_pass.clone().unwrap_or(span);
        d.warning(&at, format!("auth_pass is longer than 8 characters; keepalived uses only the first 8 ('{truncated}')"));
        auth.auth_pass = truncated;
    }
}

fn families(inst: &VrrpInstance, x: &InstanceExtra, d: &mut Diagnostics) {
    let Some(v6) = is_ipv6(inst) else { return };
    let family = |ip: &IpAddr| if ip.is_ipv6() { "IPv6" } else { "IPv4" };
    let expected = if v6 { "IPv6" } else { "IPv4" };
    if let (Some(src), Some(span)) = (&inst.unicast_src_ip, &x.unicast_src_ip) {
        if src.is_ipv6() != v6 {
            d.error(span, format!("unicast_src_ip {src} is {} but the instance's virtual addresses are {expected}", family(src)));
        }
    }
    for (peer, span) in inst.unicast_peer.iter().zip(&x.unicast_peer) {
        if peer.is_ipv6() != v6 {
            d.error(span, format!("unicast_peer {peer} is {} but vrrp_instance {} runs {expected}: peers must be of the same family", family(peer), inst.name));
        }
    }
    for vip in &inst.virtual_ipaddress {
        if vip.address.is_ipv6() != v6 {
            d.error(&vip.span, format!("virtual_ipaddress {} is {} but the instance's first address is {expected}; use virtual_ipaddress_excluded for the other family", vip.address, family(&vip.address)));
        }
    }
    if inst.unicast_src_ip.is_some() && inst.unicast_peer.is_empty() {
        let span = x
            .unicast_src_ip
            .clone()
            .unwrap_or_else(|| inst.span.clone());
        d.warning(&span, format!("vrrp_instance {}: unicast_src_ip without any unicast_peer; adverts go to multicast", inst.name));
    }
}

fn duplicate_names<'a>(
    items: impl Iterator<Item = (&'a str, &'a Span)>,
    what: &str,
    d: &mut Diagnostics,
) {
    let mut seen: HashMap<&str, &Span> = HashMap::new();
    for (name, span) in items {
        match seen.get(name) {
            Some(first) => d.error(span, format!("{what} {name} is already defined at {first}")),
            None => {
                seen.insert(name, span);
            }
        }
    }
}

/// keepalived refuses two instances with the same VRID on one interface and address family,
/// except unicast instances whose peer lists do not overlap (keepalived.conf(5)).
fn duplicate_vrids(instances: &[(VrrpInstance, InstanceExtra)], d: &mut Diagnostics) {
    let mut seen: HashMap<(&str, u8, bool), Vec<&VrrpInstance>> = HashMap::new();
    for (inst, x) in instances {
        let (Some(ifname), vrid) = (inst.interface.as_deref(), inst.virtual_router_id) else {
            continue;
        };
        if vrid == 0 {
            continue;
        }
        let earlier = seen
            .entry((ifname, vrid, is_ipv6(inst).unwrap_or(false)))
            .or_default();
        let clash = earlier.iter().find(|other| {
            let separate_unicast = !inst.unicast_peer.is_empty()
                && !other.unicast_peer.is_empty()
                && !inst
                    .unicast_peer
                    .iter()
                    .any(|p| other.unicast_peer.contains(p));
            !separate_unicast
        });
        if let Some(first) = clash {
            let span = x
                .virtual_router_id
                .clone()
                .unwrap_or_else(|| inst.span.clone());
            d.error(
                &span,
                format!(
                    "vrrp_instance {} uses virtual_router_id {vrid} on interface {ifname}, already used by vrrp_instance {} ({}): each (interface, VRID) pair must be unique unless both are unicast with different peers",
                    inst.name, first.name, first.span
                ),
            );
        }
        earlier.push(inst);
    }
}

fn references(p: &Parser, d: &mut Diagnostics) {
    for (inst, _) in &p.instances {
        for t in &inst.track_script {
            if !p.out.vrrp_scripts.iter().any(|s| s.name == t.script.name) {
                let hint = super::args::suggest(
                    &t.script.name,
                    p.out.vrrp_scripts.iter().map(|s| s.name.as_str()),
                )
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
                d.error(
                    &t.script.span,
                    format!(
                        "track_script '{}' in vrrp_instance {} names no vrrp_script{hint}",
                        t.script.name, inst.name
                    ),
                );
            }
        }
    }
    let mut member_of: HashMap<&str, &str> = HashMap::new();
    for g in &p.out.vrrp_sync_groups {
        for m in &g.group {
            if !p.instances.iter().any(|(i, _)| i.name == m.name) {
                d.error(
                    &m.span,
                    format!(
                        "vrrp_sync_group {} lists '{}', which is no vrrp_instance",
                        g.name, m.name
                    ),
                );
            } else if let Some(other) = member_of.insert(m.name.as_str(), g.name.as_str()) {
                d.error(&m.span, format!("vrrp_instance {} is already in vrrp_sync_group {other}; an instance can be in one group only", m.name));
            }
        }
        if g.group.len() == 1 {
            d.warning(&g.span, format!("vrrp_sync_group {} has only one vrrp_instance; a sync group needs two to mean anything", g.name));
        }
    }
}

/// keepalived refuses to run scripts as root silently: it flags a security violation unless
/// `enable_script_security` is set (or scripts run as a non-root `script_user`).
fn script_security(p: &Parser, d: &mut Diagnostics) {
    let g = &p.out.global_defs;
    if g.enable_script_security || g.script_user.as_deref().is_some_and(|u| u != "root") {
        return;
    }
    let first = p.out.vrrp_scripts.first().map(|s| &s.span).or_else(|| {
        p.instances
            .iter()
            .find(|(_, x)| x.has_scripts)
            .map(|(i, _)| &i.span)
    });
    if let Some(span) = first {
        d.warning(span, "scripts are configured but global_defs has no 'enable_script_security': keepalived reports this as a security violation");
    }
}
