//! fulcrum with fulcrum across network namespaces: election, preemption, SIGTERM / SIGKILL
//! takeover, authentication mismatch, nopreempt, unicast peers, VRRPv3 at advert_int 0.1.
#![allow(clippy::unwrap_used)]

mod vrrp_support;

use std::time::{Duration, Instant};
use vrrp_support::*;

const SETTLE: Duration = Duration::from_secs(15);

#[test]
fn election_sigterm_handover_and_preemption() {
    let Some(t) = Topo::new("election", 2) else {
        return;
    };
    let low = Inst {
        priority: 100,
        ..Inst::default()
    };
    let high = Inst {
        priority: 150,
        ..Inst::default()
    };
    let a = Daemon::fulcrum(&t, 0, &low.render(&t, 0));
    let mut b = Daemon::fulcrum(&t, 1, &high.render(&t, 1));
    assert!(
        wait_vip(&t, 1, true, SETTLE).is_some(),
        "the higher priority should win{}",
        logs(&[&a, &b])
    );
    assert!(
        wait_vip(&t, 0, false, SETTLE).is_some(),
        "the lower one must not hold the VIP{}",
        logs(&[&a, &b])
    );

    // SIGTERM: priority 0, the backup takes over after its Skew_Time.
    let t0 = Instant::now();
    b.term();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(skew_v2(100) + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "takeover after SIGTERM took {took:?}, bound {bound:?}{}",
        logs(&[&a, &b])
    );
    assert!(
        b.child.wait_timeout(Duration::from_secs(10)).is_some(),
        "fulcrum must exit on SIGTERM"
    );
    assert!(
        !t.node(1).has_address(VIP),
        "a stopped master removes its VIP{}",
        logs(&[&a, &b])
    );

    // The higher priority comes back and preempts.
    let b2 = Daemon::fulcrum(&t, 1, &high.render(&t, 1));
    assert!(
        wait_vip(&t, 1, true, SETTLE).is_some(),
        "preemption{}",
        logs(&[&a, &b2])
    );
    assert!(
        wait_vip(&t, 0, false, SETTLE).is_some(),
        "the preempted master removes its VIP{}",
        logs(&[&a, &b2])
    );
}

#[test]
fn sigkill_takeover_within_master_down_interval() {
    let Some(t) = Topo::new("sigkill", 2) else {
        return;
    };
    let a = Daemon::fulcrum(
        &t,
        0,
        &Inst {
            priority: 100,
            ..Inst::default()
        }
        .render(&t, 0),
    );
    let mut b = Daemon::fulcrum(
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
        logs(&[&a, &b])
    );
    assert!(
        wait_vip(&t, 0, false, SETTLE).is_some(),
        "{}",
        logs(&[&a, &b])
    );
    let t0 = Instant::now();
    b.kill();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(3.0 + skew_v2(100) + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "takeover after SIGKILL took {took:?}, bound {bound:?}{}",
        logs(&[&a, &b])
    );
}

#[test]
fn authentication_mismatch_is_dropped_so_both_become_master() {
    let Some(t) = Topo::new("authmismatch", 2) else {
        return;
    };
    let a = Daemon::fulcrum(
        &t,
        0,
        &Inst {
            priority: 100,
            auth: Some("one"),
            ..Inst::default()
        }
        .render(&t, 0),
    );
    let b = Daemon::fulcrum(
        &t,
        1,
        &Inst {
            priority: 150,
            auth: Some("two"),
            ..Inst::default()
        }
        .render(&t, 1),
    );
    assert!(
        wait_vip(&t, 0, true, SETTLE).is_some(),
        "adverts with another password are ignored{}",
        logs(&[&a, &b])
    );
    assert!(
        wait_vip(&t, 1, true, SETTLE).is_some(),
        "{}",
        logs(&[&a, &b])
    );
    let ok = fulcrum_testlab::wait::until(SETTLE, || a.log().contains("authentication mismatch"));
    assert!(ok.is_some(), "the drop is logged{}", logs(&[&a]));
    assert_eq!(
        a.log().matches("authentication mismatch").count(),
        1,
        "logged once, not per packet{}",
        logs(&[&a])
    );
}

#[test]
fn nopreempt_keeps_the_current_master() {
    let Some(t) = Topo::new("nopreempt", 2) else {
        return;
    };
    let a = Daemon::fulcrum(
        &t,
        0,
        &Inst {
            priority: 100,
            nopreempt: true,
            ..Inst::default()
        }
        .render(&t, 0),
    );
    assert!(wait_vip(&t, 0, true, SETTLE).is_some(), "{}", logs(&[&a]));
    let b = Daemon::fulcrum(
        &t,
        1,
        &Inst {
            priority: 150,
            nopreempt: true,
            ..Inst::default()
        }
        .render(&t, 1),
    );
    let backup = fulcrum_testlab::wait::until(SETTLE, || b.log().contains("Entering BACKUP"));
    assert!(backup.is_some(), "{}", logs(&[&a, &b]));
    // Longer than the higher router's Master_Down_Interval (3.5 s): it must stay BACKUP.
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        vip_only_on(&t, 0, 2),
        "nopreempt: the lower master keeps the VIP{}",
        logs(&[&a, &b])
    );
}

#[test]
fn unicast_peers() {
    let Some(t) = Topo::new("unicast", 2) else {
        return;
    };
    let a = Daemon::fulcrum(
        &t,
        0,
        &Inst {
            priority: 100,
            unicast_peers: vec![1],
            ..Inst::default()
        }
        .render(&t, 0),
    );
    let b = Daemon::fulcrum(
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
        logs(&[&a, &b])
    );
    assert!(
        wait_vip(&t, 0, false, SETTLE).is_some(),
        "{}",
        logs(&[&a, &b])
    );
    let t0 = Instant::now();
    b.term();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(skew_v2(100) + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "unicast SIGTERM takeover took {took:?}{}",
        logs(&[&a, &b])
    );
}

#[test]
fn vrrpv3_centisecond_adverts() {
    let Some(t) = Topo::new("v3fast", 2) else {
        return;
    };
    let inst = |priority| Inst {
        priority,
        version: 3,
        advert_int: "0.1",
        ..Inst::default()
    };
    let a = Daemon::fulcrum(&t, 0, &inst(100).render(&t, 0));
    let mut b = Daemon::fulcrum(&t, 1, &inst(150).render(&t, 1));
    assert!(
        wait_vip(&t, 1, true, SETTLE).is_some(),
        "{}",
        logs(&[&a, &b])
    );
    assert!(
        wait_vip(&t, 0, false, SETTLE).is_some(),
        "{}",
        logs(&[&a, &b])
    );
    // Let it run a while at 10 adverts/s: the backup must not flap to MASTER.
    std::thread::sleep(Duration::from_secs(2));
    assert!(vip_only_on(&t, 1, 2), "stable at 0.1 s{}", logs(&[&a, &b]));
    let t0 = Instant::now();
    b.kill();
    let took = wait_vip(&t, 0, true, SETTLE).map(|_| t0.elapsed());
    // 3 × 0.1 + (256-100)/256 × 0.1 + 0.5
    let bound = Duration::from_secs_f64(0.3 + 0.061 + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "v3 SIGKILL takeover took {took:?}, bound {bound:?}{}",
        logs(&[&a, &b])
    );
}

#[test]
fn vrrpv3_over_ipv6() {
    let Some(t) = Topo::new("v3ipv6", 2) else {
        return;
    };
    let vip6 = "fd99::100";
    let inst = |priority| Inst {
        priority,
        version: 3,
        advert_int: "0.5",
        vip: "fd99::100/64",
        ..Inst::default()
    };
    let a = Daemon::fulcrum(&t, 0, &inst(100).render(&t, 0));
    let mut b = Daemon::fulcrum(&t, 1, &inst(150).render(&t, 1));
    assert!(
        wait_addr(&t, 1, vip6, true, SETTLE).is_some(),
        "{}",
        logs(&[&a, &b])
    );
    assert!(
        wait_addr(&t, 0, vip6, false, SETTLE).is_some(),
        "{}",
        logs(&[&a, &b])
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !t.node(0).has_address(vip6),
        "the backup hears the IPv6 adverts{}",
        logs(&[&a, &b])
    );
    let t0 = Instant::now();
    b.kill();
    let took = wait_addr(&t, 0, vip6, true, SETTLE).map(|_| t0.elapsed());
    let bound = Duration::from_secs_f64(1.5 + 0.5 * 156.0 / 256.0 + 0.5);
    assert!(
        took.is_some_and(|d| d <= bound),
        "IPv6 takeover took {took:?}, bound {bound:?}{}",
        logs(&[&a, &b])
    );
}

#[test]
fn reload_applies_a_new_priority_and_leaves_unchanged_instances_alone() {
    let Some(t) = Topo::new("reload", 2) else {
        return;
    };
    let a = Daemon::fulcrum(
        &t,
        0,
        &Inst {
            priority: 100,
            ..Inst::default()
        }
        .render(&t, 0),
    );
    let b = Daemon::fulcrum(
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
        logs(&[&a, &b])
    );
    assert!(
        wait_vip(&t, 0, false, SETTLE).is_some(),
        "{}",
        logs(&[&a, &b])
    );
    // Same config reloaded: the master stays master without a blip. (The state is logged just
    // after the VIP is added: wait for the line before counting.)
    assert!(
        fulcrum_testlab::wait::until(SETTLE, || b.log().contains("Entering MASTER")).is_some(),
        "{}",
        logs(&[&b])
    );
    let entered = b.log().matches("Entering").count();
    b.reload();
    assert!(
        fulcrum_testlab::wait::until(SETTLE, || b.log().to_lowercase().contains("reload"))
            .is_some(),
        "{}",
        logs(&[&b])
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        b.log().matches("Entering").count(),
        entered,
        "unchanged instance untouched{}",
        logs(&[&b])
    );
    assert!(vip_only_on(&t, 1, 2), "{}", logs(&[&a, &b]));
    // A new priority on the backup: it restarts the instance and preempts.
    std::fs::write(
        &a.files[0],
        Inst {
            priority: 200,
            ..Inst::default()
        }
        .render(&t, 0),
    )
    .unwrap();
    a.reload();
    assert!(
        wait_vip(&t, 0, true, SETTLE).is_some(),
        "reloaded priority 200 preempts{}",
        logs(&[&a, &b])
    );
    assert!(
        wait_vip(&t, 1, false, SETTLE).is_some(),
        "{}",
        logs(&[&a, &b])
    );
}

#[test]
fn ipv6_starts_while_the_link_local_address_is_still_tentative() {
    let Some(t) = Topo::new("v6tentative", 1) else {
        return;
    };
    let n = t.node(0);
    // Duplicate address detection on, then a link flap: the link-local address is tentative
    // for about a second, which is when a daemon started at boot comes up.
    let dad = "echo 1 > /proc/sys/net/ipv6/conf/eth0/accept_dad";
    assert!(n
        .run("sh", &["-c", dad])
        .is_some_and(|o| o.status.success()));
    assert!(n.set_link(false) && n.set_link(true));
    let inst = Inst {
        priority: 150,
        version: 3,
        advert_int: "0.5",
        vip: "fd99::100/64",
        ..Inst::default()
    };
    let mut a = Daemon::fulcrum(&t, 0, &inst.render(&t, 0));
    assert!(
        wait_addr(&t, 0, "fd99::100", true, SETTLE).is_some(),
        "{}",
        logs(&[&a])
    );
    assert!(a.child.is_running(), "{}", logs(&[&a]));
}

/// The planned handover (issue 19 item 4): after SIGTERM the old master keeps the VIP until the
/// new master holds it (sampled every few milliseconds, the VIP is never on neither node), then
/// releases it once it has seen the new master's advert.
#[test]
fn sigterm_keeps_the_vip_until_the_new_master_holds_it() {
    let Some(t) = Topo::new("handover", 2) else {
        return;
    };
    let low = Inst {
        priority: 100,
        ..Inst::default()
    };
    let high = Inst {
        priority: 150,
        ..Inst::default()
    };
    let a = Daemon::fulcrum(&t, 0, &low.render(&t, 0));
    let mut b = Daemon::fulcrum(&t, 1, &high.render(&t, 1));
    assert!(
        wait_vip(&t, 1, true, SETTLE).is_some(),
        "{}",
        logs(&[&a, &b])
    );
    assert!(
        wait_vip(&t, 0, false, SETTLE).is_some(),
        "{}",
        logs(&[&a, &b])
    );
    b.term();
    let t0 = Instant::now();
    let mut samples = 0;
    let mut overlap = false;
    loop {
        let (on_a, on_b) = (t.node(0).has_address(VIP), t.node(1).has_address(VIP));
        samples += 1;
        assert!(
            on_a || on_b,
            "the VIP was on neither node {:?} after SIGTERM (sample {samples}){}",
            t0.elapsed(),
            logs(&[&a, &b])
        );
        overlap |= on_a && on_b;
        if on_a && !on_b {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no handover in 10 s{}",
            logs(&[&a, &b])
        );
    }
    assert!(
        samples > 5,
        "too few samples ({samples}) to see the handover"
    );
    assert!(
        overlap,
        "the old master released before the new one held the VIP"
    );
    assert!(b.child.wait_timeout(Duration::from_secs(10)).is_some());
    let log = b.log();
    assert!(
        log.contains("keeping the addresses until a new master advertises")
            && log.contains("new master 10.99.0.1 advertises; addresses released"),
        "{log}"
    );
}
