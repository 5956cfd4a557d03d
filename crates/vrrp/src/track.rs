//! Tracking: `vrrp_script` checks with rise/fall, `track_script` / `track_interface` weights,
//! and the proxy's health, turned into an instance's effective priority or FAULT.
//!
//! The rules are keepalived's: a tracked object with weight 0 puts the instance in FAULT while
//! it fails; a positive weight is added while it succeeds; a negative weight is added while it
//! fails; the result stays within 1..=254 and an address owner (255) is never changed. The pure
//! parts (`ScriptCheck`, `effective`) are unit-tested; the runners are thin tasks around them.

use crate::io::iface;
use fulcrum_config::model::VrrpScript;
use fulcrum_script::{prepare, Policy};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::watch;

/// How often tracked interfaces are looked at.
pub const INTERFACE_POLL: Duration = Duration::from_millis(200);

/// The proxy's view of the virtual addresses it serves, published by the data plane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyHealth {
    /// Virtual addresses whose frontends cannot serve: every server behind them is DOWN, or a
    /// listener on them failed. An instance carrying one of these gives its addresses away.
    pub failing: BTreeSet<IpAddr>,
}

/// rise/fall hysteresis of one `vrrp_script`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCheck {
    rise: u32,
    fall: u32,
    ok: Option<bool>,
    streak: u32,
}

impl ScriptCheck {
    pub fn new(rise: u32, fall: u32) -> ScriptCheck {
        ScriptCheck {
            rise: rise.max(1),
            fall: fall.max(1),
            ok: None,
            streak: 0,
        }
    }

    /// `None` until the first result; the first result decides at once.
    pub fn ok(&self) -> Option<bool> {
        self.ok
    }

    /// Records one run; returns the new state when it changed.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        match self.ok {
            None => {
                self.ok = Some(success);
                self.streak = 0;
                Some(success)
            }
            Some(cur) if cur == success => {
                self.streak = 0;
                None
            }
            Some(_) => {
                self.streak += 1;
                let needed = if success { self.rise } else { self.fall };
                if self.streak >= needed {
                    self.ok = Some(success);
                    self.streak = 0;
                    Some(success)
                } else {
                    None
                }
            }
        }
    }
}

/// One tracked object's weight and whether it is currently good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    pub weight: i32,
    pub ok: bool,
}

/// keepalived's effective priority: `(priority, fault)`.
pub fn effective(base: u8, tracked: &[Tracked]) -> (u8, bool) {
    let fault = tracked.iter().any(|t| t.weight == 0 && !t.ok);
    if base == 255 {
        return (255, fault);
    }
    let delta: i32 = tracked
        .iter()
        .map(|t| match (t.weight > 0, t.ok) {
            (true, true) => t.weight,
            (false, false) => t.weight,
            _ => 0,
        })
        .sum();
    let p = (i32::from(base) + delta).clamp(1, 254);
    (p as u8, fault)
}

/// Runs a `vrrp_script` every `interval` for as long as the returned receiver's sender lives;
/// publishes `Some(ok)` after rise/fall (`None` before the first result). A script the
/// policy refuses is disabled as keepalived disables it: it never reports, so the instances
/// tracking it ignore it (a `None` counts as good).
pub fn spawn_script(
    script: &VrrpScript,
    policy: &Policy,
) -> (watch::Receiver<Option<bool>>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(None);
    // A `user` in the vrrp_script block overrides script_user, as in keepalived.
    let own;
    let policy = match &script.user {
        Some(u) => {
            own = Policy::resolve(Some(u), policy.security);
            &own
        }
        None => policy,
    };
    let prepared = match prepare(policy, &script.script) {
        Ok(p) => p,
        Err(refused) => {
            tracing::error!(
                "vrrp_script {}: {refused}; disabling the track script, as keepalived does",
                script.name
            );
            return (rx, tokio::spawn(async move { tx.closed().await }));
        }
    };
    let interval = script.interval.max(Duration::from_millis(10));
    let timeout = script
        .timeout
        .unwrap_or(interval)
        .max(Duration::from_millis(10));
    let mut check = ScriptCheck::new(script.rise, script.fall);
    let name = script.name.clone();
    let handle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if tx.is_closed() {
                return;
            }
            let success = fulcrum_script::run(&prepared, timeout).await.success();
            if let Some(now_ok) = check.record(success) {
                tracing::info!(
                    "vrrp_script {name}: {}",
                    if now_ok { "succeeded" } else { "failed" }
                );
                tx.send_replace(Some(now_ok));
            }
        }
    });
    (rx, handle)
}

/// Whether interface `name` exists and its link is running.
pub fn interface_up(name: &str) -> bool {
    iface::lookup(name).is_some_and(|i| i.running)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rise_and_fall() {
        let mut c = ScriptCheck::new(2, 3);
        assert_eq!(c.ok(), None);
        assert_eq!(c.record(true), Some(true), "first result decides");
        assert_eq!(c.record(false), None);
        assert_eq!(c.record(false), None);
        assert_eq!(c.record(true), None, "a success resets the fall streak");
        assert_eq!(c.record(false), None);
        assert_eq!(c.record(false), None);
        assert_eq!(c.record(false), Some(false), "third failure in a row");
        assert_eq!(c.record(true), None);
        assert_eq!(c.record(true), Some(true), "second success in a row");
    }

    #[test]
    fn weights_as_keepalived() {
        let t = |weight, ok| Tracked { weight, ok };
        assert_eq!(effective(100, &[]), (100, false));
        assert_eq!(effective(100, &[t(-30, false)]), (70, false));
        assert_eq!(effective(100, &[t(-30, true)]), (100, false));
        assert_eq!(effective(100, &[t(20, true)]), (120, false));
        assert_eq!(effective(100, &[t(20, false)]), (100, false));
        assert_eq!(effective(100, &[t(0, false)]), (100, true));
        assert_eq!(effective(100, &[t(0, true)]), (100, false));
        assert_eq!(effective(240, &[t(50, true)]), (254, false));
        assert_eq!(effective(10, &[t(-50, false)]), (1, false));
        assert_eq!(effective(255, &[t(-50, false)]), (255, false));
        assert_eq!(effective(255, &[t(0, false)]), (255, true));
    }

    #[tokio::test]
    async fn script_runner_reports_success_and_failure() {
        let script = |cmd: &str| VrrpScript {
            name: "chk".into(),
            span: Default::default(),
            script: cmd.into(),
            interval: Duration::from_millis(20),
            timeout: Some(Duration::from_millis(500)),
            weight: 0,
            fall: 1,
            rise: 1,
            user: None,
        };
        for (cmd, expected) in [
            ("/bin/true", true),
            ("/bin/false", false),
            ("/bin/sleep 5", false),
            ("/no/such", false),
        ] {
            let (mut rx, handle) = spawn_script(&script(cmd), &Policy::default());
            let got =
                tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|v| v.is_some())).await;
            let value = *got.expect("a result within 5 s").expect("runner alive");
            assert_eq!(value, Some(expected), "{cmd}");
            handle.abort();
        }
    }
}
