//! The async driver of the pure machines: one tokio task starts the probes that are due (all
//! polled concurrently inside this task, so a slow server never delays another), sleeps until the earliest deadline
//! on the one [`clock`](crate::clock), feeds results and passive observations back, and sends
//! a [`HealthEvent`] with HAProxy's (or keepalived's) log line on every change. Reloads go
//! through the pure [`reconcile`](crate::reconcile::reconcile). This file owns the loop and
//! the timers; `driver_feed` what an outcome changes, `driver_publish` the events and their
//! log lines, `driver_ctx` what a probe knows of its server.

use crate::clock;
use crate::events::{CheckResult, HealthEvent};
use crate::observe::Observed;
use crate::reconcile::{self, Running};
use crate::spec::{self, MemberSpec};
use crate::status::CheckOutcome;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// HAProxy's plain connect check to an IP address (no `source`): run by the driver's
/// [`ConnectPoller`](crate::connect_poll::ConnectPoller), not as a probe future.
fn plain_connect(
    probe: &crate::probe::Probe,
) -> Option<(std::net::SocketAddr, std::time::Duration)> {
    match probe {
        crate::probe::Probe::Tcp {
            addr:
                crate::probe::CheckAddr {
                    dest: crate::probe::Dest::Ip(dst),
                    source: None,
                },
            connect_timeout,
            reset: true,
        } => Some((*dst, *connect_timeout)),
        _ => None,
    }
}

/// Nanoseconds from `base` to `at` (0 for an instant before it: due at once).
fn key_of(base: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX)
}

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
    /// One message per batch: the listener wakes once per batch, not once per result.
    pub results: Mutex<Option<mpsc::UnboundedSender<Vec<CheckResult>>>>,
    /// The results since start, until the first [`check_results`] takes them (so the first
    /// checks, which may end before anyone subscribes, are not lost; bounded).
    ///
    /// [`check_results`]: crate::HealthHandle::check_results
    pub pending: Mutex<Option<mpsc::UnboundedReceiver<Vec<CheckResult>>>>,
    /// The last outcome of each server's (first) check: check_status/code/desc.
    pub last: Mutex<crate::last_checks::LastChecks>,
    /// The data plane's session counts, for `send-state` (None: shown as 0).
    pub load: Mutex<Option<Arc<dyn crate::send_state::ServerLoad>>>,
}

/// Checks due close together start together: a check may start up to 1% of its interval
/// early, never more than this (so one wake-up of the driver serves every check due within
/// it: at 1,000 servers and `inter 1s`, ~100 wake-ups a second, not one per check).
pub const CHECK_SLACK_MAX: std::time::Duration = std::time::Duration::from_millis(10);

/// How early (nanoseconds) a check due `interval` after its scheduling may start.
fn slack_of(interval: std::time::Duration) -> u64 {
    u64::try_from((interval / 100).min(CHECK_SLACK_MAX).as_nanos()).unwrap_or(0)
}

/// A deadline heap entry: (due, check index, how early it may start), times in nanoseconds
/// after the driver's base.
type Due = Reverse<(u64, usize, u64)>;

/// How long check results wait to be sent together (state changes are never delayed).
pub const RESULT_BATCH: std::time::Duration = std::time::Duration::from_millis(50);

/// How many batches of results are kept for a subscriber that has not come yet.
pub(crate) const PENDING_LIMIT: usize = 256;

pub(crate) fn seed_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

pub(crate) struct Driver {
    pub checks: Vec<Running>,
    /// When each check is due, earliest first (entries go stale when a check is rescheduled;
    /// they are checked against the machine when popped).
    /// Keys are nanoseconds after `base` ([`Driver::key`]): integers compare and move faster
    /// than instants.
    pub deadlines: BinaryHeap<Due>,
    /// Entries popped in a wake-up but not due within their own slack (pushed back).
    deferred: Vec<Due>,
    pub base: Instant,
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
    pub fn new(
        checks: Vec<Running>,
        members: Vec<MemberSpec>,
        shared: Arc<Shared>,
        events: mpsc::UnboundedSender<HealthEvent>,
    ) -> Driver {
        if let Ok(mut last) = shared.last.lock() {
            last.rebuild(&checks);
        }
        Driver {
            checks,
            deadlines: BinaryHeap::new(),
            deferred: Vec::new(),
            base: clock::now(),
            paused_keys: HashSet::new(),
            batch: Vec::new(),
            flush_at: None,
            unusable: HashSet::new(),
            stopping: HashSet::new(),
            members,
            shared,
            events,
        }
    }

    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        // The probes run inside this task (no task and no cross-thread wakeup per check).
        let mut probes: Probes = FuturesUnordered::new();
        // HAProxy's plain connect checks: one epoll set and one deadline heap for all of them
        let mut connects = crate::connect_poll::ConnectPoller::new();
        let mut done: Vec<(usize, CheckOutcome)> = Vec::new();
        let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(86_400 * 365);
        let wake = tokio::time::sleep_until(far());
        let flush = tokio::time::sleep_until(far());
        tokio::pin!(wake, flush);
        let (mut wake_at, mut flush_armed): (Option<Instant>, Option<Instant>) = (None, None);
        self.rebuild_deadlines();
        loop {
            let now = clock::now();
            if let Some(p) = connects.as_mut() {
                p.expire(now, &mut done);
            }
            // Start what is due, and what falls due within its slack (1% of its interval, at
            // most CHECK_SLACK_MAX): checks due together share one wake-up. O(log N) a check.
            let now_k = self.key(now);
            let horizon = self.key(now + CHECK_SLACK_MAX);
            while let Some(Reverse((k, i, slack))) = self.deadlines.peek().copied() {
                if k > horizon {
                    break;
                }
                self.deadlines.pop();
                if k > now_k.saturating_add(slack) {
                    // not within its own slack yet (a shorter interval): back after the loop
                    self.deferred.push(Reverse((k, i, slack)));
                    continue;
                }
                let base = self.base;
                let Some(c) = self.checks.get_mut(i) else {
                    continue;
                };
                // a stale entry (the check was rescheduled) or a paused server: skip
                let Some(at) = c.machine.next_deadline() else {
                    continue;
                };
                if key_of(base, at) != k || self.paused_keys.contains(&i) {
                    continue;
                }
                if c.machine.poll_start(at.max(now)) {
                    if let (Some(p), Some((dst, timeout))) =
                        (connects.as_mut(), plain_connect(&c.probe))
                    {
                        if let Some(outcome) = p.start(i, dst, timeout, now) {
                            done.push((i, outcome));
                        }
                        continue;
                    }
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
            self.deadlines.extend(self.deferred.drain(..));
            // the batch's connects: those a local server completed (or refused) inside
            // `connect` end here, with one poll(2) for the batch; the others wait in the set
            if let Some(p) = connects.as_mut() {
                p.settle(clock::now(), &mut done);
            }
            for (i, outcome) in done.drain(..) {
                self.feed_result(i, outcome);
                self.schedule(i);
            }
            let deadline = self
                .deadlines
                .peek()
                .map(|Reverse((k, _, _))| self.base + std::time::Duration::from_nanos(*k));
            let deadline = match (deadline, connects.as_ref().and_then(|p| p.next_timeout())) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let polled = connects.as_ref().filter(|p| p.busy());
            let connected = async {
                match polled {
                    Some(p) => p.ready().await,
                    None => std::future::pending().await,
                }
            };
            // the two timers are moved, not made anew, when their deadlines change (one timer
            // entry each for the driver's life instead of two per wake-up)
            if deadline != wake_at {
                wake.as_mut().reset(deadline.map_or_else(far, Into::into));
                wake_at = deadline;
            }
            if self.flush_at != flush_armed {
                flush
                    .as_mut()
                    .reset(self.flush_at.map_or_else(far, Into::into));
                flush_armed = self.flush_at;
            }
            tokio::select! {
                _ = &mut wake, if deadline.is_some() => {}
                _ = &mut flush, if flush_armed.is_some() => self.flush(),
                _ = connected => {
                    if let Some(p) = connects.as_mut() {
                        p.drain(clock::now(), &mut done);
                    }
                }
                Some((i, outcome)) = probes.next(), if !probes.is_empty() => {
                    self.feed_result(i, outcome);
                    self.schedule(i);
                }
                cmd = commands.recv() => match cmd {
                    Some(Command::Observed { backend, server, event }) => self.feed_observed(&backend, &server, event),
                    Some(Command::Reload { plan, spread_percent }) => {
                        probes = FuturesUnordered::new(); // drops (cancels) the old plan's probes
                        if let Some(p) = connects.as_mut() {
                            p.clear();
                        }
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

    /// Sends the batched check results, in one message.
    fn flush(&mut self) {
        self.flush_at = None;
        if self.batch.is_empty() {
            return;
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
        let batch = std::mem::take(&mut self.batch);
        if let Ok(sink) = self.shared.results.lock() {
            if let Some(tx) = sink.as_ref() {
                let _ = tx.send(batch);
            }
        }
    }

    /// Queues check `i`'s next deadline (after a result or a change of its timer).
    pub(crate) fn schedule(&mut self, i: usize) {
        if let Some(at) = self.checks.get(i).and_then(|c| c.machine.next_deadline()) {
            let slack = slack_of(at.saturating_duration_since(clock::now()));
            self.deadlines.push(Reverse((self.key(at), i, slack)));
        }
    }

    /// Every check's deadline again, and the paused set (after a reload or a pause).
    fn rebuild_deadlines(&mut self) {
        self.paused_keys = self.paused_indexes();
        let base = self.base;
        let now = clock::now();
        self.deadlines = self
            .checks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                c.machine.next_deadline().map(|at| {
                    let slack = slack_of(at.saturating_duration_since(now));
                    Reverse((key_of(base, at), i, slack))
                })
            })
            .collect();
    }

    /// A deadline's key in the heap.
    fn key(&self, at: Instant) -> u64 {
        key_of(self.base, at)
    }

    fn reload(&mut self, plan: spec::Plan, spread_percent: u32) {
        let old = std::mem::take(&mut self.checks);
        let r = reconcile::reconcile(old, plan, clock::now(), spread_percent, seed_now());
        self.checks = r.checks;
        self.members = r.members;
        // NOLB survives a reload, as in HAProxy (the server keeps its state): kept for the
        // servers that are still UP under a `disable-on-404` check, and replayed below so the
        // freshly built data plane takes them out of balancing again.
        let checks = &self.checks;
        self.stopping.retain(|k| {
            r.states.get(k) == Some(&true)
                && checks.iter().any(|c| {
                    c.key.backend == k.0
                        && c.key.server == k.1
                        && matches!(&c.spec.probe, crate::probe::Probe::Script(_))
                })
        });
        if let Ok(mut p) = self.shared.paused.lock() {
            p.retain(|k| r.states.contains_key(k));
        }
        if let Ok(mut last) = self.shared.last.lock() {
            last.rebuild(&self.checks);
        }
        if let Ok(mut s) = self.shared.states.lock() {
            *s = r.states;
        }
        for ev in r.replay {
            let _ = self.events.send(ev);
        }
        let mut nolb: Vec<&ServerKey> = self.stopping.iter().collect();
        nolb.sort();
        for (backend, server) in nolb {
            let reason = self
                .checks
                .iter()
                .find(|c| &c.key.backend == backend && &c.key.server == server)
                .and_then(|c| c.machine.last_outcome().cloned())
                .unwrap_or_else(|| {
                    CheckOutcome::new(
                        crate::status::CheckStatus::L7OkConditional,
                        Default::default(),
                    )
                    .with_code(404)
                });
            let _ = self.events.send(HealthEvent {
                backend: backend.clone(),
                server: server.clone(),
                up: true,
                reason,
                log_line: String::new(),
                no_server_line: None,
                inhibit_on_failure: false,
                replay: true,
                weight: None,
                stopping: true,
            });
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A check may start 1% of its interval early, never more than CHECK_SLACK_MAX.
    #[test]
    fn slack_is_one_percent_of_the_interval_at_most_ten_ms() {
        let ms = |n| Duration::from_millis(n).as_nanos() as u64;
        assert_eq!(slack_of(Duration::from_millis(100)), ms(1));
        assert_eq!(slack_of(Duration::from_millis(500)), ms(5));
        assert_eq!(slack_of(Duration::from_secs(1)), ms(10));
        assert_eq!(slack_of(Duration::from_secs(30)), ms(10));
        assert_eq!(slack_of(Duration::ZERO), 0);
    }
}
