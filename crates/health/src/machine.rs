//! The one interface the driver uses to run a check's pure machine, whatever decides it
//! (HAProxy's rise/fall in `state`, keepalived's retry/delay_loop in `keepalived`): when to
//! start a probe, what a result or a passive observation changes, and whether it is UP.

use crate::keepalived::KeepalivedCheck;
use crate::observe::Observed;
use crate::state::{HaproxyCheck, StateChange};
use crate::status::CheckOutcome;
use std::time::Instant;

/// A check's decision machine: pure, fed with results and the current time.
pub trait CheckMachine: Send + std::fmt::Debug {
    /// When the next probe must start; None while one is running.
    fn next_deadline(&self) -> Option<Instant>;
    /// True (once) when a probe must start now.
    fn poll_start(&mut self, now: Instant) -> bool;
    /// A probe's result; the change of state when there is one.
    fn on_result(&mut self, now: Instant, outcome: CheckOutcome) -> Option<StateChange>;
    /// What the data plane saw (`observe`); machines without passive health ignore it.
    fn on_observed(&mut self, _now: Instant, _event: Observed) -> Option<StateChange> {
        None
    }
    fn is_up(&self) -> bool;
    /// The running probe was abandoned (reload): check again at `now`, state unchanged.
    fn cancel_probe(&mut self, now: Instant);
    fn last_outcome(&self) -> Option<&CheckOutcome>;
    /// `option log-health-checks`: when the last result changed the check's status or health,
    /// the state as HAProxy writes it after "status: " (`3/3 UP`, `0/2 DOWN`).
    fn health_report(&self) -> Option<String> {
        None
    }
    /// HAProxy's `check->health`, `rise` and `fall` (HAProxy checks only).
    fn health_counts(&self) -> Option<(u32, u32, u32)> {
        None
    }
}

impl CheckMachine for HaproxyCheck {
    fn next_deadline(&self) -> Option<Instant> {
        HaproxyCheck::next_deadline(self)
    }
    fn poll_start(&mut self, now: Instant) -> bool {
        HaproxyCheck::poll_start(self, now)
    }
    fn on_result(&mut self, now: Instant, outcome: CheckOutcome) -> Option<StateChange> {
        HaproxyCheck::on_result(self, now, outcome)
    }
    fn on_observed(&mut self, now: Instant, event: Observed) -> Option<StateChange> {
        HaproxyCheck::on_observed(self, now, event)
    }
    fn is_up(&self) -> bool {
        HaproxyCheck::is_up(self)
    }
    fn cancel_probe(&mut self, now: Instant) {
        HaproxyCheck::cancel_probe(self, now)
    }
    fn last_outcome(&self) -> Option<&CheckOutcome> {
        HaproxyCheck::last_outcome(self)
    }
    fn health_report(&self) -> Option<String> {
        self.reported().then(|| self.health_display())
    }
    fn health_counts(&self) -> Option<(u32, u32, u32)> {
        Some(HaproxyCheck::health_counts(self))
    }
}

impl CheckMachine for KeepalivedCheck {
    fn next_deadline(&self) -> Option<Instant> {
        KeepalivedCheck::next_deadline(self)
    }
    fn poll_start(&mut self, now: Instant) -> bool {
        KeepalivedCheck::poll_start(self, now)
    }
    fn on_result(&mut self, now: Instant, outcome: CheckOutcome) -> Option<StateChange> {
        KeepalivedCheck::on_result(self, now, outcome)
    }
    fn is_up(&self) -> bool {
        KeepalivedCheck::is_up(self)
    }
    fn cancel_probe(&mut self, now: Instant) {
        KeepalivedCheck::cancel_probe(self, now)
    }
    fn last_outcome(&self) -> Option<&CheckOutcome> {
        KeepalivedCheck::last_outcome(self)
    }
}

/// HAProxy's agent check: the same health counter (rise 1, fall 1), but only the agent's
/// own verdicts (`up`, `down`, `fail`, `stopped`) count; an agent that cannot be reached or
/// replies without a state changes nothing.
#[derive(Debug)]
pub struct AgentMachine(pub HaproxyCheck);

impl CheckMachine for AgentMachine {
    fn next_deadline(&self) -> Option<Instant> {
        self.0.next_deadline()
    }
    fn poll_start(&mut self, now: Instant) -> bool {
        self.0.poll_start(now)
    }
    fn on_result(&mut self, now: Instant, outcome: CheckOutcome) -> Option<StateChange> {
        use crate::status::CheckStatus as S;
        if matches!(outcome.status, S::L7Ok | S::L7OkConditional | S::L7Status) {
            self.0.on_result(now, outcome)
        } else {
            self.0.skip(now, outcome);
            None
        }
    }
    fn is_up(&self) -> bool {
        self.0.is_up()
    }
    fn cancel_probe(&mut self, now: Instant) {
        self.0.cancel_probe(now)
    }
    fn last_outcome(&self) -> Option<&CheckOutcome> {
        self.0.last_outcome()
    }
    fn health_report(&self) -> Option<String> {
        self.0.reported().then(|| self.0.health_display())
    }
}
