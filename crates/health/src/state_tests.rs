//! Every transition of the rise/fall machine with simulated time.

use super::*;

const MS: Duration = Duration::from_millis(1);

fn ok() -> CheckOutcome {
    CheckOutcome::new(CheckStatus::L4Ok, MS)
}
fn ko() -> CheckOutcome {
    CheckOutcome::new(CheckStatus::L7Status, 3 * MS).with_code(500)
}

fn timing(rise: u32, fall: u32) -> CheckTiming {
    CheckTiming {
        inter: Duration::from_secs(2),
        fastinter: Some(Duration::from_millis(500)),
        downinter: Some(Duration::from_secs(5)),
        rise,
        fall,
    }
}

/// Runs one check at its deadline with `outcome`, returns the new time and the change.
fn step(m: &mut HaproxyCheck, outcome: CheckOutcome) -> (Instant, Option<StateChange>) {
    let at = m.next_deadline().expect("a check is scheduled");
    assert!(m.poll_start(at));
    assert_eq!(m.next_deadline(), None, "no deadline while the probe runs");
    assert!(!m.poll_start(at), "a running probe is not started twice");
    (at, m.on_result(at, outcome))
}

#[test]
fn starts_up_and_one_failure_takes_it_down() {
    let t0 = Instant::now();
    let mut m = HaproxyCheck::new(timing(2, 3), None, t0);
    assert!(m.is_up());
    assert_eq!(m.health_display(), "1/3 UP");
    // yet unchecked: transitional → fastinter
    assert_eq!(m.current_interval(), Duration::from_millis(500));
    let (_, ch) = step(&mut m, ko());
    let ch = ch.expect("first failure marks DOWN");
    assert!(!ch.up);
    assert_eq!(
        ch.outcome.to_string(),
        "reason: Layer7 wrong status, code: 500, check duration: 3ms"
    );
    assert_eq!(
        m.current_interval(),
        Duration::from_secs(5),
        "downinter while DOWN"
    );
}

#[test]
fn starts_up_and_one_success_makes_it_fully_up() {
    let t0 = Instant::now();
    let mut m = HaproxyCheck::new(timing(2, 3), None, t0);
    let (at, ch) = step(&mut m, ok());
    assert_eq!(ch, None);
    assert_eq!(m.health_display(), "3/3 UP");
    assert_eq!(
        m.next_deadline(),
        Some(at + Duration::from_secs(2)),
        "inter at full health"
    );
}

#[test]
fn fall_consecutive_failures_mark_down_with_fastinter_between() {
    let t0 = Instant::now();
    let mut m = HaproxyCheck::new(timing(2, 3), None, t0);
    step(&mut m, ok());
    let (at, ch) = step(&mut m, ko());
    assert_eq!(ch, None);
    assert_eq!(m.health_display(), "2/3 UP");
    assert_eq!(
        m.next_deadline(),
        Some(at + Duration::from_millis(500)),
        "fastinter going down"
    );
    let (_, ch) = step(&mut m, ko());
    assert_eq!(ch, None);
    assert_eq!(m.health_display(), "1/3 UP");
    let (at, ch) = step(&mut m, ko());
    assert!(!ch.expect("third failure").up);
    assert_eq!(m.health_display(), "0/2 DOWN");
    assert_eq!(
        m.next_deadline(),
        Some(at + Duration::from_secs(5)),
        "downinter once DOWN"
    );
}

#[test]
fn one_success_while_going_down_restores_full_health() {
    let mut m = HaproxyCheck::new(timing(2, 3), None, Instant::now());
    step(&mut m, ok());
    step(&mut m, ko());
    step(&mut m, ko());
    assert_eq!(m.health_display(), "1/3 UP");
    step(&mut m, ok());
    assert_eq!(m.health_display(), "3/3 UP");
    // failures must be consecutive: two more are not enough now
    step(&mut m, ko());
    step(&mut m, ko());
    assert!(m.is_up());
}

#[test]
fn rise_consecutive_successes_mark_up_and_a_failure_restarts_the_count() {
    let mut m = HaproxyCheck::new(timing(3, 2), None, Instant::now());
    step(&mut m, ko());
    assert!(!m.is_up());
    let (at, ch) = step(&mut m, ok());
    assert_eq!(ch, None);
    assert_eq!(m.health_display(), "1/3 DOWN");
    assert_eq!(
        m.next_deadline(),
        Some(at + Duration::from_millis(500)),
        "fastinter going up"
    );
    step(&mut m, ok());
    assert_eq!(m.health_display(), "2/3 DOWN");
    step(&mut m, ko());
    assert_eq!(
        m.health_display(),
        "0/3 DOWN",
        "a failure while rising starts over"
    );
    step(&mut m, ok());
    step(&mut m, ok());
    let (at, ch) = step(&mut m, ok());
    let ch = ch.expect("third success");
    assert!(ch.up);
    assert_eq!(m.health_display(), "2/2 UP");
    assert_eq!(m.next_deadline(), Some(at + Duration::from_secs(2)));
}

#[test]
fn rise_1_fall_1() {
    let mut m = HaproxyCheck::new(timing(1, 1), None, Instant::now());
    assert!(step(&mut m, ko()).1.is_some_and(|c| !c.up));
    assert!(step(&mut m, ok()).1.is_some_and(|c| c.up));
    assert!(step(&mut m, ko()).1.is_some_and(|c| !c.up));
}

#[test]
fn without_fastinter_and_downinter_inter_is_used_everywhere() {
    let t = CheckTiming {
        inter: Duration::from_millis(100),
        ..CheckTiming::default()
    };
    let mut m = HaproxyCheck::new(t, None, Instant::now());
    assert_eq!(m.current_interval(), Duration::from_millis(100));
    step(&mut m, ko());
    assert_eq!(m.current_interval(), Duration::from_millis(100));
}

#[test]
fn not_started_before_deadline() {
    let t0 = Instant::now();
    let mut m = HaproxyCheck::new(timing(2, 3), None, t0 + Duration::from_secs(1));
    assert!(!m.poll_start(t0));
    assert!(m.poll_start(t0 + Duration::from_secs(1)));
}

#[test]
fn spread_checks_jitters_within_plus_minus_percent_and_is_deterministic() {
    let t0 = Instant::now();
    let t = CheckTiming {
        inter: Duration::from_secs(10),
        ..CheckTiming::default()
    };
    let mut a = HaproxyCheck::new(t, None, t0).with_spread(5, 42);
    let mut b = HaproxyCheck::new(t, None, t0).with_spread(5, 42);
    step(&mut a, ok());
    step(&mut b, ok());
    let mut seen_diff = false;
    for _ in 0..200 {
        let (at, _) = step(&mut a, ok());
        let (bt, _) = step(&mut b, ok());
        assert_eq!(at, bt, "same seed, same schedule");
        let gap = a.next_deadline().expect("scheduled") - at;
        assert!(
            gap >= Duration::from_millis(9500) && gap <= Duration::from_millis(10500),
            "{gap:?}"
        );
        seen_diff |= gap != Duration::from_secs(10);
    }
    assert!(seen_diff, "jitter applied");
    let c = HaproxyCheck::new(t, None, t0).with_spread(90, 1);
    assert_eq!(c.spread_percent, 50, "clamped to 50% as HAProxy");
}

fn passive(observe: Observe, on_error: OnError, limit: u32) -> Option<PassiveHealth> {
    Some(PassiveHealth {
        observe,
        error_limit: limit,
        on_error,
    })
}

fn full_health(p: Option<PassiveHealth>) -> (HaproxyCheck, Instant) {
    let mut m = HaproxyCheck::new(timing(2, 3), p, Instant::now());
    let (at, _) = step(&mut m, ok());
    assert_eq!(m.health_display(), "3/3 UP");
    (m, at)
}

#[test]
fn observe_error_limit_then_fail_check_counts_as_one_failed_check() {
    let (mut m, at) = full_health(passive(Observe::Layer4, OnError::FailCheck, 3));
    assert_eq!(m.on_observed(at, Observed::ConnectError), None);
    assert_eq!(m.on_observed(at, Observed::ConnectError), None);
    assert_eq!(
        m.health_display(),
        "3/3 UP",
        "below the limit nothing happens"
    );
    assert_eq!(m.on_observed(at, Observed::ConnectError), None);
    assert_eq!(m.health_display(), "2/3 UP", "one simulated failed check");
    // and the next check is pulled in to fastinter
    assert_eq!(m.next_deadline(), Some(at + Duration::from_millis(500)));
}

#[test]
fn observe_success_resets_the_error_count() {
    let (mut m, at) = full_health(passive(Observe::Layer4, OnError::MarkDown, 3));
    m.on_observed(at, Observed::ConnectError);
    m.on_observed(at, Observed::ConnectError);
    m.on_observed(at, Observed::ConnectOk);
    m.on_observed(at, Observed::ConnectError);
    m.on_observed(at, Observed::ConnectError);
    assert!(m.is_up());
    let ch = m
        .on_observed(at, Observed::ConnectError)
        .expect("third consecutive");
    assert!(!ch.up);
    assert_eq!(
        ch.outcome.to_string(),
        "reason: Health analyze, info: \"Detected 3 consecutive errors, last one was: L4 unsuccessful connection\""
    );
}

#[test]
fn observe_mark_down_takes_it_down_at_once() {
    let (mut m, at) = full_health(passive(Observe::Layer7, OnError::MarkDown, 2));
    m.on_observed(at, Observed::HttpStatus(503));
    let ch = m
        .on_observed(at, Observed::HttpStatus(500))
        .expect("marked down");
    assert!(!ch.up);
    assert_eq!(m.health_display(), "0/2 DOWN");
    // then downinter applies, pulled in from the planned inter
    assert_eq!(
        m.next_deadline(),
        Some(at + Duration::from_secs(2)),
        "5s downinter is not sooner than 2s"
    );
}

#[test]
fn observe_sudden_death_leaves_one_check_before_down() {
    let (mut m, at) = full_health(passive(Observe::Layer7, OnError::SuddenDeath, 1));
    assert_eq!(m.on_observed(at, Observed::HttpReadTimeout), None);
    assert_eq!(m.health_display(), "1/3 UP");
    let (_, ch) = step(&mut m, ko());
    assert!(!ch.expect("one more failed check").up);
}

#[test]
fn observe_fastinter_only_moves_the_timer() {
    let mut t = timing(2, 3);
    t.inter = Duration::from_secs(20);
    let mut m = HaproxyCheck::new(
        t,
        passive(Observe::Layer7, OnError::Fastinter, 1),
        Instant::now(),
    );
    let (at, _) = step(&mut m, ok());
    assert_eq!(m.on_observed(at, Observed::HttpStatus(502)), None);
    assert_eq!(m.health_display(), "3/3 UP");
    assert_eq!(m.next_deadline(), Some(at + Duration::from_secs(20)));
}

#[test]
fn observe_layer4_ignores_http_errors_and_without_observe_nothing_counts() {
    let (mut m, at) = full_health(passive(Observe::Layer4, OnError::MarkDown, 1));
    assert_eq!(m.on_observed(at, Observed::HttpStatus(500)), None);
    assert!(m.is_up());
    let (mut n, at) = full_health(None);
    assert_eq!(n.on_observed(at, Observed::ConnectError), None);
    assert_eq!(n.health_display(), "3/3 UP");
}
