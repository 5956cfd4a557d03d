//! fulcrum next to the real keepalived (Debian package) on one segment, in both roles: the
//! same protocol on the wire, so either can replace the other one node at a time.
#![allow(clippy::unwrap_used)]

mod vrrp_support;

use std::time::Duration;
use vrrp_support::*;

/// fulcrum on node 0, keepalived on node 1.
const MIXED: [Kind; 2] = [Kind::Fulcrum, Kind::Keepalived];

fn inst(priority: u8) -> Inst {
    Inst {
        priority,
        ..Inst::default()
    }
}

fn topo(name: &str) -> Option<Topo> {
    topo_for(name, MIXED)
}

#[test]
fn keepalived_master_killed_fulcrum_takes_over() {
    let Some(t) = topo("ka-master-kill") else {
        return;
    };
    let mut p = Pair::elect(&t, MIXED, [&inst(100), &inst(150)]);
    p.holds(
        Duration::from_secs(2),
        "fulcrum accepts keepalived's adverts",
    );
    p.fail_over(Stop::Kill, after_kill(100, 1.0));
}

#[test]
fn keepalived_master_sigterm_fulcrum_takes_over_after_skew() {
    let Some(t) = topo("ka-master-term") else {
        return;
    };
    let mut p = Pair::elect(&t, MIXED, [&inst(100), &inst(150)]);
    p.fail_over(Stop::Term, after_term(100));
}

#[test]
fn fulcrum_master_sigterm_keepalived_takes_over_then_fulcrum_preempts() {
    let Some(t) = topo("fu-master-term") else {
        return;
    };
    let mut p = Pair::elect(&t, MIXED, [&inst(150), &inst(100)]);
    p.holds(
        Duration::from_secs(2),
        "keepalived accepts fulcrum's adverts",
    );
    p.fail_over(Stop::Term, after_term(100));
    assert!(p.daemons[0]
        .child
        .wait_timeout(Duration::from_secs(10))
        .is_some());
    assert!(
        !t.node(0).has_address(VIP),
        "fulcrum removed its VIP on exit{}",
        p.logs()
    );
    p.restart(0, Kind::Fulcrum, &inst(150));
    p.moves_to(0, "fulcrum preempts keepalived, which yields");
}

#[test]
fn fulcrum_master_killed_keepalived_takes_over() {
    let Some(t) = topo("fu-master-kill") else {
        return;
    };
    let mut p = Pair::elect(&t, MIXED, [&inst(150), &inst(100)]);
    p.fail_over(Stop::Kill, after_kill(100, 1.0));
}

#[test]
fn vrrpv3_fast_adverts_with_keepalived() {
    let Some(t) = topo("ka-v3") else { return };
    let v3 = |priority| Inst {
        priority,
        version: 3,
        advert_int: "0.1",
        ..Inst::default()
    };
    let mut p = Pair::elect(&t, MIXED, [&v3(100), &v3(150)]);
    p.holds(
        Duration::from_secs(2),
        "v3 checksums and 0.1 s interval agree",
    );
    p.fail_over(Stop::Kill, after_kill(100, 0.1));
}

#[test]
fn authentication_mismatch_with_keepalived() {
    let Some(t) = topo("ka-auth") else { return };
    split_by_auth(&t, MIXED, ["fulcrum", "keepaliv"]);
}

#[test]
fn unicast_peers_with_keepalived() {
    let Some(t) = topo("ka-unicast") else { return };
    let unicast = |priority, peer| Inst {
        priority,
        unicast_peers: vec![peer],
        ..Inst::default()
    };
    let mut p = Pair::elect(&t, MIXED, [&unicast(100, 1), &unicast(150, 0)]);
    p.fail_over(Stop::Kill, after_kill(100, 1.0));
}

#[test]
fn vrrpv3_over_ipv6_with_keepalived() {
    let Some(t) = topo("ka-v3ipv6") else { return };
    let v6 = |priority| Inst {
        priority,
        version: 3,
        advert_int: "0.5",
        vip: "fd99::100/64",
        ..Inst::default()
    };
    let mut p = Pair::elect(&t, MIXED, [&v6(100), &v6(150)]);
    p.holds(
        Duration::from_secs(2),
        "fulcrum accepts keepalived's IPv6 adverts",
    );
    p.fail_over(Stop::Kill, after_kill(100, 0.5));
}

/// fulcrum as the v3 master: keepalived must accept its adverts (checksum with the IPv4 or IPv6
/// pseudo-header, centisecond interval) and take over on its priority-0 advert.
fn keepalived_backs_up_fulcrum_v3(name: &str, vip: &'static str, advert_int: &'static str) {
    let Some(t) = topo(name) else { return };
    let v3 = |priority| Inst {
        priority,
        version: 3,
        advert_int,
        vip,
        ..Inst::default()
    };
    let mut p = Pair::elect(&t, MIXED, [&v3(150), &v3(100)]);
    p.holds(
        Duration::from_secs(2),
        "keepalived accepts fulcrum's v3 adverts",
    );
    assert!(
        !p.daemons[1].log().contains("checksum"),
        "no checksum complaint from keepalived{}",
        p.logs()
    );
    p.fail_over(Stop::Term, Duration::from_secs(2));
}

#[test]
fn keepalived_backs_up_fulcrum_v3_ipv4_fast() {
    keepalived_backs_up_fulcrum_v3("ka-bk-v3", "10.99.0.100/32", "0.1");
}

#[test]
fn keepalived_backs_up_fulcrum_v3_ipv6() {
    keepalived_backs_up_fulcrum_v3("ka-bk-v3ipv6", "fd99::100/64", "0.5");
}

#[test]
fn nopreempt_fulcrum_leaves_a_lower_keepalived_master_alone() {
    let Some(t) = topo("ka-nopreempt") else {
        return;
    };
    let k = Daemon::keepalived(&t, 1, &inst(100).render(&t, 1));
    assert!(wait_vip(&t, 1, true, SETTLE).is_some(), "{}", logs(&[&k]));
    let nopreempt = Inst {
        priority: 150,
        nopreempt: true,
        ..Inst::default()
    };
    let f = Daemon::fulcrum(&t, 0, &nopreempt.render(&t, 0));
    assert!(
        fulcrum_testlab::wait::until(SETTLE, || f.log().contains("Entering BACKUP")).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    // Longer than fulcrum's Master_Down_Interval (3.4 s at priority 150).
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        vip_only_on(&t, 1, 2),
        "nopreempt: keepalived keeps the VIP{}",
        logs(&[&f, &k])
    );
    // …until keepalived stops: then fulcrum takes over after its Skew_Time.
    k.term();
    assert!(
        wait_vip(&t, 0, true, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
}

#[test]
fn vrrpv3_unicast_with_keepalived() {
    let Some(t) = topo("ka-v3-unicast") else {
        return;
    };
    let v3 = |priority, peer| Inst {
        priority,
        version: 3,
        advert_int: "0.1",
        unicast_peers: vec![peer],
        ..Inst::default()
    };
    let mut p = Pair::elect(&t, MIXED, [&v3(100, 1), &v3(150, 0)]);
    p.holds(
        Duration::from_secs(2),
        "v3 unicast checksum (pseudo-header with the unicast destination)",
    );
    p.fail_over(Stop::Kill, after_kill(100, 0.1));
}
