//! The monitor's public face: [`HealthMonitor::start`] plans a config's checks and spawns the
//! [`driver`](crate::driver); the [`HealthHandle`] reloads, pauses, reads states and the last
//! check of each server; the [`Observer`] carries the data plane's passive observations.

use crate::clock;
use crate::driver::{seed_now, Command, Driver, Shared};
use crate::events::{CheckResult, HealthEvent};
use crate::observe::Observed;
use crate::reconcile;
use crate::spec::{self, CheckRules, CheckSpec};
use crate::status::CheckOutcome;
use fulcrum_config::Config;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

/// Checks running for one config.
pub struct HealthMonitor;

/// Controls a running monitor. Dropping it stops the checks too.
pub struct HealthHandle {
    tx: mpsc::UnboundedSender<Command>,
    task: Option<Task>,
    observer: Observer,
    shared: Arc<Shared>,
    warnings: Vec<String>,
}

/// Where the driver runs: a task of the caller's runtime.
enum Task {
    Spawned(tokio::task::JoinHandle<()>),
}

/// backend → servers with `observe`, looked up by &str on the data plane's hot path.
type ObservedSet = HashMap<String, HashSet<String>>;

/// A cheap, cloneable sender of passive-health observations for the data plane's workers
/// (from [`HealthHandle::observer`]); it follows reloads.
#[derive(Clone)]
pub struct Observer {
    tx: mpsc::UnboundedSender<Command>,
    observed: Arc<RwLock<ObservedSet>>,
}

impl Observer {
    /// Whether this server has `observe` (callers may skip building events otherwise).
    pub fn wants(&self, backend: &str, server: &str) -> bool {
        self.observed
            .read()
            .map(|o| {
                o.get(backend)
                    .is_some_and(|servers| servers.contains(server))
            })
            .unwrap_or(false)
    }

    /// Reports what the data plane saw on a real connection; a no-op without `observe`.
    pub fn report(&self, backend: &str, server: &str, event: Observed) {
        if self.wants(backend, server) {
            let _ = self.tx.send(Command::Observed {
                backend: backend.into(),
                server: server.into(),
                event,
            });
        }
    }
}

fn observed_map(checks: &[CheckSpec]) -> ObservedSet {
    let mut observed = ObservedSet::new();
    for c in checks.iter().filter(|c| {
        matches!(
            c.rules,
            CheckRules::Haproxy {
                passive: Some(_),
                ..
            }
        )
    }) {
        observed
            .entry(c.backend.clone())
            .or_default()
            .insert(c.server.clone());
    }
    observed
}

impl HealthMonitor {
    /// Plans the checks of `config` and starts them as a task of the current tokio runtime
    /// (tests drive it on paused time); must be called inside a runtime. Returns the handle
    /// and the stream of changes.
    pub fn start(config: &Config) -> (HealthHandle, mpsc::UnboundedReceiver<HealthEvent>) {
        let (driver, rx, mut handle, events) = Self::prepare(config);
        handle.task = Some(Task::Spawned(tokio::spawn(driver.run(rx))));
        (handle, events)
    }

    /// The driver (not started), its commands, the handle without its task, and the events.
    fn prepare(
        config: &Config,
    ) -> (
        Driver,
        mpsc::UnboundedReceiver<Command>,
        HealthHandle,
        mpsc::UnboundedReceiver<HealthEvent>,
    ) {
        let plan = spec::plan(config);
        for w in &plan.warnings {
            tracing::warn!("{w}");
        }
        let warnings = plan.warnings.clone();
        let observed = observed_map(&plan.checks);
        let r = reconcile::start(plan, clock::now(), config.global.spread_checks, seed_now());
        let shared = Arc::new(Shared::default());
        let (results_tx, results_rx) = mpsc::unbounded_channel();
        if let (Ok(mut sink), Ok(mut pending)) = (shared.results.lock(), shared.pending.lock()) {
            *sink = Some(results_tx);
            *pending = Some(results_rx);
        }
        if let Ok(mut s) = shared.states.lock() {
            *s = r.states;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let driver = Driver::new(r.checks, r.members, shared.clone(), events_tx);
        let handle = HealthHandle {
            tx: tx.clone(),
            task: None,
            observer: Observer {
                tx,
                observed: Arc::new(RwLock::new(observed)),
            },
            shared,
            warnings,
        };
        (driver, rx, handle, events_rx)
    }
}

impl HealthHandle {
    /// Passive health: the data plane reports what it saw on a real connection. Cheap; a
    /// no-op unless the server has `observe`.
    pub fn report_observed(&self, backend: &str, server: &str, event: Observed) {
        self.observer.report(backend, server, event);
    }

    /// Every probe's outcome from now on (replaces an earlier receiver). State changes still
    /// come as [`HealthEvent`]s; this is for showing the last check (stats, metrics) and for
    /// `option log-health-checks` lines ([`CheckResult::log_line`]).
    /// The first call also gets every result since start.
    pub fn check_results(&self) -> CheckResults {
        let rx = match self.shared.pending.lock().ok().and_then(|mut p| p.take()) {
            Some(rx) => rx,
            None => {
                let (tx, rx) = mpsc::unbounded_channel();
                match self.shared.results.lock() {
                    Ok(mut g) => *g = Some(tx),
                    Err(p) => *p.into_inner() = Some(tx),
                }
                rx
            }
        };
        CheckResults {
            rx,
            ready: std::collections::VecDeque::new(),
        }
    }

    /// Where `http-check send-state` reads the sessions on a server and its backend (`scur`,
    /// `qcur`); without one they are shown as 0.
    pub fn set_load_source(&self, load: Option<Arc<dyn crate::send_state::ServerLoad>>) {
        match self.shared.load.lock() {
            Ok(mut g) => *g = load,
            Err(p) => *p.into_inner() = load,
        }
    }

    /// A cloneable reporter for the data plane's worker threads.
    pub fn observer(&self) -> Observer {
        self.observer.clone()
    }

    /// Whether the data plane should call [`HealthHandle::report_observed`] for this server.
    pub fn wants_observations(&self, backend: &str, server: &str) -> bool {
        self.observer.wants(backend, server)
    }

    /// Applies a new, validated config: unchanged checks keep their state and timers, new
    /// servers start as at startup (UP, one failure away from DOWN), removed ones stop.
    /// Servers still DOWN are sent again as `replay` events.
    pub fn reload(&mut self, config: &Config) {
        let plan = spec::plan(config);
        for w in &plan.warnings {
            tracing::warn!("{w}");
        }
        if let Ok(mut o) = self.observer.observed.write() {
            *o = observed_map(&plan.checks);
        }
        self.warnings = plan.warnings.clone();
        let _ = self.tx.send(Command::Reload {
            plan,
            spread_percent: config.global.spread_checks,
        });
    }

    /// Current state of a server known to the monitor (unchecked servers are always UP).
    pub fn is_up(&self, backend: &str, server: &str) -> Option<bool> {
        self.shared
            .states
            .lock()
            .ok()?
            .get(&(backend.to_string(), server.to_string()))
            .copied()
    }

    /// The last check of a server (its first checker's): what HAProxy's `check_status`
    /// ([`CheckStatus::code`](crate::CheckStatus::code)), `check_code`, `check_desc`
    /// ([`CheckStatus::description`](crate::CheckStatus::description)), `check_duration` and
    /// the info text show. None before the first check ends.
    pub fn last_check(&self, backend: &str, server: &str) -> Option<CheckOutcome> {
        self.shared.last.lock().ok()?.get(backend, server)
    }

    /// Every known server as (backend, server, up), sorted: for stats pages and logs.
    pub fn snapshot(&self) -> Vec<(String, String, bool)> {
        let mut v: Vec<(String, String, bool)> = match self.shared.states.lock() {
            Ok(states) => states
                .iter()
                .map(|((b, s), up)| (b.clone(), s.clone(), *up))
                .collect(),
            Err(_) => Vec::new(),
        };
        v.sort();
        v
    }

    /// `disable health B/S` (paused) / `enable health B/S`: no probe starts while paused and
    /// the server keeps its last state, as HAProxy does; resuming checks at once. Returns
    /// false when the server has no check.
    pub fn pause_checks(&self, backend: &str, server: &str, paused: bool) -> bool {
        let key = (backend.to_string(), server.to_string());
        let known = self
            .shared
            .states
            .lock()
            .map(|s| s.contains_key(&key))
            .unwrap_or(false);
        if known {
            if let Ok(mut p) = self.shared.paused.lock() {
                // Recorded here at once too, so a reader right after sees it.
                if paused {
                    p.insert(key);
                } else {
                    p.remove(&key);
                }
            }
            let _ = self.tx.send(Command::Pause {
                backend: backend.to_string(),
                server: server.to_string(),
                paused,
            });
        }
        known
    }

    /// Whether `disable health` paused this server's checks.
    pub fn checks_paused(&self, backend: &str, server: &str) -> bool {
        self.shared
            .paused
            .lock()
            .map(|p| p.contains(&(backend.to_string(), server.to_string())))
            .unwrap_or(false)
    }

    /// What was configured but cannot run (e.g. SSL_GET), in plain words.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Stops every check and waits for the task to end.
    pub async fn shutdown(mut self) {
        let _ = self.tx.send(Command::Shutdown);
        match self.task.take() {
            Some(Task::Spawned(task)) => {
                let _ = task.await;
            }
            None => {}
        }
    }
}

impl Drop for HealthHandle {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Shutdown);
    }
}

/// The outcomes of every probe, as the driver sends them: in batches (one wake-up of the
/// reader per batch), read one by one ([`CheckResults::recv`]) or a batch at a time.
pub struct CheckResults {
    rx: mpsc::UnboundedReceiver<Vec<CheckResult>>,
    ready: std::collections::VecDeque<CheckResult>,
}

impl CheckResults {
    /// The next result (cancel-safe).
    pub async fn recv(&mut self) -> Option<CheckResult> {
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Some(r);
            }
            let batch = self.rx.recv().await?;
            self.ready.extend(batch);
        }
    }

    /// Every result that came together (cancel-safe).
    pub async fn recv_batch(&mut self) -> Option<Vec<CheckResult>> {
        if !self.ready.is_empty() {
            return Some(self.ready.drain(..).collect());
        }
        self.rx.recv().await
    }
}
