//! End to end: a client in its own namespace sends a bounded request loop to the virtual IP
//! through fulcrum (proxy + VRRP in one process) on two nodes while the master is killed;
//! failed requests and the outage window are counted and printed.
#![allow(clippy::unwrap_used)]

mod vrrp_support;

use fulcrum_testlab::{http, wait};
use std::time::Duration;
use vrrp_support::*;

const SETTLE: Duration = Duration::from_secs(20);

fn failover_through_the_proxy(name: &str, version: u8, advert_int: &'static str, bound: Duration) {
    let Some(t) = Topo::new(name, 4) else { return };
    let (app, client) = (2, 3);
    let _app = Daemon::fulcrum_files(&t, app, &[("app.cfg", APP_CFG)]);
    let lb = lb_haproxy_cfg(t.node(app).addr);
    let inst = |priority| Inst {
        priority,
        version,
        advert_int,
        ..Inst::default()
    };
    let backup = Daemon::fulcrum_files(
        &t,
        0,
        &[("lb.cfg", &lb), ("ka.conf", &inst(100).render(&t, 0))],
    );
    let mut master = Daemon::fulcrum_files(
        &t,
        1,
        &[("lb.cfg", &lb), ("ka.conf", &inst(150).render(&t, 1))],
    );
    assert!(
        wait_vip(&t, 1, true, SETTLE).is_some(),
        "{}",
        logs(&[&backup, &master])
    );
    // The client reaches the app through the VIP.
    let c = t.node(client).clone();
    let ready = c.in_thread(|| {
        wait::until(SETTLE, || {
            http::get_ok(vip_http(), Duration::from_millis(500))
        })
        .is_some()
    });
    assert!(
        ready.join().unwrap(),
        "no answer through the VIP{}",
        logs(&[&backup, &master])
    );
    // The backup must be ready to take over: until its own check has seen the app UP, it tracks
    // its proxy in FAULT (the first check can run before the app listens).
    let backup_ready = wait::until(SETTLE, || {
        backup
            .log()
            .lines()
            .rfind(|l| l.contains("Entering "))
            .is_some_and(|l| l.contains("Entering BACKUP STATE"))
    });
    assert!(
        backup_ready.is_some(),
        "the backup never reached BACKUP{}",
        logs(&[&backup, &master])
    );

    let (kill_tx, kill_rx) = std::sync::mpsc::channel::<()>();
    let looped = c.in_thread(move || {
        http::request_loop(
            vip_http(),
            Duration::from_millis(20),
            Duration::from_secs(12),
            2000,
            move || {
                let _ = kill_tx.send(());
            },
        )
    });
    assert!(
        kill_rx.recv_timeout(SETTLE).is_ok(),
        "the loop never succeeded"
    );
    master.kill();
    let report = looped.join().unwrap();
    eprintln!(
        "{name}: {} requests, {} failed, outage {:?} (bound {bound:?})",
        report.sent, report.failed, report.outage
    );
    assert!(
        wait_vip(&t, 0, true, SETTLE).is_some(),
        "{}",
        logs(&[&backup])
    );
    assert!(
        report.outage <= bound,
        "outage {:?} over {bound:?}: {report:?}{}",
        report.outage,
        logs(&[&backup])
    );
    let after = c.in_thread(|| http::get_ok(vip_http(), Duration::from_secs(1)));
    assert!(
        after.join().unwrap(),
        "serving again after failover{}",
        logs(&[&backup])
    );
}

#[test]
fn client_through_vip_survives_master_kill_advert_1s() {
    // Takeover bound 3 × 1 + 0.61 + 0.5, plus one request interval and timeout.
    failover_through_the_proxy("e2e-v2", 2, "1", Duration::from_millis(4110 + 300));
}

#[test]
fn client_through_vip_survives_master_kill_v3_100ms() {
    failover_through_the_proxy("e2e-v3", 3, "0.1", Duration::from_millis(861 + 300));
}
