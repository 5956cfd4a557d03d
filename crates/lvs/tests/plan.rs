//! The core's plans, deterministically: what each change touches (elements, not tables),
//! schedulers, quorum with hysteresis and its scripts, DR rules.
#![allow(clippy::unwrap_used)]

use fulcrum_config::model::VirtualServer;
use fulcrum_config::{load_sources, Source};
use fulcrum_lvs::Core;
use std::collections::HashMap;

fn vss(text: &str) -> Vec<VirtualServer> {
    let l = load_sources(&[Source {
        name: "k.conf",
        text,
    }]);
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    l.config.keepalived.virtual_servers
}

fn vs(addr: &str, kind: &str, algo: &str, extra: &str, rs: &[(&str, u32)]) -> String {
    let mut s = format!(
        "virtual_server {addr} {{\n lvs_sched {algo}\n lvs_method {kind}\n protocol TCP\n{extra}"
    );
    for (ip, w) in rs {
        s.push_str(&format!(" real_server {ip} 80 {{\n  weight {w}\n }}\n"));
    }
    s.push_str("}\n");
    s
}

fn two() -> String {
    vs(
        "10.99.0.100 80",
        "NAT",
        "wrr",
        "",
        &[("10.99.0.3", 1), ("10.99.0.4", 1), ("10.99.0.5", 1)],
    ) + &vs(
        "10.99.0.101 443",
        "NAT",
        "rr",
        "",
        &[("10.99.0.6", 1), ("10.99.0.7", 1)],
    )
}

fn applied(text: &str) -> Core {
    let mut c = Core::new(vss(text), HashMap::new());
    let p = c.plan();
    assert!(p.notes.is_empty(), "{:?}", p.notes);
    c.applied(p.desired);
    c
}

const VS1: &str = "10.99.0.100:80";

#[test]
fn first_plan_builds_the_table_then_nothing_changes() {
    let mut c = Core::new(vss(&two()), HashMap::new());
    let p = c.plan();
    assert!(
        p.script.starts_with("add table inet fulcrum_lvs\n"),
        "{}",
        p.script
    );
    assert!(p.script.contains(
        "add element inet fulcrum_lvs services4 { 10.99.0.100 . tcp . 80 : goto vs_tcp_10_99_0_100_80 }"
    ));
    assert!(p.script.contains(
        "add rule inet fulcrum_lvs vs_tcp_10_99_0_100_80 meta l4proto tcp numgen inc mod 3 vmap @vs_tcp_10_99_0_100_80_slots"
    ));
    assert!(p.script.contains(
        "add rule inet fulcrum_lvs vs_tcp_10_99_0_100_80_rs_10_99_0_3_80 meta l4proto tcp counter dnat ip to 10.99.0.3:80"
    ));
    c.applied(p.desired);
    assert_eq!(c.plan().script, "");
}

#[test]
fn a_failed_real_server_touches_only_its_own_objects() {
    let mut c = applied(&two());
    c.set_up(VS1, "10.99.0.4:80", false);
    let p = c.plan();
    let lines: Vec<&str> = p.script.lines().collect();
    // Slot 2 goes (3 → 2 slots), slot 1 now points to rs .5, the vs chain's modulus changes,
    // the failed server's chain goes. Nothing of the other virtual server, no table or base
    // chain is touched.
    assert!(
        lines.iter().all(|l| l.contains("vs_tcp_10_99_0_100_80")),
        "{}",
        p.script
    );
    assert!(
        !p.script.contains("table inet fulcrum_lvs\n"),
        "{}",
        p.script
    );
    assert!(!p.script.contains("prerouting"), "{}", p.script);
    assert!(p.script.contains("numgen inc mod 2"), "{}", p.script);
    assert!(p
        .script
        .contains("delete chain inet fulcrum_lvs vs_tcp_10_99_0_100_80_rs_10_99_0_4_80"));
    assert!(lines.len() <= 8, "{}", p.script);
    c.applied(p.desired);
    // Back: the mirror image.
    c.set_up(VS1, "10.99.0.4:80", true);
    let p = c.plan();
    assert!(p
        .script
        .contains("add chain inet fulcrum_lvs vs_tcp_10_99_0_100_80_rs_10_99_0_4_80"));
    assert!(p
        .script
        .lines()
        .all(|l| l.contains("vs_tcp_10_99_0_100_80")));
}

#[test]
fn inhibit_on_failure_keeps_the_chain_at_weight_zero() {
    let text = "virtual_server 10.99.0.100 80 {\n lvs_sched wrr\n protocol TCP\n real_server 10.99.0.3 80 {\n  inhibit_on_failure\n }\n real_server 10.99.0.4 80 {\n }\n}\n";
    let mut c = applied(text);
    c.set_up(VS1, "10.99.0.3:80", false);
    let p = c.plan();
    // Its slot goes; its chain (and established flows' conntrack) stays.
    assert!(!p.script.contains("delete chain"), "{}", p.script);
    assert!(p.script.contains("numgen inc mod 1"), "{}", p.script);
}

#[test]
fn a_reweight_with_the_same_slot_count_changes_elements_only() {
    let a = vs(
        "10.99.0.100 80",
        "NAT",
        "wrr",
        "",
        &[("10.99.0.3", 3), ("10.99.0.4", 1)],
    );
    let mut c = applied(&a);
    c.set_weight(VS1, "10.99.0.3:80", 1);
    c.set_weight(VS1, "10.99.0.4:80", 3);
    let p = c.plan();
    assert!(
        p.script
            .lines()
            .all(|l| l.starts_with("delete element") || l.starts_with("add element")),
        "{}",
        p.script
    );
}

#[test]
fn reload_removing_a_virtual_server_leaves_the_other_alone() {
    let mut c = applied(&two());
    c.reload(
        vss(&vs(
            "10.99.0.100 80",
            "NAT",
            "wrr",
            "",
            &[("10.99.0.3", 1), ("10.99.0.4", 1), ("10.99.0.5", 1)],
        )),
        HashMap::new(),
    );
    let p = c.plan();
    assert!(!p.script.is_empty());
    assert!(
        p.script
            .lines()
            .all(|l| l.contains("vs_tcp_10_99_0_101_443") || l.contains("10.99.0.101 . tcp . 443")),
        "{}",
        p.script
    );
}

#[test]
fn quorum_with_hysteresis_runs_its_scripts_once_per_change() {
    let extra = " quorum 3\n hysteresis 1\n sorry_server 10.99.0.9 80\n quorum_up /bin/up\n quorum_down /bin/down\n";
    let text = vs(
        "10.99.0.100 80",
        "NAT",
        "wrr",
        extra,
        &[
            ("10.99.0.3", 1),
            ("10.99.0.4", 1),
            ("10.99.0.5", 1),
            ("10.99.0.6", 1),
        ],
    );
    let mut c = applied(&text);
    let step = |c: &mut Core, rs: &str, up: bool| {
        c.set_up(VS1, rs, up);
        let p = c.plan();
        c.applied(p.desired.clone());
        p
    };
    // 4 → 3 → 2 alive: still >= quorum - hysteresis (2).
    assert!(step(&mut c, "10.99.0.3:80", false).scripts.is_empty());
    assert!(step(&mut c, "10.99.0.4:80", false).scripts.is_empty());
    // 1 alive: lost, quorum_down, the sorry server joins.
    let p = step(&mut c, "10.99.0.5:80", false);
    assert_eq!(p.scripts.len(), 1);
    assert_eq!(p.scripts[0].command, "/bin/down");
    assert!(p.script.contains("_sorry"), "{}", p.script);
    assert!(c.quorum_lost(VS1));
    // 3 alive: not yet >= quorum + hysteresis (4).
    step(&mut c, "10.99.0.3:80", true);
    assert!(step(&mut c, "10.99.0.4:80", true).scripts.is_empty());
    assert!(c.quorum_lost(VS1));
    // 4: gained, quorum_up, the sorry server leaves.
    let p = step(&mut c, "10.99.0.5:80", true);
    assert_eq!(p.scripts[0].command, "/bin/up");
    assert!(p
        .script
        .contains("delete chain inet fulcrum_lvs vs_tcp_10_99_0_100_80_sorry"));
}

#[test]
fn persistence_learns_and_purges_departed_servers() {
    let text = vs(
        "10.99.0.100 80",
        "NAT",
        "rr",
        " persistence_timeout 50\n persistence_granularity 255.255.255.0\n",
        &[("10.99.0.3", 1), ("10.99.0.4", 1)],
    );
    let mut c = Core::new(vss(&text), HashMap::new());
    let p = c.plan();
    assert!(
        p.script
            .contains("flags dynamic,timeout; timeout 50s; size 65536;"),
        "{}",
        p.script
    );
    assert!(p
        .script
        .contains("dnat ip to ip saddr and 255.255.255.0 map @vs_tcp_10_99_0_100_80_persist"));
    assert!(p.script.contains(
        "update @vs_tcp_10_99_0_100_80_persist { ip saddr and 255.255.255.0 : 10.99.0.3 . 80 }"
    ));
    c.applied(p.desired);
    c.set_up(VS1, "10.99.0.3:80", false);
    let p = c.plan();
    assert_eq!(p.purge.len(), 1);
    assert_eq!(p.purge[0].address.to_string(), "10.99.0.3");
    assert_eq!(p.purge[0].port, Some(80));
}

#[test]
fn dr_forwards_on_the_vips_device_and_hashes_per_flow() {
    let text = vs(
        "10.99.0.100 80",
        "DR",
        "wrr",
        "",
        &[("10.99.0.3", 2), ("10.99.0.4", 1)],
    );
    let devices: HashMap<_, _> = [("10.99.0.100".parse().unwrap(), "eth0".to_string())].into();
    let mut c = Core::new(vss(&text), devices);
    let p = c.plan();
    assert!(
        p.script.contains("add table netdev fulcrum_lvs"),
        "{}",
        p.script
    );
    assert!(p
        .script
        .contains("type filter hook ingress device \"eth0\" priority -500;"));
    assert!(p
        .script
        .contains("meta pkttype host ip daddr . meta l4proto . th dport vmap @services4"));
    assert!(
        p.script.contains("jhash ip saddr . tcp sport mod 3 seed"),
        "{}",
        p.script
    );
    assert!(
        p.script.contains("fwd ip to 10.99.0.3 device \"eth0\""),
        "{}",
        p.script
    );
    // Without a device for the VIP: a note, nothing half-built.
    let mut c = Core::new(vss(&text), HashMap::new());
    let p = c.plan();
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
    assert!(p.notes[0].contains("no interface known"), "{:?}", p.notes);
}

#[test]
fn a_thousand_real_servers_and_one_reweight() {
    let rs: Vec<(String, u32)> = (0..1000)
        .map(|i| (format!("10.99.{}.{}", 10 + i / 250, 1 + i % 250), 1))
        .collect();
    let rs_ref: Vec<(&str, u32)> = rs.iter().map(|(a, w)| (a.as_str(), *w)).collect();
    let text = vs("10.99.0.100 80", "NAT", "wrr", "", &rs_ref);
    let mut c = applied(&text);
    assert_eq!(c.applied_ruleset().element_count(), 1000 + 1);
    c.set_weight(VS1, "10.99.10.1:80", 2);
    let p = c.plan();
    // One slot added, the vs chain's modulus: a handful of lines, not a thousand.
    assert!(p.script.lines().count() <= 4, "{}", p.script);
    c.applied(p.desired);
    // One of the thousand fails: its slot is refilled by the last one's member.
    c.set_up(VS1, "10.99.11.100:80", false);
    let p = c.plan();
    assert!(p.script.lines().count() <= 8, "{}", p.script);
}

#[test]
fn ipv6_nat_uses_ip6_statements() {
    let text = "virtual_server 2001:db8::100 80 {\n lvs_sched rr\n protocol TCP\n real_server 2001:db8::3 8080 {\n }\n}\n";
    let mut c = Core::new(vss(text), HashMap::new());
    let p = c.plan();
    assert!(p.notes.is_empty(), "{:?}", p.notes);
    assert!(
        p.script
            .contains("services6 { 2001:db8::100 . tcp . 80 : goto vs_tcp_2001_db8__100_80 }"),
        "{}",
        p.script
    );
    assert!(
        p.script.contains("dnat ip6 to [2001:db8::3]:8080"),
        "{}",
        p.script
    );
}

#[test]
fn fwmark_and_hash_schedulers() {
    let text = "virtual_server fwmark 7 {\n lvs_sched sh\n real_server 10.99.0.3 80 {\n }\n real_server 10.99.0.4 80 {\n }\n}\n";
    let mut c = Core::new(vss(text), HashMap::new());
    let p = c.plan();
    assert!(
        p.script
            .contains("add element inet fulcrum_lvs fwmarks { 0x7 : goto vs_fwmark_7 }"),
        "{}",
        p.script
    );
    assert!(
        p.script.contains("jhash ip saddr mod 2 seed"),
        "{}",
        p.script
    );
    assert!(
        p.script.contains("counter dnat ip to 10.99.0.3\n"),
        "{}",
        p.script
    );
}

#[test]
fn a_virtual_server_group_serves_every_address_with_one_rotation() {
    let text = "virtual_server_group web {\n 10.99.0.100-101 80\n 10.99.0.110 8080\n fwmark 9\n}\n\
        virtual_server group web {\n lvs_sched rr\n protocol TCP\n real_server 10.99.0.3 80 {\n }\n}\n";
    let vss = vss(text);
    assert_eq!(vss.len(), 1);
    assert_eq!(vss[0].also.len(), 3);
    let mut c = Core::new(vss, HashMap::new());
    let p = c.plan();
    assert!(p.notes.is_empty(), "{:?}", p.notes);
    for e in [
        "services4 { 10.99.0.100 . tcp . 80 : goto vs_tcp_10_99_0_100_80 }",
        "services4 { 10.99.0.101 . tcp . 80 : goto vs_tcp_10_99_0_100_80 }",
        "services4 { 10.99.0.110 . tcp . 8080 : goto vs_tcp_10_99_0_100_80 }",
        "fwmarks { 0x9 : goto vs_tcp_10_99_0_100_80 }",
    ] {
        assert!(p.script.contains(e), "{e}\n{}", p.script);
    }
}

#[test]
fn alpha_starts_checked_servers_down_until_a_check_passes_and_omega_runs_quorum_down() {
    let text = "virtual_server 10.99.0.100 80 {\n alpha\n omega\n quorum_down /bin/down\n lvs_sched rr\n protocol TCP\n\
        real_server 10.99.0.3 80 {\n  TCP_CHECK {\n  }\n }\n real_server 10.99.0.4 80 {\n }\n}\n";
    let mut c = Core::new(vss(text), HashMap::new());
    let p = c.plan();
    // Only the unchecked server is in; the checked one waits.
    assert!(p.script.contains("numgen inc mod 1"), "{}", p.script);
    assert!(!p.script.contains("rs_10_99_0_3_80"), "{}", p.script);
    c.applied(p.desired);
    assert!(!c.record_check(VS1, "10.99.0.3:80", false));
    assert!(c.record_check(VS1, "10.99.0.3:80", true));
    assert!(!c.record_check(VS1, "10.99.0.3:80", true));
    let p = c.plan();
    assert!(p.script.contains("numgen inc mod 2"), "{}", p.script);
    assert_eq!(c.shutdown_scripts().len(), 1);
    assert_eq!(c.shutdown_scripts()[0].command, "/bin/down");
}

#[test]
fn wlc_divides_weights_by_active_connections() {
    let text = vs(
        "10.99.0.100 80",
        "NAT",
        "wlc",
        "",
        &[("10.99.0.3", 1), ("10.99.0.4", 1), ("10.99.0.5", 2)],
    );
    let mut c = applied(&text);
    assert!(c.wants_load());
    // Idle: the configured weights (1:1:2 → 4 slots).
    assert!(c.applied_ruleset().element_count() > 0);
    assert!(c.set_active(VS1, "10.99.0.3:80", 15));
    assert!(!c.set_active(VS1, "10.99.0.3:80", 15));
    let p = c.plan();
    // 64/16 : 64 : 128 = 4 : 64 : 128 → /4 = 1 : 16 : 32 → 49 slots.
    assert!(p.script.contains("numgen inc mod 49"), "{}", p.script);
    c.applied(p.desired);
    let slots =
        &c.applied_ruleset().tables.values().next().unwrap().maps["vs_tcp_10_99_0_100_80_slots"];
    let to = |rs: &str| slots.elems.values().filter(|v| v.contains(rs)).count();
    assert_eq!(
        (
            to("rs_10_99_0_3_80"),
            to("rs_10_99_0_4_80"),
            to("rs_10_99_0_5_80")
        ),
        (1, 16, 32)
    );
}

#[test]
fn dr_forgets_the_flows_of_a_failed_server_not_of_a_removed_one() {
    let text = vs(
        "10.99.0.100 80",
        "DR",
        "rr",
        "",
        &[("10.99.0.3", 1), ("10.99.0.4", 1)],
    );
    let devices: HashMap<_, _> = [("10.99.0.100".parse().unwrap(), "eth0".to_string())].into();
    let mut c = Core::new(vss(&text), devices.clone());
    let p = c.plan();
    c.applied(p.desired);
    c.set_up(VS1, "10.99.0.3:80", false);
    let p = c.plan();
    assert_eq!(p.purge.len(), 1);
    assert_eq!(p.purge[0].map, "vs_tcp_10_99_0_100_80_flows");
    assert_eq!(p.purge[0].port, None);
    c.applied(p.desired);
    c.reload(
        vss(&vs("10.99.0.100 80", "DR", "rr", "", &[("10.99.0.3", 1)])),
        devices,
    );
    let p = c.plan();
    assert!(p.purge.is_empty(), "{:?}", p.purge);
}

#[test]
fn expire_nodest_conn_flushes_a_server_that_goes_down_once_and_only_when_on() {
    use fulcrum_lvs::core::Flush;
    // Off (LVS's default): no flow is deleted.
    let off = "virtual_server 10.99.0.100 80 {\n lvs_sched wrr\n protocol TCP\n persistence_timeout 60\n real_server 10.99.0.3 80 {\n  inhibit_on_failure\n }\n real_server 10.99.0.4 80 {\n }\n}\n";
    let mut c = applied(off);
    c.set_up(VS1, "10.99.0.3:80", false);
    assert!(c.plan().flush.is_empty());
    // On: the server's flows, and its persistence entries though its chain stays (inhibit).
    let on = off.replace(" protocol TCP\n", " protocol TCP\n expire_nodest_conn\n");
    let mut c = applied(&on);
    c.set_up(VS1, "10.99.0.3:80", false);
    let p = c.plan();
    assert_eq!(
        p.flush,
        vec![Flush {
            protocol: fulcrum_config::model::IpProtocol::Tcp,
            virtual_address: Some(("10.99.0.100".parse().unwrap(), 80)),
            address: "10.99.0.3".parse().unwrap(),
            port: 80,
        }]
    );
    assert_eq!(p.purge.len(), 1, "{:?}", p.purge);
    assert_eq!(p.purge[0].map, "vs_tcp_10_99_0_100_80_persist");
    c.applied(p.desired);
    // Once: a second DOWN report or another change flushes nothing more.
    c.set_up(VS1, "10.99.0.3:80", false);
    c.set_up(VS1, "10.99.0.4:80", true);
    assert!(c.plan().flush.is_empty());
    // Back UP, then DOWN again: flushed again.
    c.set_up(VS1, "10.99.0.3:80", true);
    c.plan();
    c.set_up(VS1, "10.99.0.3:80", false);
    assert_eq!(c.plan().flush.len(), 1);
}

#[test]
fn dr_persistence_is_a_timed_set_per_real_server_with_granularity() {
    let text = "virtual_server 10.99.0.100 80 {\n lvs_sched rr\n lvs_method DR\n protocol TCP\n persistence_timeout 40\n persistence_granularity 255.255.255.0\n expire_nodest_conn\n real_server 10.99.0.3 80 {\n  inhibit_on_failure\n }\n real_server 10.99.0.4 80 {\n }\n}\n";
    let devices: HashMap<_, _> = [("10.99.0.100".parse().unwrap(), "eth0".to_string())].into();
    let mut c = Core::new(vss(text), devices);
    let p = c.plan();
    let set = "vs_tcp_10_99_0_100_80_rs_10_99_0_3_80_persist";
    assert!(p.script.contains(&format!(
        "add set netdev fulcrum_lvs {set} {{ type ipv4_addr; flags dynamic,timeout; timeout 40s; size 65536; }}"
    )), "{}", p.script);
    // Refreshed by every packet, consulted before the hash, learned by the real server's chain.
    assert!(p.script.contains(&format!(
        "meta l4proto tcp ip saddr and 255.255.255.0 @{set} update @{set} {{ ip saddr and 255.255.255.0 }}"
    )), "{}", p.script);
    assert!(p.script.contains(&format!(
        "meta l4proto tcp ip saddr and 255.255.255.0 @{set} goto vs_tcp_10_99_0_100_80_rs_10_99_0_3_80"
    )), "{}", p.script);
    assert!(
        p.script
            .contains("jhash ip saddr and 255.255.255.0 mod 2 seed"),
        "{}",
        p.script
    );
    assert!(
        p.script.contains(&format!(
            "update @{set} {{ ip saddr and 255.255.255.0 }} counter fwd ip to 10.99.0.3"
        )),
        "{}",
        p.script
    );
    c.applied(p.desired);
    // The inhibited server fails: it keeps its chain and set, expire_nodest_conn flushes the set.
    c.set_up(VS1, "10.99.0.3:80", false);
    let p = c.plan();
    assert!(
        !p.script
            .contains(&format!("delete set netdev fulcrum_lvs {set}")),
        "{}",
        p.script
    );
    assert!(
        p.purge.iter().any(|x| x.map == set && x.whole),
        "{:?}",
        p.purge
    );
    c.applied(p.desired);
    // The other one fails (not inhibited): its set goes with its chain.
    c.set_up(VS1, "10.99.0.4:80", false);
    let p = c.plan();
    assert!(
        p.script.contains(
            "delete set netdev fulcrum_lvs vs_tcp_10_99_0_100_80_rs_10_99_0_4_80_persist"
        ),
        "{}",
        p.script
    );
}

/// `uthreshold`: a cap in the real server's chain; the overload flag (from conntrack's counts,
/// IPVS's hysteresis) takes the server out of the slots and brings it back.
/// `allowed_cidrs`: the virtual server's first rule.
#[test]
fn uthreshold_caps_and_overload_leaves_the_slots() {
    let text = "virtual_server 10.99.0.100 53 {\n lvs_sched rr\n lvs_method NAT\n protocol UDP\n allowed_cidrs 10.99.0.0/24 2001:db8::/32\n real_server 10.99.0.3 53 {\n  uthreshold 4\n }\n real_server 10.99.0.4 53\n}\n";
    let mut c = Core::new(vss(text), HashMap::new());
    let p = c.plan();
    assert!(p.notes.is_empty(), "{:?}", p.notes);
    assert!(
        p.script
            .contains("meta l4proto udp ct count over 4 counter drop"),
        "{}",
        p.script
    );
    assert!(
        p.script
            .contains("ip saddr != { 10.99.0.0/24 } counter drop"),
        "{}",
        p.script
    );
    assert_eq!(p.script.matches("ct count").count(), 1, "{}", p.script);
    c.applied(p.desired);
    let in_slots = |c: &Core| {
        c.applied_ruleset()
            .tables
            .values()
            .flat_map(|t| t.maps.iter())
            .filter(|(n, _)| n.ends_with("_slots"))
            .any(|(_, m)| m.elems.values().any(|v| v.contains("_rs_10_99_0_3_53")))
    };
    assert!(in_slots(&c));
    let vs = "10.99.0.100:53";
    let rs = "10.99.0.3:53";
    // 3 connections: not overloaded; 4: overloaded, its slot goes.
    assert!(!c.set_conns(vs, rs, 0, 3));
    assert!(c.set_conns(vs, rs, 0, 4));
    let p = c.plan();
    assert!(p.script.contains("delete element"), "{}", p.script);
    let slots = |c: &Core| {
        c.applied_ruleset()
            .tables
            .values()
            .flat_map(|t| t.maps.iter())
            .filter(|(n, _)| n.ends_with("_slots"))
            .flat_map(|(_, m)| m.elems.values().cloned())
            .collect::<Vec<_>>()
    };
    c.applied(p.desired);
    assert!(!in_slots(&c), "{:?}", slots(&c));
    // Hysteresis: still overloaded at 3 (3*4 >= 4*3), back at 2.
    assert!(!c.set_conns(vs, rs, 0, 3));
    assert!(c.set_conns(vs, rs, 0, 2));
    let p = c.plan();
    c.applied(p.desired);
    assert!(in_slots(&c), "{:?}", slots(&c));
}
