//! fulcrum next to the real keepalived (Debian package) on one segment, in both roles: the
//! same protocol on the wire, so either can replace the other one node at a time.
#![allow(clippy::unwrap_used)]

mod vrrp_support;

use std::time::{Duration, Instant};
use vrrp_support::*;

const SETTLE: Duration = Duration::from_secs(15);

fn keepalived_present() -> bool {
    let ok = std::process::Command::new("keepalived")
        .arg("--version")
        .output()
        .is_ok();
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
    let Some(t) = topo("ka-master-kill") else {
        return;
    };
    let f = Daemon::fulcrum(
        &t,
        0,
        &Inst {
            priority: 100,
            ..Inst::default()
        }
        .render(&t, 0),
    );
    let mut k = Daemon::keepalived(
        &t,
        1,
        &Inst {
            priority: 150,
            ..Inst::default()
        }
        .render(&t, 1),
    );
    assert!(
        wait_vip(&t, 1, true, SETTLE).is_some(),
        "keepalived (150) wins{}",
        logs(&[&f, &k])
    );
    assert!(
        wait_vip(&t, 0, false, SETTLE).is_some(),
        "fulcrum (100) stays BACKUP{}",
        logs(&[&f, &k])
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        vip_only_on(&t, 1, 2),
        "fulcrum accepts keepalived's adverts{}",
        logs(&[&f, &k])
    );
    let t0 = Instant::now();
    k.kill();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(3.0 + skew_v2(100) + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "takeover took {took:?}, bound {bound:?}{}",
        logs(&[&f, &k])
    );
}

#[test]
fn keepalived_master_sigterm_fulcrum_takes_over_after_skew() {
    let Some(t) = topo("ka-master-term") else {
        return;
    };
    let f = Daemon::fulcrum(
        &t,
        0,
        &Inst {
            priority: 100,
            ..Inst::default()
        }
        .render(&t, 0),
    );
    let k = Daemon::keepalived(
        &t,
        1,
        &Inst {
            priority: 150,
            ..Inst::default()
        }
        .render(&t, 1),
    );
    assert!(
        wait_vip(&t, 1, true, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    assert!(
        wait_vip(&t, 0, false, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    let t0 = Instant::now();
    k.term();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(skew_v2(100) + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "takeover took {took:?}, bound {bound:?}{}",
        logs(&[&f, &k])
    );
}

#[test]
fn fulcrum_master_sigterm_keepalived_takes_over_then_fulcrum_preempts() {
    let Some(t) = topo("fu-master-term") else {
        return;
    };
    let high = Inst {
        priority: 150,
        ..Inst::default()
    };
    let mut f = Daemon::fulcrum(&t, 0, &high.render(&t, 0));
    let k = Daemon::keepalived(
        &t,
        1,
        &Inst {
            priority: 100,
            ..Inst::default()
        }
        .render(&t, 1),
    );
    assert!(
        wait_vip(&t, 0, true, SETTLE).is_some(),
        "fulcrum (150) wins{}",
        logs(&[&f, &k])
    );
    assert!(
        wait_vip(&t, 1, false, SETTLE).is_some(),
        "keepalived (100) stays BACKUP{}",
        logs(&[&f, &k])
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        vip_only_on(&t, 0, 2),
        "keepalived accepts fulcrum's adverts{}",
        logs(&[&f, &k])
    );
    let t0 = Instant::now();
    f.term();
    let took = wait_vip(&t, 1, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(skew_v2(100) + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "keepalived took {took:?} after fulcrum's priority 0, bound {bound:?}{}",
        logs(&[&f, &k])
    );
    assert!(f.child.wait_timeout(Duration::from_secs(10)).is_some());
    assert!(
        !t.node(0).has_address(VIP),
        "fulcrum removed its VIP on exit{}",
        logs(&[&f])
    );
    let f2 = Daemon::fulcrum(&t, 0, &high.render(&t, 0));
    assert!(
        wait_vip(&t, 0, true, SETTLE).is_some(),
        "fulcrum preempts keepalived{}",
        logs(&[&f2, &k])
    );
    assert!(
        wait_vip(&t, 1, false, SETTLE).is_some(),
        "keepalived yields{}",
        logs(&[&f2, &k])
    );
}

#[test]
fn fulcrum_master_killed_keepalived_takes_over() {
    let Some(t) = topo("fu-master-kill") else {
        return;
    };
    let mut f = Daemon::fulcrum(
        &t,
        0,
        &Inst {
            priority: 150,
            ..Inst::default()
        }
        .render(&t, 0),
    );
    let k = Daemon::keepalived(
        &t,
        1,
        &Inst {
            priority: 100,
            ..Inst::default()
        }
        .render(&t, 1),
    );
    assert!(
        wait_vip(&t, 0, true, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    assert!(
        wait_vip(&t, 1, false, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    let t0 = Instant::now();
    f.kill();
    let took = wait_vip(&t, 1, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(3.0 + skew_v2(100) + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "takeover took {took:?}, bound {bound:?}{}",
        logs(&[&f, &k])
    );
}

#[test]
fn vrrpv3_fast_adverts_with_keepalived() {
    let Some(t) = topo("ka-v3") else { return };
    let inst = |priority| Inst {
        priority,
        version: 3,
        advert_int: "0.1",
        ..Inst::default()
    };
    let f = Daemon::fulcrum(&t, 0, &inst(100).render(&t, 0));
    let mut k = Daemon::keepalived(&t, 1, &inst(150).render(&t, 1));
    assert!(
        wait_vip(&t, 1, true, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    assert!(
        wait_vip(&t, 0, false, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        vip_only_on(&t, 1, 2),
        "v3 checksums and 0.1 s interval agree{}",
        logs(&[&f, &k])
    );
    let t0 = Instant::now();
    k.kill();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(0.3 + 0.061 + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "v3 takeover took {took:?}, bound {bound:?}{}",
        logs(&[&f, &k])
    );
}

#[test]
fn authentication_mismatch_with_keepalived() {
    let Some(t) = topo("ka-auth") else { return };
    let f = Daemon::fulcrum(
        &t,
        0,
        &Inst {
            priority: 100,
            auth: Some("fulcrum"),
            ..Inst::default()
        }
        .render(&t, 0),
    );
    let k = Daemon::keepalived(
        &t,
        1,
        &Inst {
            priority: 150,
            auth: Some("keepaliv"),
            ..Inst::default()
        }
        .render(&t, 1),
    );
    assert!(
        wait_vip(&t, 0, true, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    assert!(
        wait_vip(&t, 1, true, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    let seen = fulcrum_testlab::wait::until(SETTLE, || f.log().contains("authentication mismatch"));
    assert!(seen.is_some(), "{}", logs(&[&f]));
}

#[test]
fn unicast_peers_with_keepalived() {
    let Some(t) = topo("ka-unicast") else { return };
    let f = Daemon::fulcrum(
        &t,
        0,
        &Inst {
            priority: 100,
            unicast_peers: vec![1],
            ..Inst::default()
        }
        .render(&t, 0),
    );
    let mut k = Daemon::keepalived(
        &t,
        1,
        &Inst {
            priority: 150,
            unicast_peers: vec![0],
            ..Inst::default()
        }
        .render(&t, 1),
    );
    assert!(
        wait_vip(&t, 1, true, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    assert!(
        wait_vip(&t, 0, false, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    let t0 = Instant::now();
    k.kill();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(3.0 + skew_v2(100) + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "unicast takeover took {took:?}{}",
        logs(&[&f, &k])
    );
}

#[test]
fn vrrpv3_over_ipv6_with_keepalived() {
    let Some(t) = topo("ka-v3ipv6") else { return };
    let vip6 = "fd99::100";
    let inst = |priority| Inst {
        priority,
        version: 3,
        advert_int: "0.5",
        vip: "fd99::100/64",
        ..Inst::default()
    };
    let f = Daemon::fulcrum(&t, 0, &inst(100).render(&t, 0));
    let mut k = Daemon::keepalived(&t, 1, &inst(150).render(&t, 1));
    assert!(
        wait_addr(&t, 1, vip6, true, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    assert!(
        wait_addr(&t, 0, vip6, false, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !t.node(0).has_address(vip6),
        "fulcrum accepts keepalived's IPv6 adverts{}",
        logs(&[&f, &k])
    );
    let t0 = Instant::now();
    k.kill();
    let took = wait_addr(&t, 0, vip6, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(1.5 + 0.5 * 156.0 / 256.0 + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "IPv6 takeover took {took:?}, bound {bound:?}{}",
        logs(&[&f, &k])
    );
}

/// fulcrum as the v3 master: keepalived must accept its adverts (checksum with the IPv4 or IPv6
/// pseudo-header, centisecond interval) and take over on its priority-0 advert.
fn keepalived_backs_up_fulcrum_v3(
    name: &str,
    vip: &'static str,
    addr: &str,
    advert_int: &'static str,
) {
    let Some(t) = topo(name) else { return };
    let inst = |priority| Inst {
        priority,
        version: 3,
        advert_int,
        vip,
        ..Inst::default()
    };
    let f = Daemon::fulcrum(&t, 0, &inst(150).render(&t, 0));
    let k = Daemon::keepalived(&t, 1, &inst(100).render(&t, 1));
    assert!(
        wait_addr(&t, 0, addr, true, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    assert!(
        wait_addr(&t, 1, addr, false, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !t.node(1).has_address(addr),
        "keepalived accepts fulcrum's v3 adverts{}",
        logs(&[&f, &k])
    );
    assert!(
        !k.log().contains("checksum"),
        "no checksum complaint from keepalived{}",
        logs(&[&k])
    );
    let t0 = Instant::now();
    f.term();
    let took = wait_addr(&t, 1, addr, true, SETTLE).map(|_| t0.elapsed());
    assert!(
        took.is_some_and(|d| d <= Duration::from_secs(2)),
        "keepalived took {took:?}{}",
        logs(&[&f, &k])
    );
}

#[test]
fn keepalived_backs_up_fulcrum_v3_ipv4_fast() {
    keepalived_backs_up_fulcrum_v3("ka-bk-v3", "10.99.0.100/32", VIP, "0.1");
}

#[test]
fn keepalived_backs_up_fulcrum_v3_ipv6() {
    keepalived_backs_up_fulcrum_v3("ka-bk-v3ipv6", "fd99::100/64", "fd99::100", "0.5");
}

#[test]
fn nopreempt_fulcrum_leaves_a_lower_keepalived_master_alone() {
    let Some(t) = topo("ka-nopreempt") else {
        return;
    };
    let k = Daemon::keepalived(
        &t,
        1,
        &Inst {
            priority: 100,
            ..Inst::default()
        }
        .render(&t, 1),
    );
    assert!(wait_vip(&t, 1, true, SETTLE).is_some(), "{}", logs(&[&k]));
    let f = Daemon::fulcrum(
        &t,
        0,
        &Inst {
            priority: 150,
            nopreempt: true,
            ..Inst::default()
        }
        .render(&t, 0),
    );
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
    let inst = |priority, peer| Inst {
        priority,
        version: 3,
        advert_int: "0.1",
        unicast_peers: vec![peer],
        ..Inst::default()
    };
    let f = Daemon::fulcrum(&t, 0, &inst(100, 1).render(&t, 0));
    let mut k = Daemon::keepalived(&t, 1, &inst(150, 0).render(&t, 1));
    assert!(
        wait_vip(&t, 1, true, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    assert!(
        wait_vip(&t, 0, false, SETTLE).is_some(),
        "{}",
        logs(&[&f, &k])
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        vip_only_on(&t, 1, 2),
        "v3 unicast checksum (pseudo-header with the unicast destination){}",
        logs(&[&f, &k])
    );
    let t0 = Instant::now();
    k.kill();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(0.3 + 0.061 + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "takeover took {took:?}, bound {bound:?}{}",
        logs(&[&f, &k])
    );
}
