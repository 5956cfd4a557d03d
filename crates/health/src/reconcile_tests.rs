use super::*;
use crate::probe::Probe;
use crate::state::CheckTiming;
use crate::status::CheckStatus;

fn spec(server: &str, inter_ms: u64) -> CheckSpec {
    CheckSpec {
        backend: "be".into(),
        server: server.into(),
        backup: false,
        probe: Probe::Tcp {
            addr: "127.0.0.1:1"
                .parse::<std::net::SocketAddr>()
                .expect("addr")
                .into(),
            connect_timeout: Duration::from_secs(1),
            reset: true,
        },
        rules: CheckRules::Haproxy {
            timing: CheckTiming {
                inter: Duration::from_millis(inter_ms),
                ..CheckTiming::default()
            },
            passive: None,
        },
        inhibit_on_failure: false,
        weight: 1,
        log_health_checks: false,
    }
}

fn plan(specs: Vec<CheckSpec>) -> Plan {
    let members = specs
        .iter()
        .map(|s| MemberSpec {
            backend: s.backend.clone(),
            server: s.server.clone(),
            backup: false,
            checked: true,
            weight: 1,
        })
        .collect();
    Plan {
        checks: specs,
        members,
        warnings: Vec::new(),
    }
}

fn ko() -> CheckOutcome {
    CheckOutcome::new(CheckStatus::L4Connection, Duration::ZERO).with_info("Connection refused")
}

/// Runs one failing probe on every check (fall 3 from start: one failure is DOWN).
fn fail_all(r: &mut Reconciled, now: Instant) {
    for c in &mut r.checks {
        let at = c.machine.next_deadline().expect("scheduled");
        assert!(c.machine.poll_start(at.max(now)));
        c.machine.on_result(at.max(now), ko());
    }
}

#[test]
fn first_checks_are_spread_over_the_smallest_interval_as_haproxy() {
    let now = Instant::now();
    let specs = ["a", "b", "c", "d"]
        .iter()
        .zip([2000, 4000, 2000, 3000])
        .map(|(s, i)| spec(s, i))
        .collect();
    let checks = schedule(specs, now, 0, 7);
    let offsets: Vec<Duration> = checks
        .iter()
        .map(|c| c.machine.next_deadline().expect("scheduled") - now)
        .collect();
    // mininter = 2s, 4 checks: 0, 0.5s, 1s, 1.5s
    assert_eq!(
        offsets,
        [0, 500, 1000, 1500].map(Duration::from_millis).to_vec()
    );
}

#[test]
fn intervals_below_one_second_do_not_dictate_the_spread() {
    let now = Instant::now();
    let checks = schedule(vec![spec("a", 100), spec("b", 100)], now, 0, 7);
    assert!(checks
        .iter()
        .all(|c| c.machine.next_deadline() == Some(now)));
}

#[test]
fn reload_keeps_equal_checks_restarts_changed_ones_and_replays_down_servers() {
    let t0 = Instant::now();
    let mut r = start(plan(vec![spec("a", 2000), spec("b", 2000)]), t0, 0, 1);
    assert!(r.states.values().all(|up| *up), "servers start UP");
    assert!(r.replay.is_empty());
    fail_all(&mut r, t0 + Duration::from_secs(2));
    assert!(r.checks.iter().all(|c| !c.machine.is_up()));

    // a: same definition (kept, still DOWN, replayed); b: inter changed (fresh, UP);
    // c: new (UP). A probe in flight on a is abandoned and redone at once.
    let t1 = t0 + Duration::from_secs(3);
    let a = r
        .checks
        .iter_mut()
        .find(|c| c.key.server == "a")
        .expect("a");
    let due = a.machine.next_deadline().expect("scheduled");
    assert!(a.machine.poll_start(due));
    let new = plan(vec![spec("a", 2000), spec("b", 3000), spec("c", 2000)]);
    let r2 = reconcile(r.checks, new, t1, 0, 1);
    let up = |s: &str| r2.states[&("be".to_string(), s.to_string())];
    assert!(!up("a"));
    assert!(up("b"));
    assert!(up("c"));
    let a = r2.checks.iter().find(|c| c.key.server == "a").expect("a");
    assert_eq!(
        a.machine.next_deadline(),
        Some(t1),
        "abandoned probe redone now"
    );
    assert_eq!(r2.replay.len(), 1);
    let ev = &r2.replay[0];
    assert!(ev.replay && !ev.up && ev.log_line.is_empty());
    assert_eq!((ev.server.as_str(), ev.reason.clone()), ("a", ko()));
}

#[test]
fn a_server_with_two_checkers_keys_each_by_rank() {
    let t0 = Instant::now();
    let mut second = spec("a", 2000);
    second.probe = Probe::Tcp {
        addr: "127.0.0.1:2"
            .parse::<std::net::SocketAddr>()
            .expect("addr")
            .into(),
        connect_timeout: Duration::from_secs(1),
        reset: true,
    };
    let r = start(plan(vec![spec("a", 2000), second.clone()]), t0, 0, 1);
    let keys: Vec<usize> = r.checks.iter().map(|c| c.key.rank).collect();
    assert_eq!(keys, [0, 1]);
    let mut p = plan(vec![spec("a", 2000), second]);
    p.members.truncate(1);
    let r2 = reconcile(r.checks, p, t0, 0, 1);
    assert_eq!(r2.checks.len(), 2);
}
