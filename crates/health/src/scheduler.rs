//! Runs every check of a config in one tokio task and reports each UP/DOWN change.
//!
//! The task is the async driver of the pure machines: it starts the probes that are due
//! (each in its own task, so a slow server never delays another), sleeps until the earliest
//! deadline, feeds results and passive observations back, and sends a [`HealthEvent`] with
//! HAProxy's (or keepalived's) log line on every change.
//!
//! First check times are spread as HAProxy's start_checks does: with N checks and `mininter`
//! the smallest interval of at least 1 s, check i starts at `mininter * i / N`; keepalived
//! checkers start after a random warmup up to `delay_loop` (its default `warmup`).
//! `spread-checks` adds ±percent jitter to every later interval.

use crate::keepalived::KeepalivedCheck;
use crate::log::{no_server_line, server_state_line, BackendCounts};
use crate::observe::Observed;
use crate::spec::{self, CheckRules, CheckSpec, MemberSpec};
use crate::state::{HaproxyCheck, Jitter, StateChange};
use crate::status::CheckOutcome;
use fulcrum_config::Config;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// A server went UP or DOWN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent {
    pub backend: String,
    pub server: String,
    pub up: bool,
    /// The check (or analysis) that caused the change.
    pub reason: CheckOutcome,
    /// The line HAProxy (or keepalived) would log.
    pub log_line: String,
    /// Set when the backend has no usable server left: HAProxy's "has no server available!".
    pub no_server_line: Option<String>,
    /// keepalived `inhibit_on_failure`: set weight 0 instead of removing the real server.
    pub inhibit_on_failure: bool,
    /// Not a change: after a reload, the state of a server that is still DOWN is sent again so
    /// a freshly built data plane can apply it (log_line is empty then).
    pub replay: bool,
    /// keepalived `misc_dynamic`: the script asked for this weight (`up` is unchanged).
    pub weight: Option<u32>,
}

enum Command {
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

/// Servers whose checks are paused (`disable health`), kept across reloads.
type PausedSet = Arc<Mutex<HashSet<(String, String)>>>;

/// Where every check's outcome goes when someone listens (stats pages show the last one).
type ResultSink = Arc<Mutex<Option<mpsc::UnboundedSender<CheckResult>>>>;

/// The outcome of one probe of one server (every probe, not only state changes).
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub backend: String,
    pub server: String,
    pub outcome: CheckOutcome,
    /// The server was UP when this probe's result came (HAProxy's `chkfail` counts failed
    /// checks of UP servers only).
    pub was_up: bool,
}

/// Checks running for one config.
pub struct HealthMonitor;

/// Controls a running monitor. Dropping it stops the checks too.
pub struct HealthHandle {
    tx: mpsc::UnboundedSender<Command>,
    task: Option<tokio::task::JoinHandle<()>>,
    observer: Observer,
    states: Arc<Mutex<HashMap<(String, String), bool>>>,
    paused: PausedSet,
    results: ResultSink,
    warnings: Vec<String>,
}

/// backend → servers with `observe`, looked up by &str on the data plane's hot path.
type ObservedSet = HashMap<String, HashSet<String>>;

/// A cheap, cloneable sender of passive-health observations for the data plane's workers
/// (from [`HealthHandle::observer`]); it follows reloads.
#[derive(Clone)]
pub struct Observer {
    tx: mpsc::UnboundedSender<Command>,
    observed: Arc<std::sync::RwLock<ObservedSet>>,
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

enum Machine {
    Haproxy(HaproxyCheck),
    Keepalived(KeepalivedCheck),
}

impl Machine {
    fn next_deadline(&self) -> Option<Instant> {
        match self {
            Machine::Haproxy(m) => m.next_deadline(),
            Machine::Keepalived(m) => m.next_deadline(),
        }
    }
    fn poll_start(&mut self, now: Instant) -> bool {
        match self {
            Machine::Haproxy(m) => m.poll_start(now),
            Machine::Keepalived(m) => m.poll_start(now),
        }
    }
    fn on_result(&mut self, now: Instant, o: CheckOutcome) -> Option<StateChange> {
        match self {
            Machine::Haproxy(m) => m.on_result(now, o),
            Machine::Keepalived(m) => m.on_result(now, o),
        }
    }
    fn is_up(&self) -> bool {
        match self {
            Machine::Haproxy(m) => m.is_up(),
            Machine::Keepalived(m) => m.is_up(),
        }
    }
    fn cancel_probe(&mut self, now: Instant) {
        match self {
            Machine::Haproxy(m) => m.cancel_probe(now),
            Machine::Keepalived(m) => m.cancel_probe(now),
        }
    }
    fn last_outcome(&self) -> Option<&CheckOutcome> {
        match self {
            Machine::Haproxy(m) => m.last_outcome(),
            Machine::Keepalived(m) => m.last_outcome(),
        }
    }
}

/// Two specs with the same fingerprint are the same check: a reload keeps its state.
fn fingerprint(spec: &CheckSpec) -> String {
    format!("{spec:?}")
}

fn seed_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

fn observed_map(checks: &[Running]) -> HashMap<String, HashSet<String>> {
    let mut observed: HashMap<String, HashSet<String>> = HashMap::new();
    for c in checks.iter().filter(|c| {
        matches!(
            c.spec.rules,
            CheckRules::Haproxy {
                passive: Some(_),
                ..
            }
        )
    }) {
        observed
            .entry(c.spec.backend.clone())
            .or_default()
            .insert(c.spec.server.clone());
    }
    observed
}

struct Running {
    spec: CheckSpec,
    machine: Machine,
    /// keepalived `misc_dynamic`: the weight last asked for by the script.
    dynamic_weight: Option<u32>,
}

impl HealthMonitor {
    /// Plans the checks of `config` and starts them; must be called inside a tokio runtime.
    /// Returns the handle and the stream of changes.
    pub fn start(config: &Config) -> (HealthHandle, mpsc::UnboundedReceiver<HealthEvent>) {
        let plan = spec::plan(config);
        for w in &plan.warnings {
            tracing::warn!("{w}");
        }
        let now = Instant::now();
        let checks = schedule(plan.checks, now, config.global.spread_checks, seed_now());
        let observed = observed_map(&checks);
        let states: HashMap<(String, String), bool> = plan
            .members
            .iter()
            .map(|m| ((m.backend.clone(), m.server.clone()), true))
            .collect();
        let states = Arc::new(Mutex::new(states));
        let (tx, rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let paused: PausedSet = Arc::default();
        let results: ResultSink = Arc::default();
        let driver = Driver {
            checks,
            members: plan.members,
            states: states.clone(),
            paused: paused.clone(),
            events: events_tx,
            results: results.clone(),
        };
        let task = tokio::spawn(driver.run(rx));
        let handle = HealthHandle {
            tx: tx.clone(),
            task: Some(task),
            observer: Observer {
                tx,
                observed: Arc::new(std::sync::RwLock::new(observed)),
            },
            states,
            paused,
            results,
            warnings: plan.warnings,
        };
        (handle, events_rx)
    }
}

/// HAProxy's first-check spread (and keepalived's warmup), then the machines.
fn schedule(specs: Vec<CheckSpec>, now: Instant, spread_percent: u32, seed: u64) -> Vec<Running> {
    const SRV_CHK_INTER_THRES: Duration = Duration::from_secs(1);
    let haproxy_count = specs
        .iter()
        .filter(|s| matches!(s.rules, CheckRules::Haproxy { .. }))
        .count() as u32;
    let mininter = specs
        .iter()
        .filter_map(|s| match &s.rules {
            // at start a server is "yet unchecked": fastinter if set
            CheckRules::Haproxy { timing, .. } => Some(timing.fastinter.unwrap_or(timing.inter)),
            CheckRules::Keepalived { .. } => None,
        })
        .filter(|i| *i >= SRV_CHK_INTER_THRES)
        .min()
        .unwrap_or(Duration::ZERO);
    let mut jitter = Jitter::new(seed);
    let mut pos = 0u32;
    specs
        .into_iter()
        .enumerate()
        .map(|(i, spec)| {
            let machine = match &spec.rules {
                CheckRules::Haproxy { timing, passive } => {
                    let first = now + mininter * pos / haproxy_count.max(1);
                    pos += 1;
                    Machine::Haproxy(
                        HaproxyCheck::new(*timing, *passive, first)
                            .with_spread(spread_percent, seed ^ (i as u64 + 1)),
                    )
                }
                CheckRules::Keepalived { timing } => {
                    let warmup = timing.delay_loop.mul_f64(jitter.next_unit());
                    Machine::Keepalived(KeepalivedCheck::new(*timing, now + warmup))
                }
            };
            Running {
                spec,
                machine,
                dynamic_weight: None,
            }
        })
        .collect()
}

struct Driver {
    checks: Vec<Running>,
    members: Vec<MemberSpec>,
    states: Arc<Mutex<HashMap<(String, String), bool>>>,
    /// `disable health`: these servers' checks start no probe and their results are dropped.
    paused: PausedSet,
    events: mpsc::UnboundedSender<HealthEvent>,
    results: ResultSink,
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut probes: JoinSet<(usize, CheckOutcome)> = JoinSet::new();
        loop {
            let now = Instant::now();
            let paused = self.paused_indexes();
            for (i, c) in self.checks.iter_mut().enumerate() {
                if paused.contains(&i) {
                    continue;
                }
                if c.machine.poll_start(now) {
                    let probe = c.spec.probe.clone();
                    probes.spawn(async move { (i, probe.run().await) });
                }
            }
            let deadline = self
                .checks
                .iter()
                .enumerate()
                .filter(|(i, _)| !paused.contains(i))
                .filter_map(|(_, c)| c.machine.next_deadline())
                .min();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => {}
                Some(joined) = probes.join_next(), if !probes.is_empty() => {
                    if let Ok((i, outcome)) = joined {
                        self.feed_result(i, outcome);
                    }
                }
                cmd = commands.recv() => match cmd {
                    Some(Command::Observed { backend, server, event }) => self.feed_observed(&backend, &server, event),
                    Some(Command::Reload { plan, spread_percent }) => {
                        probes = JoinSet::new(); // drops (aborts) the probes of the old plan
                        self.reload(plan, spread_percent);
                    }
                    Some(Command::Pause { backend, server, paused }) => {
                        if let Ok(mut p) = self.paused.lock() {
                            if paused {
                                p.insert((backend, server));
                            } else {
                                p.remove(&(backend, server));
                            }
                        }
                    }
                    Some(Command::Shutdown) | None => break,
                },
            }
        }
        probes.abort_all();
    }

    /// New plan: checks with the same definition keep their state and schedule; new ones
    /// start as at startup; servers still DOWN are replayed for the new data plane.
    fn reload(&mut self, plan: spec::Plan, spread_percent: u32) {
        let now = Instant::now();
        let mut old: HashMap<String, Machine> = self
            .checks
            .drain(..)
            .map(|c| (fingerprint(&c.spec), c.machine))
            .collect();
        let fresh = schedule(plan.checks, now, spread_percent, seed_now());
        self.checks = fresh
            .into_iter()
            .map(|mut r| {
                if let Some(mut m) = old.remove(&fingerprint(&r.spec)) {
                    m.cancel_probe(now);
                    r.machine = m;
                }
                r
            })
            .collect();
        self.members = plan.members;
        if let Ok(mut p) = self.paused.lock() {
            let members = &self.members;
            p.retain(|(b, s)| members.iter().any(|m| &m.backend == b && &m.server == s));
        }
        let mut states = HashMap::new();
        for m in &self.members {
            let up = !m.checked || self.server_up(&m.backend, &m.server);
            states.insert((m.backend.clone(), m.server.clone()), up);
        }
        let down: Vec<(String, String)> = states
            .iter()
            .filter(|(_, up)| !**up)
            .map(|(k, _)| k.clone())
            .collect();
        if let Ok(mut s) = self.states.lock() {
            *s = states;
        }
        for (backend, server) in down {
            let Some(c) = self
                .checks
                .iter()
                .find(|c| c.spec.backend == backend && c.spec.server == server)
            else {
                continue;
            };
            let reason = c.machine.last_outcome().cloned().unwrap_or_else(|| {
                CheckOutcome::new(
                    crate::status::CheckStatus::L4Connection,
                    std::time::Duration::ZERO,
                )
            });
            let inhibit_on_failure = c.spec.inhibit_on_failure;
            let _ = self.events.send(HealthEvent {
                backend,
                server,
                up: false,
                reason,
                log_line: String::new(),
                no_server_line: None,
                inhibit_on_failure,
                replay: true,
                weight: None,
            });
        }
    }

    /// Indexes of the checks of servers whose checks are paused.
    fn paused_indexes(&self) -> HashSet<usize> {
        let Ok(p) = self.paused.lock() else {
            return HashSet::new();
        };
        if p.is_empty() {
            return HashSet::new();
        }
        self.checks
            .iter()
            .enumerate()
            .filter(|(_, c)| p.contains(&(c.spec.backend.clone(), c.spec.server.clone())))
            .map(|(i, _)| i)
            .collect()
    }

    fn feed_result(&mut self, i: usize, outcome: CheckOutcome) {
        if self.paused_indexes().contains(&i) {
            // Paused while the probe ran: its result is dropped, the state stays as it was.
            if let Some(c) = self.checks.get_mut(i) {
                c.machine.cancel_probe(Instant::now());
            }
            return;
        }
        let Some(c) = self.checks.get_mut(i) else {
            return;
        };
        let dynamic = matches!(&c.spec.probe, crate::probe::Probe::Misc(m) if m.dynamic);
        let asked = if dynamic {
            crate::probe::misc::dynamic_weight(&outcome)
        } else {
            None
        };
        if let Ok(sink) = self.results.lock() {
            if let Some(tx) = sink.as_ref() {
                let _ = tx.send(CheckResult {
                    backend: c.spec.backend.clone(),
                    server: c.spec.server.clone(),
                    outcome: outcome.clone(),
                    was_up: c.machine.is_up(),
                });
            }
        }
        let change = c.machine.on_result(Instant::now(), outcome.clone());
        if let Some(change) = change {
            self.publish(i, change);
        }
        if let Some(w) = asked {
            self.publish_weight(i, w, outcome);
        }
    }

    /// keepalived `misc_dynamic`: report a new weight asked for by the script.
    fn publish_weight(&mut self, i: usize, weight: u32, outcome: CheckOutcome) {
        let c = &mut self.checks[i];
        let from = c.dynamic_weight.unwrap_or(c.spec.weight);
        if from == weight {
            c.dynamic_weight = Some(weight);
            return;
        }
        c.dynamic_weight = Some(weight);
        let (backend, server) = (c.spec.backend.clone(), c.spec.server.clone());
        let log_line = format!(
            "Changing weight from {from} to {weight} on service {} of VS {}, {outcome}",
            keepalived_fmt(&server),
            keepalived_fmt(&backend)
        );
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
        });
    }

    fn feed_observed(&mut self, backend: &str, server: &str, event: Observed) {
        let now = Instant::now();
        let found = self
            .checks
            .iter()
            .position(|c| c.spec.backend == backend && c.spec.server == server);
        let Some(i) = found else { return };
        let change = match &mut self.checks[i].machine {
            Machine::Haproxy(m) => m.on_observed(now, event),
            Machine::Keepalived(_) => None,
        };
        if let Some(change) = change {
            self.publish(i, change);
        }
    }

    /// A server's state is the AND of its checkers (keepalived may run several per real server).
    fn server_up(&self, backend: &str, server: &str) -> bool {
        self.checks
            .iter()
            .filter(|c| c.spec.backend == backend && c.spec.server == server)
            .all(|c| c.machine.is_up())
    }

    fn publish(&mut self, i: usize, change: StateChange) {
        let (backend, server, inhibit, keepalived) = {
            let s = &self.checks[i].spec;
            (
                s.backend.clone(),
                s.server.clone(),
                s.inhibit_on_failure,
                matches!(s.rules, CheckRules::Keepalived { .. }),
            )
        };
        let up = self.server_up(&backend, &server);
        let key = (backend.clone(), server.clone());
        {
            let Ok(mut states) = self.states.lock() else {
                return;
            };
            if states.get(&key) == Some(&up) {
                return; // another checker of the same real server still decides
            }
            states.insert(key, up);
        }
        let counts = self.counts(&backend);
        let log_line = if keepalived {
            keepalived_line(&backend, &server, up, inhibit, &change.outcome)
        } else {
            server_state_line(
                &backend,
                &server,
                &StateChange {
                    up,
                    outcome: change.outcome.clone(),
                },
                counts,
            )
        };
        let none_left = !up && counts.active == 0 && counts.backup == 0;
        let event = HealthEvent {
            backend: backend.clone(),
            server,
            up,
            reason: change.outcome,
            log_line,
            no_server_line: none_left.then(|| no_server_line(&backend)),
            inhibit_on_failure: inhibit,
            replay: false,
            weight: None,
        };
        // Not logged here: whoever receives the event logs it once it has acted on it (the
        // binary's health bridge logs after the proxy changed, so the log never runs ahead).
        let _ = self.events.send(event);
    }

    fn counts(&self, backend: &str) -> BackendCounts {
        let Ok(states) = self.states.lock() else {
            return BackendCounts::default();
        };
        let mut counts = BackendCounts::default();
        for m in self.members.iter().filter(|m| m.backend == backend) {
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

/// keepalived's wording when a checker changes a real server.
fn keepalived_line(vs: &str, rs: &str, up: bool, inhibit: bool, outcome: &CheckOutcome) -> String {
    let (vs, rs) = (keepalived_fmt(vs), keepalived_fmt(rs));
    let verb = match (up, inhibit) {
        (true, false) => format!("Adding service {rs} to VS {vs}"),
        (true, true) => format!("Enabling service {rs} to VS {vs}"),
        (false, false) => format!("Removing service {rs} from VS {vs}"),
        (false, true) => format!("Disabling service {rs} from VS {vs}"),
    };
    format!("{verb}, {outcome}")
}

/// keepalived's way of naming a service in logs: `[10.0.0.1]:tcp:80` (`FWM 1` for fwmarks).
fn keepalived_fmt(name: &str) -> String {
    match name.parse::<std::net::SocketAddr>() {
        Ok(a) => format!("[{}]:tcp:{}", a.ip(), a.port()),
        Err(_) => name
            .strip_prefix("fwmark ")
            .map_or_else(|| name.to_string(), |m| format!("FWM {m}")),
    }
}

impl HealthHandle {
    /// Passive health: the data plane reports what it saw on a real connection. Cheap; a
    /// no-op unless the server has `observe`.
    pub fn report_observed(&self, backend: &str, server: &str, event: Observed) {
        self.observer.report(backend, server, event);
    }

    /// A cloneable reporter for the data plane's worker threads.
    /// Every probe's outcome from now on (replaces an earlier receiver). State changes still
    /// come as [`HealthEvent`]s; this is for showing the last check (stats, metrics).
    pub fn check_results(&self) -> mpsc::UnboundedReceiver<CheckResult> {
        let (tx, rx) = mpsc::unbounded_channel();
        match self.results.lock() {
            Ok(mut g) => *g = Some(tx),
            Err(p) => *p.into_inner() = Some(tx),
        }
        rx
    }

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
        let mut observed: HashMap<String, HashSet<String>> = HashMap::new();
        for c in plan.checks.iter().filter(|c| {
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
        if let Ok(mut o) = self.observer.observed.write() {
            *o = observed;
        }
        self.warnings = plan.warnings.clone();
        let _ = self.tx.send(Command::Reload {
            plan,
            spread_percent: config.global.spread_checks,
        });
    }

    /// Current state of a server known to the monitor (unchecked servers are always UP).
    pub fn is_up(&self, backend: &str, server: &str) -> Option<bool> {
        self.states
            .lock()
            .ok()?
            .get(&(backend.to_string(), server.to_string()))
            .copied()
    }

    /// Every known server as (backend, server, up), sorted: for stats pages and logs.
    pub fn snapshot(&self) -> Vec<(String, String, bool)> {
        let mut v: Vec<(String, String, bool)> = match self.states.lock() {
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
        let known = self
            .states
            .lock()
            .map(|s| s.contains_key(&(backend.to_string(), server.to_string())))
            .unwrap_or(false);
        if known {
            if let Ok(mut p) = self.paused.lock() {
                // Recorded here at once too, so a reader right after sees it.
                if paused {
                    p.insert((backend.to_string(), server.to_string()));
                } else {
                    p.remove(&(backend.to_string(), server.to_string()));
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
        self.paused
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
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for HealthHandle {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Shutdown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Probe;
    use crate::state::CheckTiming;

    fn spec(inter_ms: u64) -> CheckSpec {
        CheckSpec {
            backend: "be".into(),
            server: format!("s{inter_ms}"),
            backup: false,
            probe: Probe::Tcp {
                addr: "127.0.0.1:1"
                    .parse::<std::net::SocketAddr>()
                    .expect("addr")
                    .into(),
                connect_timeout: Duration::from_secs(1),
            },
            rules: CheckRules::Haproxy {
                timing: CheckTiming {
                    inter: Duration::from_millis(inter_ms),
                    ..CheckTiming::default()
                },
                passive: None,
            },
            inhibit_on_failure: false,
            weight: 1,
        }
    }

    #[test]
    fn first_checks_are_spread_over_the_smallest_interval_as_haproxy() {
        let now = Instant::now();
        let checks = schedule(
            vec![spec(2000), spec(4000), spec(2000), spec(3000)],
            now,
            0,
            7,
        );
        let offsets: Vec<Duration> = checks
            .iter()
            .map(|c| c.machine.next_deadline().expect("scheduled") - now)
            .collect();
        // mininter = 2s, 4 checks: 0, 0.5s, 1s, 1.5s
        assert_eq!(
            offsets,
            [0, 500, 1000, 1500].map(Duration::from_millis).to_vec()
        );
    }

    #[test]
    fn intervals_below_one_second_do_not_dictate_the_spread() {
        let now = Instant::now();
        let checks = schedule(vec![spec(100), spec(100)], now, 0, 7);
        assert!(checks
            .iter()
            .all(|c| c.machine.next_deadline() == Some(now)));
    }
}
