//! From a plan to running checks, pure: the first-check spread at start, and on reload the
//! reconcile of the old checks with the new plan — `(old checks, new plan, now)` →
//! `(checks, replayed events)`.
//!
//! A check is known by its [`CheckKey`] (backend, server, and its rank among that server's
//! checkers); it keeps its machine (state and timers) across a reload only when its definition
//! is equal (`CheckSpec: Eq`), so an edited `inter` or URI starts afresh. Servers still DOWN
//! after the reload are replayed so a freshly built data plane can apply them.
//!
//! First check times are spread as HAProxy's start_checks does: with N checks and `mininter`
//! the smallest interval of at least 1 s, check i starts at `mininter * i / N`; keepalived
//! checkers start after a random warmup up to `delay_loop` (its default `warmup`).

use crate::events::HealthEvent;
use crate::keepalived::KeepalivedCheck;
use crate::machine::CheckMachine;
use crate::spec::{CheckRules, CheckSpec, MemberSpec, Plan};
use crate::state::{HaproxyCheck, Jitter};
use crate::status::{CheckOutcome, CheckStatus};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Which check this is across reloads: backend, server, and rank among its checkers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckKey {
    pub backend: String,
    pub server: String,
    pub rank: usize,
}

/// One check with its machine.
#[derive(Debug)]
pub struct Running {
    pub key: CheckKey,
    pub spec: CheckSpec,
    pub machine: Box<dyn CheckMachine>,
    /// keepalived `misc_dynamic`: the weight last asked for by the script.
    pub dynamic_weight: Option<u32>,
    /// `spec.probe`, shared with the probes in flight (no deep copy per check).
    pub probe: std::sync::Arc<crate::probe::Probe>,
    /// Backend and server names, shared with every [`CheckResult`] (no copy per check).
    ///
    /// [`CheckResult`]: crate::events::CheckResult
    pub names: (std::sync::Arc<str>, std::sync::Arc<str>),
}

/// The outcome of a reconcile.
#[derive(Debug)]
pub struct Reconciled {
    pub checks: Vec<Running>,
    pub members: Vec<MemberSpec>,
    /// (backend, server) → UP, for every member (unchecked ones are UP).
    pub states: HashMap<(String, String), bool>,
    /// Servers still DOWN, to apply again to the new data plane (not logged again).
    pub replay: Vec<HealthEvent>,
}

/// The checks of a plan at start: everything UP, first checks spread.
pub fn start(plan: Plan, now: Instant, spread_percent: u32, seed: u64) -> Reconciled {
    reconcile(Vec::new(), plan, now, spread_percent, seed)
}

/// The old checks against a new plan at `now`: equal definitions keep their machines (a probe
/// in flight is abandoned and redone at once), new ones start as at startup, removed ones end.
pub fn reconcile(
    old: Vec<Running>,
    plan: Plan,
    now: Instant,
    spread_percent: u32,
    seed: u64,
) -> Reconciled {
    let mut old: HashMap<CheckKey, Running> = old.into_iter().map(|r| (r.key.clone(), r)).collect();
    let fresh = schedule(plan.checks, now, spread_percent, seed);
    let checks: Vec<Running> = fresh
        .into_iter()
        .map(|mut r| {
            if let Some(mut kept) = old.remove(&r.key).filter(|o| o.spec == r.spec) {
                kept.machine.cancel_probe(now);
                r.machine = kept.machine;
                r.dynamic_weight = kept.dynamic_weight;
            }
            r
        })
        .collect();
    let server_up = |b: &str, s: &str| {
        checks
            .iter()
            .filter(|c| c.key.backend == b && c.key.server == s)
            .all(|c| c.machine.is_up())
    };
    let states: HashMap<(String, String), bool> = plan
        .members
        .iter()
        .map(|m| {
            let up = !m.checked || server_up(&m.backend, &m.server);
            ((m.backend.clone(), m.server.clone()), up)
        })
        .collect();
    let mut down: Vec<&(String, String)> = states
        .iter()
        .filter(|(_, up)| !**up)
        .map(|(k, _)| k)
        .collect();
    down.sort();
    let replay =
        down.into_iter()
            .filter_map(|(backend, server)| {
                let c = checks
                    .iter()
                    .find(|c| &c.key.backend == backend && &c.key.server == server)?;
                let reason = c.machine.last_outcome().cloned().unwrap_or_else(|| {
                    CheckOutcome::new(CheckStatus::L4Connection, Duration::ZERO)
                });
                Some(HealthEvent {
                    backend: backend.clone(),
                    server: server.clone(),
                    up: false,
                    reason,
                    log_line: String::new(),
                    no_server_line: None,
                    inhibit_on_failure: c.spec.inhibit_on_failure,
                    replay: true,
                    weight: None,
                    stopping: false,
                })
            })
            .collect();
    Reconciled {
        checks,
        members: plan.members,
        states,
        replay,
    }
}

/// HAProxy's first-check spread (and keepalived's warmup), then the machines.
pub fn schedule(
    specs: Vec<CheckSpec>,
    now: Instant,
    spread_percent: u32,
    seed: u64,
) -> Vec<Running> {
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
    let mut ranks: HashMap<(String, String), usize> = HashMap::new();
    specs
        .into_iter()
        .enumerate()
        .map(|(i, spec)| {
            let machine: Box<dyn CheckMachine> = match &spec.rules {
                CheckRules::Haproxy { timing, passive } => {
                    let first = now + mininter * pos / haproxy_count.max(1);
                    pos += 1;
                    let m = HaproxyCheck::new(*timing, *passive, first)
                        .with_spread(spread_percent, seed ^ (i as u64 + 1));
                    if matches!(spec.probe, crate::probe::Probe::Agent(_)) {
                        Box::new(crate::machine::AgentMachine(m))
                    } else {
                        Box::new(m)
                    }
                }
                CheckRules::Keepalived { timing, .. } => {
                    let warmup = timing.delay_loop.mul_f64(jitter.next_unit());
                    Box::new(KeepalivedCheck::new(*timing, now + warmup))
                }
            };
            let rank = ranks
                .entry((spec.backend.clone(), spec.server.clone()))
                .or_default();
            let key = CheckKey {
                backend: spec.backend.clone(),
                server: spec.server.clone(),
                rank: *rank,
            };
            *rank += 1;
            Running {
                names: (spec.backend.as_str().into(), spec.server.as_str().into()),
                key,
                probe: std::sync::Arc::new(spec.probe.clone()),
                spec,
                machine,
                dynamic_weight: None,
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
