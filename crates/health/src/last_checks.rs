//! The last outcome of each server's first health check (not its agent's), as readers of the
//! handle see it (`check_status`, `check_code`, `check_desc`): written in place by the driver
//! at every result through the check's index (no name hashed or copied per check), read by
//! (backend, server) through an index rebuilt at each reload.

use crate::driver::ServerKey;
use crate::reconcile::Running;
use crate::status::CheckOutcome;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub(crate) struct LastChecks {
    /// (backend, server) → the check index whose outcome is shown.
    index: HashMap<ServerKey, usize>,
    /// By check index: the last outcome (None before the first, or for checks not shown).
    outcomes: Vec<Option<CheckOutcome>>,
}

/// Whether check `c`'s outcomes are the ones shown for its server.
fn shown(c: &Running) -> bool {
    c.key.rank == 0 && !matches!(c.spec.probe, crate::probe::Probe::Agent(_))
}

impl LastChecks {
    /// For the checks of a (new) plan: the outcomes of servers still checked are kept.
    pub fn rebuild(&mut self, checks: &[Running]) {
        let mut old = std::mem::take(&mut self.index);
        let mut outcomes = std::mem::take(&mut self.outcomes);
        self.outcomes = vec![None; checks.len()];
        for (i, c) in checks.iter().enumerate().filter(|(_, c)| shown(c)) {
            let key = (c.key.backend.clone(), c.key.server.clone());
            if let Some(was) = old.remove(&key) {
                self.outcomes[i] = outcomes.get_mut(was).and_then(Option::take);
            }
            self.index.insert(key, i);
        }
    }

    /// Check `i`'s new outcome, when it is the one shown for its server.
    pub fn record(&mut self, i: usize, c: &Running, outcome: &CheckOutcome) {
        if !shown(c) {
            return;
        }
        if let Some(slot) = self.outcomes.get_mut(i) {
            *slot = Some(outcome.clone());
        }
    }

    pub fn get(&self, backend: &str, server: &str) -> Option<CheckOutcome> {
        let i = *self.index.get(&(backend.to_string(), server.to_string()))?;
        self.outcomes.get(i)?.clone()
    }
}
