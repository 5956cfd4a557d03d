//! The events of changes, with HAProxy's (or keepalived's) log lines: UP/DOWN (the AND of a
//! server's checkers), NOLB entered or left (`disable-on-404`), a weight a check asked for;
//! and the backend counts those lines print.

use crate::driver::Driver;
use crate::events::{keepalived_line, keepalived_weight_line, HealthEvent};
use crate::log::{no_server_line, server_state_line_as, BackendCounts};
use crate::spec::CheckRules;
use crate::state::StateChange;
use crate::status::CheckOutcome;

impl Driver {
    /// A conditionally passed check (a 404 under `disable-on-404`, `ok-status L7OKC`): an UP
    /// server enters NOLB, and leaves it on the next normal pass ("Server B/S is stopping" /
    /// "is UP", as HAProxy's srv_update_status).
    pub(crate) fn publish_stopping(&mut self, i: usize, stop: bool, outcome: &CheckOutcome) {
        let spec = &self.checks[i].spec;
        let key = (spec.backend.clone(), spec.server.clone());
        let changed = if stop {
            self.stopping.insert(key.clone())
        } else {
            self.stopping.remove(&key)
        };
        if !changed {
            return;
        }
        let (logged, backend, server) = (spec.log_health_checks, key.0, key.1);
        let counts = self.counts(&backend);
        let reason = if logged {
            String::new()
        } else {
            format!(", {outcome}")
        };
        let verb = if stop { "is stopping" } else { "is UP" };
        let log_line = format!(
            "Server {backend}/{server} {verb}{reason}. {} active and {} backup servers online. {} sessions requeued, {} total in queue.",
            counts.active, counts.backup, counts.requeued, counts.queued
        );
        let _ = self.events.send(HealthEvent {
            backend,
            server,
            up: true,
            reason: outcome.clone(),
            log_line,
            no_server_line: None,
            inhibit_on_failure: false,
            replay: false,
            weight: None,
            stopping: stop,
        });
    }

    /// keepalived `misc_dynamic`: report a new weight asked for by the script.
    pub(crate) fn publish_weight(&mut self, i: usize, weight: u32, outcome: CheckOutcome) {
        let c = &mut self.checks[i];
        let from = c.dynamic_weight.unwrap_or(c.spec.weight);
        c.dynamic_weight = Some(weight);
        if from == weight {
            return;
        }
        let (backend, server) = (c.key.backend.clone(), c.key.server.clone());
        let protocol = keepalived_protocol(&c.spec.rules);
        let log_line =
            keepalived_weight_line((&backend, &server, protocol), from, weight, &outcome);
        let up = self.server_up(&backend, &server);
        let _ = self.events.send(HealthEvent {
            backend,
            server,
            up,
            reason: outcome,
            log_line,
            no_server_line: None,
            inhibit_on_failure: false,
            replay: false,
            weight: Some(weight),
            stopping: false,
        });
    }

    /// A server's state is the AND of its checkers (keepalived may run several per real server).
    pub(crate) fn server_up(&self, backend: &str, server: &str) -> bool {
        self.checks
            .iter()
            .filter(|c| c.key.backend == backend && c.key.server == server)
            .all(|c| c.machine.is_up())
    }

    pub(crate) fn publish(&mut self, i: usize, change: StateChange) {
        let (backend, server, inhibit, keepalived, logged) = {
            let s = &self.checks[i].spec;
            (
                s.backend.clone(),
                s.server.clone(),
                s.inhibit_on_failure,
                match s.rules {
                    CheckRules::Keepalived { protocol, .. } => Some(protocol),
                    CheckRules::Haproxy { .. } => None,
                },
                s.log_health_checks,
            )
        };
        let up = self.server_up(&backend, &server);
        let key = (backend.clone(), server.clone());
        if !up {
            self.stopping.remove(&key);
        }
        {
            let Ok(mut states) = self.shared.states.lock() else {
                return;
            };
            if states.get(&key) == Some(&up) {
                return; // another checker of the same real server still decides
            }
            states.insert(key, up);
        }
        let counts = self.counts(&backend);
        let log_line = if let Some(protocol) = keepalived {
            keepalived_line((&backend, &server, protocol), up, inhibit, &change.outcome)
        } else {
            server_state_line_as(
                &backend,
                &server,
                &StateChange {
                    up,
                    outcome: change.outcome.clone(),
                },
                counts,
                // a passive-health change is not a check: its reason is always given
                !logged || change.outcome.status == crate::status::CheckStatus::HealthAnalyze,
            )
        };
        let none_left = !up && counts.active == 0 && counts.backup == 0;
        // Not logged here: whoever receives the event logs it once it has acted on it (the
        // binary's health bridge logs after the proxy changed, so the log never runs ahead).
        let _ = self.events.send(HealthEvent {
            backend: backend.clone(),
            server,
            up,
            reason: change.outcome,
            log_line,
            no_server_line: none_left.then(|| no_server_line(&backend)),
            inhibit_on_failure: inhibit,
            replay: false,
            weight: None,
            stopping: false,
        });
    }

    pub(crate) fn counts(&self, backend: &str) -> BackendCounts {
        let Ok(states) = self.shared.states.lock() else {
            return BackendCounts::default();
        };
        let mut counts = BackendCounts::default();
        for m in self.members.iter().filter(|m| m.backend == backend) {
            let k = (m.backend.clone(), m.server.clone());
            if self.unusable.contains(&k) || self.stopping.contains(&k) {
                continue;
            }
            let up = states
                .get(&(m.backend.clone(), m.server.clone()))
                .copied()
                .unwrap_or(true);
            if up && m.backup {
                counts.backup += 1;
            } else if up {
                counts.active += 1;
            }
        }
        counts
    }
}

/// The protocol keepalived names a checker's services with (`tcp` for HAProxy checks).
fn keepalived_protocol(rules: &CheckRules) -> fulcrum_config::model::IpProtocol {
    match rules {
        CheckRules::Keepalived { protocol, .. } => *protocol,
        CheckRules::Haproxy { .. } => fulcrum_config::model::IpProtocol::Tcp,
    }
}
