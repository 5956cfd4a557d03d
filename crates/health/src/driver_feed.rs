//! What a probe's outcome (or a passive observation) changes: fed to the check's machine,
//! batched for the results listener with HAProxy's `option log-health-checks` line, agent
//! replies applied (weight, DRAIN/MAINT), and a state change handed to `driver_publish`.

use crate::clock;
use crate::driver::{Driver, RESULT_BATCH};
use crate::events::CheckResult;
use crate::observe::Observed;
use crate::status::CheckOutcome;

impl Driver {
    pub(crate) fn feed_result(&mut self, i: usize, outcome: CheckOutcome) {
        if self.paused_keys.contains(&i) {
            // Paused while the probe ran: its result is dropped, the state stays as it was.
            if let Some(c) = self.checks.get_mut(i) {
                c.machine.cancel_probe(clock::now());
            }
            return;
        }
        let Some(c) = self.checks.get_mut(i) else {
            return;
        };
        let is_agent = matches!(c.spec.probe, crate::probe::Probe::Agent(_));
        let (outcome, agent) = match &c.spec.probe {
            crate::probe::Probe::Agent(_) => crate::probe::agent::judge(outcome),
            _ => (outcome, None),
        };
        if let Some(p) = agent.as_ref().and_then(|a| a.weight_percent) {
            c.dynamic_weight = Some(c.spec.weight * p.min(256) / 100);
        }
        if let Some(reply) = &agent {
            use crate::probe::agent::AgentAdmin;
            let key = (c.key.backend.clone(), c.key.server.clone());
            let drained = match reply.admin {
                Some(AgentAdmin::Drain | AgentAdmin::Maint) => true,
                Some(AgentAdmin::Ready) => false,
                None => self.unusable.contains(&key) && c.dynamic_weight != Some(0),
            };
            if drained || c.dynamic_weight == Some(0) {
                self.unusable.insert(key);
            } else {
                self.unusable.remove(&key);
            }
        }
        // misc_dynamic, and FILE_CHECK with a weight: the check asks for a weight
        let dynamic = matches!(&c.spec.probe, crate::probe::Probe::Misc(m) if m.dynamic)
            || matches!(&c.spec.probe, crate::probe::Probe::File(f) if f.weight != 0);
        let asked = if dynamic {
            crate::probe::misc::dynamic_weight(&outcome)
        } else {
            None
        };
        let was_up = c.machine.is_up();
        let change = c.machine.on_result(clock::now(), outcome.clone());
        // HAProxy puts an UP server in NOLB on any "conditionally passed" check (a 404 under
        // `disable-on-404`, or an expect's `ok-status L7OKC`) and takes it out on a plain pass
        let soft_stop = match &c.spec.probe {
            crate::probe::Probe::Script(_) => {
                let stop = outcome.status == crate::status::CheckStatus::L7OkConditional;
                (stop || !self.stopping.is_empty()).then_some(stop)
            }
            _ => None,
        };
        let now_up = c.machine.is_up();
        let log_line = c
            .spec
            .log_health_checks
            .then(|| c.machine.health_report())
            .flatten()
            .map(|status| {
                // HAProxy shows a server whose weight an agent set to 0 as DRAIN
                let status = match (status.strip_suffix(" UP"), c.dynamic_weight) {
                    (Some(head), Some(0)) => format!("{head} DRAIN"),
                    _ => status,
                };
                health_check_line(&c.spec, &outcome, &status)
            });
        if let Ok(mut last) = self.shared.last.lock() {
            last.record(i, c, &outcome);
        }
        // Batched: the listener (stats, logs) wakes once per RESULT_BATCH, not once per check.
        self.batch.push(CheckResult {
            backend: c.names.0.clone(),
            server: c.names.1.clone(),
            outcome: outcome.clone(),
            was_up,
            log_line,
            is_agent,
            agent,
        });
        if self.flush_at.is_none() {
            self.flush_at = Some(clock::now() + RESULT_BATCH);
        }
        if let Some(change) = change {
            self.publish(i, change);
        } else if let Some(stop) = soft_stop.filter(|_| now_up) {
            self.publish_stopping(i, stop, &outcome);
        }
        if let Some(w) = asked {
            self.publish_weight(i, w, outcome);
        }
    }

    pub(crate) fn feed_observed(&mut self, backend: &str, server: &str, event: Observed) {
        let found = self
            .checks
            .iter()
            .position(|c| c.key.backend == backend && c.key.server == server);
        let Some(i) = found else { return };
        let change = self.checks[i].machine.on_observed(clock::now(), event);
        self.schedule(i); // the timer may have been pulled in
        if let Some(change) = change {
            self.publish(i, change);
        }
    }
}

/// HAProxy's `option log-health-checks` line (check.c, set_server_check_status).
fn health_check_line(
    spec: &crate::spec::CheckSpec,
    outcome: &CheckOutcome,
    status: &str,
) -> String {
    format!(
        "{} check for {}server {}/{} {}, {outcome}, status: {status}.",
        if matches!(spec.probe, crate::probe::Probe::Agent(_)) {
            "Agent"
        } else {
            "Health"
        },
        if spec.backup { "backup " } else { "" },
        spec.backend,
        spec.server,
        if outcome.status == crate::status::CheckStatus::L7OkConditional {
            "conditionally succeeded"
        } else if outcome.passed() {
            "succeeded"
        } else {
            "failed"
        },
    )
}
