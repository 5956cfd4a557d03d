//! A server's health as the data plane keeps it: up/down/stopping, check and agent results,
//! rise/fall, transitions and downtime (for stats), observe mode, connection room
//! (`maxconn`, the agent's `maxconn:N`). Written by the health engine, read by selection.

use super::*;
use std::sync::atomic::Ordering;

impl ServerRt {
    /// Seconds since the last state change (`lastchg`).
    pub fn last_change_secs(&self) -> u64 {
        crate::clock::unix_now().saturating_sub(self.last_change.load(Ordering::Relaxed))
    }

    /// Total seconds stopped, including the current stop (`downtime`).
    pub fn downtime_secs(&self) -> u64 {
        let since = self.down_since.load(Ordering::Relaxed);
        let current = if since > 0 {
            crate::clock::unix_now().saturating_sub(since)
        } else {
            0
        };
        self.downtime.load(Ordering::Relaxed) + current
    }

    /// UP → DOWN transitions (`chkdown`).
    pub fn down_transitions(&self) -> u64 {
        self.chkdown.load(Ordering::Relaxed)
    }

    /// A check failed while the server was UP (HAProxy's `chkfail`).
    pub fn check_failed(&self) {
        self.chkfail.fetch_add(1, Ordering::Relaxed);
    }
    /// Checks failed while UP (`chkfail`).
    pub fn failed_checks(&self) -> u64 {
        self.chkfail.load(Ordering::Relaxed)
    }

    /// Whether the server line has `check`.
    pub fn checked(&self) -> bool {
        self.checked.load(Ordering::Relaxed)
    }
    pub fn set_checked(&self, on: bool, rise: u32, fall: u32) {
        self.checked.store(on, Ordering::Relaxed);
        self.rise_fall
            .store((u64::from(rise) << 32) | u64::from(fall), Ordering::Relaxed);
    }
    /// `rise` and `fall` of the server line.
    pub fn rise_fall(&self) -> (u32, u32) {
        let v = self.rise_fall.load(Ordering::Relaxed);
        ((v >> 32) as u32, v as u32)
    }

    /// Records the latest health check result (from the health engine's events).
    pub fn set_check(&self, info: CheckInfo) {
        match self.check.lock() {
            Ok(mut g) => *g = info,
            Err(p) => *p.into_inner() = info,
        }
    }

    /// The latest health check result (empty status before the first).
    pub fn check(&self) -> CheckInfo {
        match self.check.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
    /// Whether passive health wants this server's observations (`observe`).
    pub fn observed(&self) -> bool {
        self.observed.load(Ordering::Relaxed)
    }
    pub fn set_observed(&self, on: bool) {
        self.observed.store(on, Ordering::Relaxed)
    }
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }
    /// NOLB (`disable-on-404`): see the field.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
    /// Enters or leaves NOLB; returns true when it changed.
    pub fn set_stopping(&self, on: bool) -> bool {
        let changed = self.stopping.swap(on, Ordering::AcqRel) != on;
        if changed {
            self.bump_owner();
        }
        changed
    }
    /// Returns true when the state changed (balancers see it at their next pick).
    pub fn set_up(&self, up: bool) -> bool {
        let was_stopped = self.stopped();
        let changed = self.up.swap(up, Ordering::AcqRel) != up;
        if changed {
            if !up {
                self.chkdown.fetch_add(1, Ordering::Relaxed);
            }
            self.note_change(was_stopped);
        }
        changed
    }
    pub fn served(&self) -> u32 {
        self.served.load(Ordering::Relaxed)
    }
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
    /// Whether one more request may be sent now (`maxconn`, or the agent's `maxconn:N`).
    pub fn has_room(&self) -> bool {
        match self.maxconn_now() {
            Some(m) => self.served() < self.limits.ramped_maxconn(m, self.last_change_at()),
            None => true,
        }
    }
    /// Unix time of the last UP/DOWN/MAINT change.
    pub fn last_change_at(&self) -> u64 {
        self.last_change.load(Ordering::Relaxed)
    }
    /// The weight scale balancing uses now (HAProxy's `w`: 16, less during a slow start).
    pub fn weight_scale(&self) -> u32 {
        self.limits.weight_scale(self.last_change_at())
    }
    /// The limit in force: the agent's `maxconn:N` once it sent one, else `maxconn`.
    pub fn maxconn_now(&self) -> Option<u32> {
        match self.agent_maxconn.load(Ordering::Relaxed) {
            0 => self.maxconn,
            m => Some(m),
        }
    }
    /// An agent's `maxconn:N` (HAProxy sets the server's maxconn to N; 0 is ignored).
    pub fn set_agent_maxconn(&self, m: u32) -> bool {
        let changed = m > 0 && self.agent_maxconn.swap(m, Ordering::AcqRel) != m;
        if changed {
            self.bump_owner();
        }
        changed
    }
    /// The agent check's last result (stats' `agent_*` columns).
    pub fn set_agent_check(&self, info: CheckInfo) {
        if let Ok(mut a) = self.agent.lock() {
            *a = Some(info);
        }
    }
    pub fn agent_check(&self) -> Option<CheckInfo> {
        self.agent.lock().ok().and_then(|a| a.clone())
    }
    pub fn changed_at(&self) -> u64 {
        self.changed.load(Ordering::Relaxed)
    }
}
