//! HAProxy's rise/fall machine for one server with `check`: pure, fed with probe results,
//! passive observations and the current time; it answers "start a probe now?", "is it UP?" and
//! "when is the next check?". It never touches a socket, a clock or a task.
//!
//! The model is HAProxy's own `health` counter (src/check.c), which makes every documented
//! rule fall out of one integer in `0 ..= rise + fall - 1`:
//! - the server is UP while `health >= rise`;
//! - a failed check decrements it; dropping below `rise` snaps it to 0 (DOWN), so from full
//!   health exactly `fall` consecutive failures mark the server DOWN (manual: "considered as
//!   dead after <count> consecutive unsuccessful health checks");
//! - a passed check increments it; reaching `rise` snaps it to full health, so from 0 exactly
//!   `rise` consecutive successes mark it UP, and one success restores an UP server that had
//!   started failing;
//! - at start HAProxy sets `health = rise` ("up, but will fall down at first failure"):
//!   servers are UP at start and one failed check takes them DOWN, one passed check makes
//!   them fully UP.
//!
//! Intervals follow the manual's table for `inter`/`fastinter`/`downinter`: full health →
//! `inter`; DOWN with health 0 → `downinter` (else `inter`); any transitional state, including
//! "yet unchecked" → `fastinter` (else `inter`). The next check is scheduled from the end of
//! the previous one, plus `spread-checks` jitter of ±percent of the interval.
//!
//! Passive health (`observe layer4|layer7`) counts consecutive errors seen by the data plane;
//! at `error-limit` the `on-error` action runs as HAProxy does: `fail-check` = one failed check,
//! `sudden-death` = health drops to one above the edge and then fails once (so one more failed
//! check marks it DOWN), `mark-down` = DOWN at once, `fastinter` = only the check timer is
//! pulled in. All four pull the next check in to the current interval (that is how they
//! "force fastinter": the server is no longer at full health, so the interval is `fastinter`).

use crate::observe::{Observed, Verdict};
use crate::status::{CheckOutcome, CheckStatus};
use fulcrum_config::model::{Observe, OnError};
use std::time::{Duration, Instant};

/// `inter`, `fastinter`, `downinter`, `rise`, `fall` of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckTiming {
    pub inter: Duration,
    pub fastinter: Option<Duration>,
    pub downinter: Option<Duration>,
    pub rise: u32,
    pub fall: u32,
}

impl Default for CheckTiming {
    /// HAProxy's defaults: `inter 2s rise 2 fall 3`.
    fn default() -> Self {
        CheckTiming {
            inter: Duration::from_secs(2),
            fastinter: None,
            downinter: None,
            rise: 2,
            fall: 3,
        }
    }
}

/// `observe`, `error-limit`, `on-error` of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassiveHealth {
    pub observe: Observe,
    pub error_limit: u32,
    pub on_error: OnError,
}

/// The server changed between UP and DOWN; `outcome` is the check (or analysis) that did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub up: bool,
    pub outcome: CheckOutcome,
}

/// A tiny deterministic PRNG (xorshift64*) for `spread-checks`: seeded by the caller so tests
/// replay exactly; quality needs are trivial (jitter), so no dependency.
#[derive(Debug, Clone)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    pub fn new(seed: u64) -> Self {
        Jitter { state: seed | 1 }
    }
    /// A value in [0, 1].
    pub fn next_unit(&mut self) -> f64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        v as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Clone)]
pub struct HaproxyCheck {
    timing: CheckTiming,
    passive: Option<PassiveHealth>,
    /// HAProxy's `check->health`, see the module comment.
    health: u32,
    consecutive_errors: u32,
    next_check: Instant,
    running: bool,
    spread_percent: u32,
    jitter: Jitter,
    last: Option<CheckOutcome>,
    /// The last result changed the status or the health (`option log-health-checks` logs it).
    reported: bool,
}

impl HaproxyCheck {
    /// A server at start: UP but one failure away from DOWN, first check at `first_check`.
    pub fn new(
        mut timing: CheckTiming,
        passive: Option<PassiveHealth>,
        first_check: Instant,
    ) -> Self {
        timing.rise = timing.rise.max(1);
        timing.fall = timing.fall.max(1);
        HaproxyCheck {
            timing,
            passive,
            health: timing.rise,
            consecutive_errors: 0,
            next_check: first_check,
            running: false,
            spread_percent: 0,
            jitter: Jitter::new(1),
            last: None,
            reported: false,
        }
    }

    /// `spread-checks PERCENT` (clamped to HAProxy's 0..=50) with a seeded jitter source.
    pub fn with_spread(mut self, percent: u32, seed: u64) -> Self {
        self.spread_percent = percent.min(50);
        self.jitter = Jitter::new(seed);
        self
    }

    fn full(&self) -> u32 {
        self.timing.rise + self.timing.fall - 1
    }

    pub fn is_up(&self) -> bool {
        self.health >= self.timing.rise
    }

    pub fn timing(&self) -> &CheckTiming {
        &self.timing
    }

    pub fn last_outcome(&self) -> Option<&CheckOutcome> {
        self.last.as_ref()
    }

    /// Whether the last result changed the check's status or health: HAProxy logs those with
    /// `option log-health-checks`.
    pub fn reported(&self) -> bool {
        self.reported
    }

    /// HAProxy's `check->health`, `rise` and `fall`.
    pub fn health_counts(&self) -> (u32, u32, u32) {
        (self.health, self.timing.rise, self.timing.fall)
    }

    /// HAProxy's stats notation: `3/3 UP`, `1/3 UP` (going down), `1/2 DOWN` (going up).
    pub fn health_display(&self) -> String {
        if self.is_up() {
            format!(
                "{}/{} UP",
                self.health - self.timing.rise + 1,
                self.timing.fall
            )
        } else {
            format!("{}/{} DOWN", self.health, self.timing.rise)
        }
    }

    /// The interval that applies in the current state (the manual's table).
    pub fn current_interval(&self) -> Duration {
        let t = &self.timing;
        if self.health == self.full() {
            t.inter
        } else if self.health == 0 {
            t.downinter.unwrap_or(t.inter)
        } else {
            t.fastinter.unwrap_or(t.inter)
        }
    }

    /// When the next probe must start; None while one is running.
    pub fn next_deadline(&self) -> Option<Instant> {
        (!self.running).then_some(self.next_check)
    }

    /// True (once) when a probe must be started now; the caller then runs it and reports with
    /// [`HaproxyCheck::on_result`].
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

    /// Feeds a probe's outcome; returns the change of state when there is one.
    pub fn on_result(&mut self, now: Instant, outcome: CheckOutcome) -> Option<StateChange> {
        self.running = false;
        let was_up = self.is_up();
        let health = self.health;
        if outcome.passed() {
            self.pass();
        } else {
            self.fail();
        }
        self.reported =
            health != self.health || self.last.as_ref().map(|l| l.status) != Some(outcome.status);
        self.last = Some(outcome.clone());
        self.next_check = now + self.interval_with_spread();
        (self.is_up() != was_up).then(|| StateChange {
            up: self.is_up(),
            outcome,
        })
    }

    /// A result that does not count (an agent that could not be reached, or replied without a
    /// state): health unchanged, next check after the current interval.
    pub fn skip(&mut self, now: Instant, outcome: CheckOutcome) {
        self.running = false;
        // an agent reply without a state is not logged (HAProxy's CHECKED)
        self.reported = outcome.status != CheckStatus::Checked
            && self.last.as_ref().map(|l| l.status) != Some(outcome.status);
        self.last = Some(outcome);
        self.next_check = now + self.interval_with_spread();
    }

    fn pass(&mut self) {
        if self.health < self.full() {
            self.health += 1;
            if self.health >= self.timing.rise {
                self.health = self.full();
            }
        }
    }

    fn fail(&mut self) {
        if self.health > 0 {
            self.health -= 1;
            if self.health < self.timing.rise {
                self.health = 0;
            }
        }
    }

    fn interval_with_spread(&mut self) -> Duration {
        let inter = self.current_interval();
        if self.spread_percent == 0 {
            return inter;
        }
        // HAProxy: rv = inter * spread / 100, then inter + rv - 2 * rv * random, i.e. ± rv.
        let rv = inter.as_secs_f64() * f64::from(self.spread_percent) / 100.0;
        let offset = rv - 2.0 * rv * self.jitter.next_unit();
        Duration::from_secs_f64((inter.as_secs_f64() + offset).max(0.0))
    }

    /// Feeds one observation of the data plane (`observe`); returns the change of state when
    /// `error-limit` was reached and the `on-error` action moved the server.
    pub fn on_observed(&mut self, now: Instant, event: Observed) -> Option<StateChange> {
        let passive = self.passive?;
        match event.verdict(passive.observe) {
            Verdict::Ignore => return None,
            Verdict::Ok => {
                self.consecutive_errors = 0;
                return None;
            }
            Verdict::Error => self.consecutive_errors += 1,
        }
        if self.consecutive_errors < passive.error_limit.max(1) {
            return None;
        }
        let info = format!(
            "Detected {} consecutive errors, last one was: {}",
            self.consecutive_errors,
            event.description()
        );
        self.consecutive_errors = 0;
        let was_up = self.is_up();
        match passive.on_error {
            OnError::Fastinter => {}
            OnError::FailCheck => self.fail(),
            OnError::SuddenDeath => {
                if self.health > self.timing.rise {
                    self.health = self.timing.rise + 1;
                }
                self.fail();
            }
            OnError::MarkDown => {
                self.health = self.timing.rise;
                self.fail();
            }
        }
        // Pull the timer in: the next check comes after the interval of the new state if that
        // is sooner than what was planned (HAProxy wakes the check task to do the same).
        if !self.running {
            let sooner = now + self.current_interval();
            if sooner < self.next_check {
                self.next_check = sooner;
            }
        }
        let outcome = CheckOutcome {
            status: CheckStatus::HealthAnalyze,
            code: None,
            info: Some(info),
            duration: None,
        };
        (self.is_up() != was_up).then(|| StateChange {
            up: self.is_up(),
            outcome,
        })
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
