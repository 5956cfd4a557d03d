//! keepalived's checker loop for one checker of one real_server: pure, fed with probe results
//! and the current time.
//!
//! keepalived.conf(5): checks run every `delay_loop`; "`retry`: retry count to make additional
//! checks if check of an alive server fails" (default 1; 0 for MISC_CHECK), each retry after
//! `delay_before_retry`. So an alive server is declared failed after `retry + 1` consecutive
//! failed attempts; a failed server comes back on its first successful check. Real servers are
//! alive at start (keepalived without `alpha`). What "failed" means for the virtual server —
//! removal, or weight 0 with `inhibit_on_failure` — is the caller's business: this machine
//! only says UP or DOWN.

use crate::state::StateChange;
use crate::status::CheckOutcome;
use std::time::{Duration, Instant};

/// `delay_loop`, `retry` (`nb_get_retry`), `delay_before_retry` of one checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepalivedTiming {
    pub delay_loop: Duration,
    pub retry: u32,
    pub delay_before_retry: Duration,
}

#[derive(Debug, Clone)]
pub struct KeepalivedCheck {
    timing: KeepalivedTiming,
    up: bool,
    /// Failed attempts of the current series on an alive server (keepalived's `retry_it`).
    retry_it: u32,
    next_check: Instant,
    running: bool,
    last: Option<CheckOutcome>,
}

impl KeepalivedCheck {
    pub fn new(timing: KeepalivedTiming, first_check: Instant) -> Self {
        KeepalivedCheck {
            timing,
            up: true,
            retry_it: 0,
            next_check: first_check,
            running: false,
            last: None,
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    pub fn last_outcome(&self) -> Option<&CheckOutcome> {
        self.last.as_ref()
    }

    /// Failed attempts so far in the current retry series.
    pub fn retries_used(&self) -> u32 {
        self.retry_it
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        (!self.running).then_some(self.next_check)
    }

    pub fn poll_start(&mut self, now: Instant) -> bool {
        if self.running || now < self.next_check {
            return false;
        }
        self.running = true;
        true
    }

    /// The running probe was abandoned (reload): check again at `now`, state unchanged.
    pub fn cancel_probe(&mut self, now: Instant) {
        if self.running {
            self.running = false;
            self.next_check = now;
        }
    }

    pub fn on_result(&mut self, now: Instant, outcome: CheckOutcome) -> Option<StateChange> {
        self.running = false;
        let was_up = self.up;
        if outcome.passed() {
            self.retry_it = 0;
            self.up = true;
            self.next_check = now + self.timing.delay_loop;
        } else if self.up && self.retry_it < self.timing.retry {
            self.retry_it += 1;
            self.next_check = now + self.timing.delay_before_retry;
        } else {
            self.retry_it = 0;
            self.up = false;
            self.next_check = now + self.timing.delay_loop;
        }
        self.last = Some(outcome.clone());
        (self.up != was_up).then_some(StateChange {
            up: self.up,
            outcome,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::CheckStatus;

    fn t(retry: u32) -> KeepalivedTiming {
        KeepalivedTiming {
            delay_loop: Duration::from_secs(6),
            retry,
            delay_before_retry: Duration::from_secs(3),
        }
    }
    fn ok() -> CheckOutcome {
        CheckOutcome::new(CheckStatus::L7Ok, Duration::ZERO).with_code(200)
    }
    fn ko() -> CheckOutcome {
        CheckOutcome::new(CheckStatus::L4Connection, Duration::ZERO)
    }
    fn step(m: &mut KeepalivedCheck, o: CheckOutcome) -> (Instant, Option<StateChange>) {
        let at = m.next_deadline().expect("scheduled");
        assert!(m.poll_start(at));
        assert!(m.next_deadline().is_none());
        (at, m.on_result(at, o))
    }

    #[test]
    fn alive_at_start_and_checked_every_delay_loop() {
        let mut m = KeepalivedCheck::new(t(1), Instant::now());
        assert!(m.is_up());
        let (at, ch) = step(&mut m, ok());
        assert_eq!(ch, None);
        assert_eq!(m.next_deadline(), Some(at + Duration::from_secs(6)));
    }

    #[test]
    fn retry_attempts_separated_by_delay_before_retry_then_failed() {
        let mut m = KeepalivedCheck::new(t(2), Instant::now());
        let (at, ch) = step(&mut m, ko());
        assert_eq!(ch, None, "first failure is retried");
        assert_eq!(m.next_deadline(), Some(at + Duration::from_secs(3)));
        let (at, ch) = step(&mut m, ko());
        assert_eq!(ch, None, "second failure is retried (retry 2)");
        assert_eq!(m.next_deadline(), Some(at + Duration::from_secs(3)));
        let (at, ch) = step(&mut m, ko());
        assert!(!ch.expect("retry + 1 failures").up);
        assert_eq!(
            m.next_deadline(),
            Some(at + Duration::from_secs(6)),
            "delay_loop once failed"
        );
        // no retry series while DOWN
        let (at, ch) = step(&mut m, ko());
        assert_eq!(ch, None);
        assert_eq!(m.next_deadline(), Some(at + Duration::from_secs(6)));
        // one success brings it back
        assert!(step(&mut m, ok()).1.expect("back").up);
    }

    #[test]
    fn success_during_retries_resets_the_series() {
        let mut m = KeepalivedCheck::new(t(1), Instant::now());
        step(&mut m, ko());
        assert_eq!(m.retries_used(), 1);
        step(&mut m, ok());
        assert_eq!(m.retries_used(), 0);
        assert_eq!(step(&mut m, ko()).1, None);
        assert!(step(&mut m, ko()).1.is_some_and(|c| !c.up));
    }

    #[test]
    fn retry_0_fails_at_once() {
        let mut m = KeepalivedCheck::new(t(0), Instant::now());
        assert!(step(&mut m, ko()).1.is_some_and(|c| !c.up));
    }
}
