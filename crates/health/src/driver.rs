//! The async driver of the pure machines: one tokio task starts the probes that are due (all
//! polled concurrently inside this task, so a slow server never delays another), sleeps until the earliest deadline
//! on the one [`clock`](crate::clock), feeds results and passive observations back, and sends
//! a [`HealthEvent`] with HAProxy's (or keepalived's) log line on every change. Reloads go
//! through the pure [`reconcile`](crate::reconcile::reconcile).

use crate::clock;
use crate::events::{keepalived_line, keepalived_weight_line, CheckResult, HealthEvent};
use crate::log::{no_server_line, server_state_line_as, BackendCounts};
use crate::observe::Observed;
use crate::reconcile::{self, Running};
use crate::spec::{self, CheckRules, MemberSpec};
use crate::state::StateChange;
use crate::status::CheckOutcome;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// The probes in flight: (check index, outcome) when done.
type Probes = FuturesUnordered<Pin<Box<dyn Future<Output = (usize, CheckOutcome)> + Send>>>;

pub(crate) enum Command {
    Observed {
        backend: String,
        server: String,
        event: Observed,
    },
    Reload {
        plan: spec::Plan,
        spread_percent: u32,
    },
    /// `disable health` / `enable health`: pause or resume one server's checks.
    Pause {
        backend: String,
        server: String,
        paused: bool,
    },
    Shutdown,
}

pub(crate) type ServerKey = (String, String);

/// What the driver publishes for readers of the handle (stats pages, the runtime socket).
#[derive(Default)]
pub(crate) struct Shared {
    pub states: Mutex<HashMap<ServerKey, bool>>,
    /// `disable health`: these servers' checks start no probe and their results are dropped.
    pub paused: Mutex<HashSet<ServerKey>>,
    /// Where every check's outcome goes when someone listens.
    pub results: Mutex<Option<mpsc::UnboundedSender<CheckResult>>>,
    /// The results since start, until the first [`check_results`] takes them (so the first
    /// checks, which may end before anyone subscribes, are not lost; bounded).
    ///
    /// [`check_results`]: crate::HealthHandle::check_results
    pub pending: Mutex<Option<mpsc::UnboundedReceiver<CheckResult>>>,
    /// The last outcome of each server's (first) check: check_status/code/desc.
    pub last: Mutex<HashMap<ServerKey, CheckOutcome>>,
}

/// How long check results wait to be sent together (state changes are never delayed).
pub const RESULT_BATCH: std::time::Duration = std::time::Duration::from_millis(50);

/// How many results are kept for a subscriber that has not come yet.
const PENDING_LIMIT: usize = 4096;

pub(crate) fn seed_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

pub(crate) struct Driver {
    pub checks: Vec<Running>,
    /// When each check is due, earliest first (entries go stale when a check is rescheduled;
    /// they are checked against the machine when popped).
    pub deadlines: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Indexes of the checks whose server's checks are paused (`disable health`).
    pub paused_keys: HashSet<usize>,
    /// Check results not sent yet, and when they go.
    pub batch: Vec<CheckResult>,
    pub flush_at: Option<Instant>,
    /// Servers an agent set to weight 0, DRAIN or MAINT: not counted as usable in log lines
    /// (HAProxy counts usable servers only).
    pub unusable: HashSet<ServerKey>,
    /// Servers in NOLB (`http-check disable-on-404` saw a 404): UP, out of balancing.
    pub stopping: HashSet<ServerKey>,
    pub members: Vec<MemberSpec>,
    pub shared: Arc<Shared>,
    pub events: mpsc::UnboundedSender<HealthEvent>,
}

impl Driver {
    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        // The probes run inside this task (no task and no cross-thread wakeup per check).
        let mut probes: Probes = FuturesUnordered::new();
        self.rebuild_deadlines();
        loop {
            let now = clock::now();
            // Start what is due: O(log N) per check, not a scan of every check per wake.
            while let Some(Reverse((at, i))) = self.deadlines.peek().copied() {
                if at > now {
                    break;
                }
                self.deadlines.pop();
                let Some(c) = self.checks.get_mut(i) else {
                    continue;
                };
                // a stale entry (the check was rescheduled) or a paused server: skip
                if c.machine.next_deadline() != Some(at) || self.paused_keys.contains(&i) {
                    continue;
                }
                if c.machine.poll_start(now) {
                    let probe = c.probe.clone();
                    let ctx = self.probe_ctx(i);
                    probes.push(Box::pin(async move {
                        let outcome = match ctx {
                            Some(ctx) => probe.run_with(&ctx).await,
                            None => probe.run().await,
                        };
                        (i, outcome)
                    }));
                }
            }
            let deadline = self.deadlines.peek().map(|Reverse((at, _))| *at);
            let sleep = async {
                match deadline {
                    Some(d) => clock::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let flush_at = self.flush_at;
            let flush = async {
                match flush_at {
                    Some(d) => clock::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => {}
                _ = flush => self.flush(),
                Some((i, outcome)) = probes.next(), if !probes.is_empty() => {
                    self.feed_result(i, outcome);
                    self.schedule(i);
                }
                cmd = commands.recv() => match cmd {
                    Some(Command::Observed { backend, server, event }) => self.feed_observed(&backend, &server, event),
                    Some(Command::Reload { plan, spread_percent }) => {
                        probes = FuturesUnordered::new(); // drops (cancels) the old plan's probes
                        self.reload(plan, spread_percent);
                        self.rebuild_deadlines();
                    }
                    Some(Command::Pause { backend, server, paused }) => {
                        if let Ok(mut p) = self.shared.paused.lock() {
                            if paused {
                                p.insert((backend, server));
                            } else {
                                p.remove(&(backend, server));
                            }
                        }
                        self.rebuild_deadlines();
                    }
                    Some(Command::Shutdown) | None => break,
                },
            }
        }
        self.flush();
    }

    /// Sends the batched check results.
    fn flush(&mut self) {
        self.flush_at = None;
        let batch = std::mem::take(&mut self.batch);
        if let Ok(sink) = self.shared.results.lock() {
            if let Some(tx) = sink.as_ref() {
                for r in batch {
                    let _ = tx.send(r);
                }
            }
        }
    }

    /// Queues check `i`'s next deadline (after a result or a change of its timer).
    fn schedule(&mut self, i: usize) {
        if let Some(at) = self.checks.get(i).and_then(|c| c.machine.next_deadline()) {
            self.deadlines.push(Reverse((at, i)));
        }
    }

    /// Every check's deadline again, and the paused set (after a reload or a pause).
    fn rebuild_deadlines(&mut self) {
        self.paused_keys = self.paused_indexes();
        self.deadlines = self
            .checks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.machine.next_deadline().map(|at| Reverse((at, i))))
            .collect();
    }

    fn reload(&mut self, plan: spec::Plan, spread_percent: u32) {
        let old = std::mem::take(&mut self.checks);
        let r = reconcile::reconcile(old, plan, clock::now(), spread_percent, seed_now());
        self.checks = r.checks;
        self.members = r.members;
        // the new data plane starts without NOLB: the next 404 puts the server there again
        self.stopping.clear();
        if let Ok(mut p) = self.shared.paused.lock() {
            p.retain(|k| r.states.contains_key(k));
        }
        if let Ok(mut last) = self.shared.last.lock() {
            last.retain(|k, _| r.states.contains_key(k));
        }
        if let Ok(mut s) = self.shared.states.lock() {
            *s = r.states;
        }
        for ev in r.replay {
            let _ = self.events.send(ev);
        }
    }

    /// Indexes of the checks of servers whose checks are paused.
    fn paused_indexes(&self) -> HashSet<usize> {
        let Ok(p) = self.shared.paused.lock() else {
            return HashSet::new();
        };
        if p.is_empty() {
            return HashSet::new();
        }
        self.checks
            .iter()
            .enumerate()
            .filter(|(_, c)| p.contains(&(c.key.backend.clone(), c.key.server.clone())))
            .map(|(i, _)| i)
            .collect()
    }

    fn feed_result(&mut self, i: usize, outcome: CheckOutcome) {
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
        let soft_stop = match &c.spec.probe {
            crate::probe::Probe::Script(s) if s.disable_on_404 => {
                Some(outcome.status == crate::status::CheckStatus::L7OkConditional)
            }
            _ => None,
        };
        let now_up = c.machine.is_up();
        let log_line = c
            .machine
            .health_report()
            .filter(|_| c.spec.log_health_checks)
            .map(|status| {
                // HAProxy shows a server whose weight an agent set to 0 as DRAIN
                let status = match (status.strip_suffix(" UP"), c.dynamic_weight) {
                    (Some(head), Some(0)) => format!("{head} DRAIN"),
                    _ => status,
                };
                health_check_line(&c.spec, &outcome, &status)
            });
        let key = (c.key.backend.clone(), c.key.server.clone());
        if c.key.rank == 0 && !is_agent {
            if let Ok(mut last) = self.shared.last.lock() {
                last.insert(key.clone(), outcome.clone());
            }
        }
        if let Ok(mut pending) = self.shared.pending.lock() {
            if pending.as_ref().is_some_and(|p| p.len() >= PENDING_LIMIT) {
                // Nobody subscribed: stop buffering.
                *pending = None;
                if let Ok(mut sink) = self.shared.results.lock() {
                    *sink = None;
                }
            }
        }
        // Batched: the listener (stats, logs) wakes once per RESULT_BATCH, not once per check.
        self.batch.push(CheckResult {
            backend: key.0,
            server: key.1,
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

    /// `disable-on-404`: an UP server enters NOLB on a 404 and leaves it on the next normal
    /// pass ("Server B/S is stopping" / "is UP", as HAProxy's srv_update_status).
    fn publish_stopping(&mut self, i: usize, stop: bool, outcome: &CheckOutcome) {
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

    /// What a `send-state` or `disable-on-404` probe needs to know about its server.
    fn probe_ctx(&self, i: usize) -> Option<crate::probe::ProbeCtx> {
        let c = self.checks.get(i)?;
        let crate::probe::Probe::Script(s) = &c.spec.probe else {
            return None;
        };
        if !s.disable_on_404 && s.send_state.is_none() {
            return None;
        }
        let key = (c.key.backend.clone(), c.key.server.clone());
        let up = self
            .shared
            .states
            .lock()
            .ok()
            .and_then(|m| m.get(&key).copied())
            .unwrap_or(true);
        let state_header = s.send_state.as_ref().map(|h| {
            let (health, rise, fall) = c.machine.health_counts().unwrap_or((0, 1, 1));
            let weight_of = |b: &str, srv: &str, configured: u32| {
                self.checks
                    .iter()
                    .find(|x| x.key.backend == b && x.key.server == srv)
                    .and_then(|x| x.dynamic_weight)
                    .unwrap_or(configured)
            };
            let states = self.shared.states.lock().ok();
            let (mut active, mut backup, mut any_active) = (0, 0, false);
            for m in self.members.iter().filter(|m| m.backend == key.0) {
                let k = (m.backend.clone(), m.server.clone());
                let usable = states
                    .as_ref()
                    .and_then(|s| s.get(&k).copied())
                    .unwrap_or(true)
                    && !self.unusable.contains(&k)
                    && !self.stopping.contains(&k);
                if !usable {
                    continue;
                }
                let w = weight_of(&m.backend, &m.server, m.weight);
                if m.backup {
                    backup += w;
                } else {
                    active += w;
                    any_active = true;
                }
            }
            let view = crate::send_state::ServerView {
                checking: true,
                up,
                stopping: self.stopping.contains(&key),
                health,
                rise,
                fall,
                weight: c.dynamic_weight.unwrap_or(c.spec.weight),
                total_weight: if any_active { active } else { backup },
                ..Default::default()
            };
            crate::send_state::value(h, &view)
        });
        Some(crate::probe::ProbeCtx {
            server_up: up,
            state_header,
        })
    }

    /// keepalived `misc_dynamic`: report a new weight asked for by the script.
    fn publish_weight(&mut self, i: usize, weight: u32, outcome: CheckOutcome) {
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

    fn feed_observed(&mut self, backend: &str, server: &str, event: Observed) {
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

    /// A server's state is the AND of its checkers (keepalived may run several per real server).
    fn server_up(&self, backend: &str, server: &str) -> bool {
        self.checks
            .iter()
            .filter(|c| c.key.backend == backend && c.key.server == server)
            .all(|c| c.machine.is_up())
    }

    fn publish(&mut self, i: usize, change: StateChange) {
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

    fn counts(&self, backend: &str) -> BackendCounts {
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

/// The protocol keepalived names a checker's services with (`tcp` for HAProxy checks).
fn keepalived_protocol(rules: &CheckRules) -> fulcrum_config::model::IpProtocol {
    match rules {
        CheckRules::Keepalived { protocol, .. } => *protocol,
        CheckRules::Haproxy { .. } => fulcrum_config::model::IpProtocol::Tcp,
    }
}
