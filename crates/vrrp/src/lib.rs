//! fulcrum's VRRP: floating virtual IPs from keepalived.conf, interoperable with keepalived.
//!
//! Entry points used by the binary's supervisor: `start` runs every `vrrp_instance` (one task
//! each, see `instance.rs`); the handle reloads a new model and stops gracefully (a MASTER sends
//! a priority-0 advert and keeps its addresses until the new master advertises, see
//! `Machine::shutdown`; all instances hand over at once). The protocol itself is the sans-IO
//! `machine::Machine`; `io/` holds the kernel adapters.
//!
//! Supported, as keepalived does it: VRRPv2 (PASS or no authentication) and VRRPv3 over IPv4
//! and IPv6, multicast or `unicast_peer`s from `unicast_src_ip`; `nopreempt`, `preempt_delay`,
//! priority 255 as address owner; `virtual_ipaddress` (+`_excluded`) with prefix, `dev`, `label`,
//! `brd`, `scope`; gratuitous ARP / unsolicited NA per `garp_master_delay|repeat|refresh`;
//! `notify*` scripts; `vrrp_script` + `track_script` weights and FAULT; `track_interface`;
//! `vrrp_sync_group`. Not supported: `auth_type AH` (refused at start), virtual MACs,
//! `virtual_routes`/rules. The proxy's health comes in through `start_with_proxy`.
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[doc(hidden)]
pub mod fuzzing;
pub mod instance;
pub mod io;
pub mod machine;
pub mod mail;
pub mod notify;
pub mod packet;
pub mod received;
mod runtime;
mod spawn;
pub mod track;

use fulcrum_config::diagnostics::Span;
use fulcrum_config::model::{Keepalived, VrrpInstance, VrrpScript, VrrpSyncGroup};
use instance::Command;
pub use instance::Status;
use machine::State;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
pub use track::ProxyHealth;

/// How long `shutdown` waits for an instance to hand over (at most `machine::HANDOVER_MAX`)
/// and clean up.
const STOP_TIMEOUT: Duration = Duration::from_secs(6);

#[derive(Debug, thiserror::Error)]
pub enum VrrpError {
    #[error("{0}")]
    Setup(String),
}

struct Running {
    model: VrrpInstance,
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<Status>,
    task: tokio::task::JoinHandle<()>,
}

pub struct VrrpHandle {
    /// VRRP's own thread; every instance task runs there.
    runtime: runtime::VrrpRuntime,
    instances: tokio::sync::Mutex<Vec<Running>>,
    scripts: tokio::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    current: tokio::sync::Mutex<Keepalived>,
    proxy: Option<watch::Receiver<ProxyHealth>>,
}

/// Starts one task per `vrrp_instance`.
pub async fn start(keepalived: &Keepalived) -> Result<VrrpHandle, VrrpError> {
    start_with_proxy(keepalived, None).await
}

/// Like `start`, with the proxy's health as an extra tracked input: an instance whose virtual
/// addresses the proxy reports as failing goes to FAULT (gives its addresses away).
pub async fn start_with_proxy(
    keepalived: &Keepalived,
    proxy: Option<watch::Receiver<ProxyHealth>>,
) -> Result<VrrpHandle, VrrpError> {
    let runtime = runtime::VrrpRuntime::start()
        .map_err(|e| VrrpError::Setup(format!("cannot start the VRRP thread: {e}")))?;
    let handle = VrrpHandle {
        runtime,
        instances: tokio::sync::Mutex::new(Vec::new()),
        scripts: tokio::sync::Mutex::new(Vec::new()),
        current: tokio::sync::Mutex::new(keepalived.clone()),
        proxy,
    };
    let (running, scripts) = {
        let _vrrp_runtime = handle.runtime.handle().enter();
        spawn::spawn_all(keepalived, &keepalived.vrrp_instances, handle.proxy.clone())?
    };
    *handle.instances.lock().await = running;
    *handle.scripts.lock().await = scripts;
    Ok(handle)
}

impl VrrpHandle {
    /// Applies a new, already validated keepalived model. Unchanged instances keep running
    /// undisturbed; removed ones stop (handing over if MASTER); new ones start; an instance
    /// restarts when it, a vrrp_script it tracks, or its sync group changed (a sync group
    /// restarts as a whole, so its members share one channel again).
    pub async fn reload(&self, keepalived: &Keepalived) -> Result<(), VrrpError> {
        let mut current = self.current.lock().await;
        let mut instances = self.instances.lock().await;
        let restart = restart_set(&current, keepalived);
        let mut keep = Vec::new();
        for r in instances.drain(..) {
            if restart.contains(r.model.name.as_str()) {
                stop(r).await;
            } else {
                keep.push(r);
            }
        }
        let to_start: Vec<VrrpInstance> = keepalived
            .vrrp_instances
            .iter()
            .filter(|n| restart.contains(n.name.as_str()))
            .cloned()
            .collect();
        let (started, scripts) = {
            let _vrrp_runtime = self.runtime.handle().enter();
            spawn::spawn_all(keepalived, &to_start, self.proxy.clone())?
        };
        keep.extend(started);
        *instances = keep;
        // Runners whose instances all stopped end by themselves; forget them once finished.
        let mut runners = self.scripts.lock().await;
        runners.retain(|h| !h.is_finished());
        runners.extend(scripts);
        *current = keepalived.clone();
        Ok(())
    }

    /// The state of every instance by name.
    pub async fn states(&self) -> Vec<(String, State)> {
        self.instances
            .lock()
            .await
            .iter()
            .map(|r| (r.model.name.clone(), r.status.borrow().state))
            .collect()
    }

    /// The status (state, priority, packet counters) of every instance by name.
    pub async fn status(&self) -> Vec<(String, Status)> {
        self.instances
            .lock()
            .await
            .iter()
            .map(|r| (r.model.name.clone(), r.status.borrow().clone()))
            .collect()
    }

    /// Leaves MASTER (priority-0 advert, addresses removed) and stops every instance.
    pub async fn shutdown(self) {
        let mut instances = self.instances.lock().await;
        // Every instance hands over at the same time (each may wait for a new master).
        let mut pending = Vec::new();
        for r in instances.drain(..) {
            pending.push(tokio::spawn(stop(r)));
        }
        for p in pending {
            let _ = p.await;
        }
        for s in self.scripts.lock().await.drain(..) {
            s.abort();
        }
    }
}

/// Names of the instances a reload from `old` to `new` must (re)start or stop. Settings are
/// compared without their file positions: a line added above must not restart anything.
fn restart_set<'a>(old: &'a Keepalived, new: &'a Keepalived) -> std::collections::HashSet<&'a str> {
    let group_of = |k: &'a Keepalived, name: &str| {
        k.vrrp_sync_groups
            .iter()
            .find(|g| g.group.iter().any(|m| m.name == name))
            .map(unspanned_group)
    };
    let script = |k: &'a Keepalived, name: &str| {
        k.vrrp_scripts
            .iter()
            .find(|s| s.name == name)
            .map(|s| VrrpScript {
                span: Span::default(),
                ..s.clone()
            })
    };
    let mut restart: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for o in &old.vrrp_instances {
        if !new.vrrp_instances.iter().any(|n| n.name == o.name) {
            restart.insert(o.name.as_str());
        }
    }
    for n in &new.vrrp_instances {
        let changed = match old.vrrp_instances.iter().find(|o| o.name == n.name) {
            None => true,
            Some(o) => {
                unspanned(o) != unspanned(n)
                    || n.track_script
                        .iter()
                        .any(|t| script(old, &t.script.name) != script(new, &t.script.name))
                    || group_of(old, &n.name) != group_of(new, &n.name)
            }
        };
        if changed {
            restart.insert(n.name.as_str());
        }
    }
    // A sync group restarts whole: its members must share one fresh channel.
    for k in [old, new] {
        for g in &k.vrrp_sync_groups {
            if g.group.iter().any(|m| restart.contains(m.name.as_str())) {
                restart.extend(g.group.iter().map(|m| m.name.as_str()));
            }
        }
    }
    restart
}

fn unspanned(i: &VrrpInstance) -> VrrpInstance {
    let mut i = i.clone();
    i.span = Span::default();
    for v in i
        .virtual_ipaddress
        .iter_mut()
        .chain(i.virtual_ipaddress_excluded.iter_mut())
    {
        v.span = Span::default();
    }
    for t in &mut i.track_script {
        t.script.span = Span::default();
    }
    for t in &mut i.track_interface {
        t.span = Span::default();
    }
    i
}

fn unspanned_group(g: &VrrpSyncGroup) -> VrrpSyncGroup {
    let mut g = g.clone();
    g.span = Span::default();
    for m in &mut g.group {
        m.span = Span::default();
    }
    g
}

async fn stop(r: Running) {
    let (tx, rx) = oneshot::channel();
    if r.commands.send(Command::Shutdown(tx)).await.is_ok()
        && tokio::time::timeout(STOP_TIMEOUT, rx).await.is_err()
    {
        tracing::warn!(
            "VRRP_Instance({}) did not stop in {STOP_TIMEOUT:?}",
            r.model.name
        );
    }
    r.task.abort();
}

#[cfg(test)]
#[path = "reload_tests.rs"]
mod reload_tests;
