//! fulcrum next to the real keepalived (Debian package) on one segment, in both roles: the
//! same protocol on the wire, so either can replace the other one node at a time.

mod vrrp_support;

use std::time::{Duration, Instant};
use vrrp_support::*;

const SETTLE: Duration = Duration::from_secs(15);

fn keepalived_present() -> bool {
    let ok = std::process::Command::new("keepalived").arg("--version").output().is_ok();
    if !ok {
        if std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() == Ok("1") {
            panic!("FULCRUM_REQUIRE_NETNS=1 but keepalived is not installed (apt-get install keepalived)");
        }
        eprintln!("\n*** SKIPPING: keepalived not installed ***\n");
    }
    ok
}

fn topo(name: &str) -> Option<Topo> {
    if !keepalived_present() {
        return None;
    }
    Topo::new(name, 2)
}

#[test]
fn keepalived_master_killed_fulcrum_takes_over() {
    let Some(t) = topo("ka-master-kill") else { return };
    let f = Daemon::fulcrum(&t, 0, &Inst { priority: 100, ..Inst::default() }.render(&t, 0));
    let mut k = Daemon::keepalived(&t, 1, &Inst { priority: 150, ..Inst::default() }.render(&t, 1));
    assert!(wait_vip(&t, 1, true, SETTLE).is_some(), "keepalived (150) wins{}", logs(&[&f, &k]));
    assert!(wait_vip(&t, 0, false, SETTLE).is_some(), "fulcrum (100) stays BACKUP{}", logs(&[&f, &k]));
    std::thread::sleep(Duration::from_secs(2));
    assert!(vip_only_on(&t, 1, 2), "fulcrum accepts keepalived's adverts{}", logs(&[&f, &k]));
    let t0 = Instant::now();
    k.kill();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(3.0 + skew_v2(100) + 0.5);
    assert!(took.is_some_and(|d| d <= bound), "takeover took {took:?}, bound {bound:?}{}", logs(&[&f, &k]));
}

#[test]
fn keepalived_master_sigterm_fulcrum_takes_over_after_skew() {
    let Some(t) = topo("ka-master-term") else { return };
    let f = Daemon::fulcrum(&t, 0, &Inst { priority: 100, ..Inst::default() }.render(&t, 0));
    let k = Daemon::keepalived(&t, 1, &Inst { priority: 150, ..Inst::default() }.render(&t, 1));
    assert!(wait_vip(&t, 1, true, SETTLE).is_some(), "{}", logs(&[&f, &k]));
    assert!(wait_vip(&t, 0, false, SETTLE).is_some(), "{}", logs(&[&f, &k]));
    let t0 = Instant::now();
    k.term();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(skew_v2(100) + 0.5);
    assert!(took.is_some_and(|d| d <= bound), "takeover took {took:?}, bound {bound:?}{}", logs(&[&f, &k]));
}

#[test]
fn fulcrum_master_sigterm_keepalived_takes_over_then_fulcrum_preempts() {
    let Some(t) = topo("fu-master-term") else { return };
    let high = Inst { priority: 150, ..Inst::default() };
    let mut f = Daemon::fulcrum(&t, 0, &high.render(&t, 0));
    let k = Daemon::keepalived(&t, 1, &Inst { priority: 100, ..Inst::default() }.render(&t, 1));
    assert!(wait_vip(&t, 0, true, SETTLE).is_some(), "fulcrum (150) wins{}", logs(&[&f, &k]));
    assert!(wait_vip(&t, 1, false, SETTLE).is_some(), "keepalived (100) stays BACKUP{}", logs(&[&f, &k]));
    std::thread::sleep(Duration::from_secs(2));
    assert!(vip_only_on(&t, 0, 2), "keepalived accepts fulcrum's adverts{}", logs(&[&f, &k]));
    let t0 = Instant::now();
    f.term();
    let took = wait_vip(&t, 1, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(skew_v2(100) + 0.5);
    assert!(took.is_some_and(|d| d <= bound), "keepalived took {took:?} after fulcrum's priority 0, bound {bound:?}{}", logs(&[&f, &k]));
    assert!(f.child.wait_timeout(Duration::from_secs(10)).is_some());
    assert!(!t.node(0).has_address(VIP), "fulcrum removed its VIP on exit{}", logs(&[&f]));
    let f2 = Daemon::fulcrum(&t, 0, &high.render(&t, 0));
    assert!(wait_vip(&t, 0, true, SETTLE).is_some(), "fulcrum preempts keepalived{}", logs(&[&f2, &k]));
    assert!(wait_vip(&t, 1, false, SETTLE).is_some(), "keepalived yields{}", logs(&[&f2, &k]));
}

#[test]
fn fulcrum_master_killed_keepalived_takes_over() {
    let Some(t) = topo("fu-master-kill") else { return };
    let mut f = Daemon::fulcrum(&t, 0, &Inst { priority: 150, ..Inst::default() }.render(&t, 0));
    let k = Daemon::keepalived(&t, 1, &Inst { priority: 100, ..Inst::default() }.render(&t, 1));
    assert!(wait_vip(&t, 0, true, SETTLE).is_some(), "{}", logs(&[&f, &k]));
    assert!(wait_vip(&t, 1, false, SETTLE).is_some(), "{}", logs(&[&f, &k]));
    let t0 = Instant::now();
    f.kill();
    let took = wait_vip(&t, 1, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(3.0 + skew_v2(100) + 0.5);
    assert!(took.is_some_and(|d| d <= bound), "takeover took {took:?}, bound {bound:?}{}", logs(&[&f, &k]));
}

#[test]
fn vrrpv3_fast_adverts_with_keepalived() {
    let Some(t) = topo("ka-v3") else { return };
    let inst = |priority| Inst { priority, version: 3, advert_int: "0.1", ..Inst::default() };
    let f = Daemon::fulcrum(&t, 0, &inst(100).render(&t, 0));
    let mut k = Daemon::keepalived(&t, 1, &inst(150).render(&t, 1));
    assert!(wait_vip(&t, 1, true, SETTLE).is_some(), "{}", logs(&[&f, &k]));
    assert!(wait_vip(&t, 0, false, SETTLE).is_some(), "{}", logs(&[&f, &k]));
    std::thread::sleep(Duration::from_secs(2));
    assert!(vip_only_on(&t, 1, 2), "v3 checksums and 0.1 s interval agree{}", logs(&[&f, &k]));
    let t0 = Instant::now();
    k.kill();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(0.3 + 0.061 + 0.5);
    assert!(took.is_some_and(|d| d <= bound), "v3 takeover took {took:?}, bound {bound:?}{}", logs(&[&f, &k]));
}

#[test]
fn authentication_mismatch_with_keepalived() {
    let Some(t) = topo("ka-auth") else { return };
    let f = Daemon::fulcrum(&t, 0, &Inst { priority: 100, auth: Some("fulcrum"), ..Inst::default() }.render(&t, 0));
    let k = Daemon::keepalived(&t, 1, &Inst { priority: 150, auth: Some("keepaliv"), ..Inst::default() }.render(&t, 1));
    assert!(wait_vip(&t, 0, true, SETTLE).is_some(), "{}", logs(&[&f, &k]));
    assert!(wait_vip(&t, 1, true, SETTLE).is_some(), "{}", logs(&[&f, &k]));
    let seen = fulcrum_testlab::wait::until(SETTLE, || f.log().contains("authentication mismatch"));
    assert!(seen.is_some(), "{}", logs(&[&f]));
}

#[test]
fn unicast_peers_with_keepalived() {
    let Some(t) = topo("ka-unicast") else { return };
    let f = Daemon::fulcrum(&t, 0, &Inst { priority: 100, unicast_peers: vec![1], ..Inst::default() }.render(&t, 0));
    let mut k = Daemon::keepalived(&t, 1, &Inst { priority: 150, unicast_peers: vec![0], ..Inst::default() }.render(&t, 1));
    assert!(wait_vip(&t, 1, true, SETTLE).is_some(), "{}", logs(&[&f, &k]));
    assert!(wait_vip(&t, 0, false, SETTLE).is_some(), "{}", logs(&[&f, &k]));
    let t0 = Instant::now();
    k.kill();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(3.0 + skew_v2(100) + 0.5);
    assert!(took.is_some_and(|d| d <= bound), "unicast takeover took {took:?}{}", logs(&[&f, &k]));
}
