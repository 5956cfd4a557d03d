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
pub mod track;

use fulcrum_config::diagnostics::Span;
use fulcrum_config::model::{Keepalived, VrrpAuthType, VrrpInstance, VrrpScript, VrrpSyncGroup};
pub use instance::Status;
use instance::{Command, GroupLink};
use machine::{GarpTiming, InstanceConfig, Machine, State};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
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
        spawn_all(keepalived, &keepalived.vrrp_instances, handle.proxy.clone())?
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
            spawn_all(keepalived, &to_start, self.proxy.clone())?
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

/// Resolves and spawns `instances` of `keepalived` (plus the vrrp_scripts they track), on the
/// runtime the caller has entered (always the VRRP runtime).
fn spawn_all(
    keepalived: &Keepalived,
    instances: &[VrrpInstance],
    proxy: Option<watch::Receiver<ProxyHealth>>,
) -> Result<(Vec<Running>, Vec<tokio::task::JoinHandle<()>>), VrrpError> {
    let policy = fulcrum_script::Policy::from_global_defs(&keepalived.global_defs);
    let alerts = mail::Alerts::from_global_defs(&keepalived.global_defs);
    let mail_for = |own: Option<bool>| {
        alerts
            .as_ref()
            .filter(|_| mail::enabled(own, &keepalived.global_defs))
    };
    // One runner per vrrp_script, shared by every instance tracking it.
    let mut script_rx = HashMap::new();
    let mut script_tasks = Vec::new();
    for inst in instances {
        for ts in &inst.track_script {
            let name = ts.script.name.as_str();
            if script_rx.contains_key(name) {
                continue;
            }
            let script = keepalived
                .vrrp_scripts
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| {
                    VrrpError::Setup(format!(
                        "{}: track_script {name}: no vrrp_script of that name",
                        ts.script.span
                    ))
                })?;
            let (rx, task) = track::spawn_script(script, &policy);
            script_rx.insert(name.to_string(), rx);
            script_tasks.push(task);
        }
    }
    // Sync groups: one broadcast channel each.
    let mut groups: HashMap<
        String,
        (
            broadcast::Sender<instance::GroupEvent>,
            Option<notify::Notify>,
        ),
    > = HashMap::new();
    for g in &keepalived.vrrp_sync_groups {
        let (tx, _) = broadcast::channel(64);
        let notify = notify::Notify {
            kind: "GROUP",
            name: g.name.clone(),
            notify: g.notify.clone(),
            master: g.notify_master.clone(),
            backup: g.notify_backup.clone(),
            fault: g.notify_fault.clone(),
            stop: None,
            policy: policy.clone(),
            mail: mail_for(g.smtp_alert).cloned(),
        };
        for (i, member) in g.group.iter().enumerate() {
            groups.insert(
                member.name.clone(),
                (tx.clone(), (i == 0).then(|| notify.clone())),
            );
        }
    }

    let mut running = Vec::new();
    for inst in instances {
        let scripts = inst
            .track_script
            .iter()
            .filter_map(|ts| {
                let rx = script_rx.get(&ts.script.name)?.clone();
                let weight = ts
                    .weight
                    .or_else(|| {
                        keepalived
                            .vrrp_scripts
                            .iter()
                            .find(|s| s.name == ts.script.name)
                            .map(|s| s.weight)
                    })
                    .unwrap_or(0);
                Some((rx, weight))
            })
            .collect();
        let mut group = groups.get(&inst.name).map(|(tx, n)| GroupLink {
            tx: tx.clone(),
            rx: tx.subscribe(),
            notify: n.clone(),
        });
        let mut scripts = scripts;
        let (status_tx, status) = watch::channel(Status {
            state: State::Init,
            priority: inst.priority,
            counters: Default::default(),
        });
        let (ctx, crx) = mpsc::channel(4);
        let task = match resolve(
            inst,
            &mut scripts,
            &mut group,
            proxy.clone(),
            status_tx.clone(),
            &policy,
            mail_for(inst.smtp_alert),
        ) {
            Ok(setup) => tokio::spawn(instance::run(setup, crx)),
            Err(Unready::Fatal(e)) => return Err(e),
            Err(Unready::NotYet(why)) => {
                // keepalived: the instance is in FAULT until its interface is usable.
                tracing::warn!(
                    "{why}; vrrp_instance {} stays in FAULT until it is",
                    inst.name
                );
                status_tx.send_modify(|s| s.state = State::Fault);
                let waiting = Waiting {
                    inst: inst.clone(),
                    scripts,
                    group,
                    proxy: proxy.clone(),
                    status: status_tx,
                    policy: policy.clone(),
                    mail: mail_for(inst.smtp_alert).cloned(),
                };
                tokio::spawn(wait_for_interface(waiting, crx))
            }
        };
        running.push(Running {
            model: inst.clone(),
            commands: ctx,
            status,
            task,
        });
    }
    Ok((running, script_tasks))
}

/// Why an instance cannot start now.
enum Unready {
    /// The configuration asks for something fulcrum cannot do: start is refused.
    Fatal(VrrpError),
    /// The interface is missing, has no usable address, or refuses the socket: retried.
    NotYet(String),
}

/// What an instance waiting for its interface holds until it can start.
struct Waiting {
    inst: VrrpInstance,
    scripts: Vec<(watch::Receiver<Option<bool>>, i32)>,
    group: Option<GroupLink>,
    proxy: Option<watch::Receiver<ProxyHealth>>,
    status: watch::Sender<Status>,
    policy: fulcrum_script::Policy,
    mail: Option<mail::Alerts>,
}

/// How often a waiting instance looks at its interface again.
const INTERFACE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// An instance whose interface is not usable yet (keepalived keeps it in FAULT and starts it
/// when the interface comes): retries until it can run, or until asked to stop.
async fn wait_for_interface(mut w: Waiting, mut commands: mpsc::Receiver<instance::Command>) {
    let mut tick = tokio::time::interval(INTERFACE_RETRY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            cmd = commands.recv() => {
                if let Some(instance::Command::Shutdown(done)) = cmd {
                    let _ = done.send(());
                }
                return;
            }
            _ = tick.tick() => {
                match resolve(&w.inst, &mut w.scripts, &mut w.group, w.proxy.clone(), w.status.clone(), &w.policy, w.mail.as_ref()) {
                    Ok(setup) => {
                        tracing::info!("vrrp_instance {}: its interface is usable now, starting", w.inst.name);
                        return instance::run(setup, commands).await;
                    }
                    Err(Unready::NotYet(_)) => {}
                    Err(Unready::Fatal(e)) => {
                        tracing::error!("{e}; the instance stays in FAULT");
                        return;
                    }
                }
            }
        }
    }
}

/// Checks one instance against what fulcrum supports and opens its sockets. The scripts and
/// the group link are taken only when it succeeds.
fn resolve(
    inst: &VrrpInstance,
    scripts: &mut Vec<(watch::Receiver<Option<bool>>, i32)>,
    group: &mut Option<GroupLink>,
    proxy: Option<watch::Receiver<ProxyHealth>>,
    status: watch::Sender<Status>,
    policy: &fulcrum_script::Policy,
    mail: Option<&mail::Alerts>,
) -> Result<instance::Setup, Unready> {
    let err = |what: String| {
        Unready::Fatal(VrrpError::Setup(format!(
            "{}: vrrp_instance {}: {what}",
            inst.span, inst.name
        )))
    };
    let not_yet = |what: String| {
        Unready::NotYet(format!(
            "{}: vrrp_instance {}: {what}",
            inst.span, inst.name
        ))
    };
    let ifname = inst
        .interface
        .as_deref()
        .ok_or_else(|| err("no interface".into()))?;
    if inst.virtual_router_id == 0 {
        return Err(err("virtual_router_id must be 1..255".into()));
    }
    let ipv6 = inst.unicast_src_ip.map(|a| a.is_ipv6()).unwrap_or_else(|| {
        inst.virtual_ipaddress
            .first()
            .is_some_and(|v| v.address.is_ipv6())
    });
    if ipv6 && inst.version == 2 {
        return Err(err(
            "IPv6 virtual addresses need VRRP version 3 (vrrp_version 3)".into(),
        ));
    }
    let auth = match &inst.authentication {
        None => packet::Auth::None,
        Some(a) if a.auth_type == VrrpAuthType::Pass => packet::Auth::pass(&a.auth_pass),
        Some(_) => {
            return Err(err(
                "auth_type AH is not supported by fulcrum; use PASS".into()
            ))
        }
    };
    let vips: Vec<IpAddr> = inst.virtual_ipaddress.iter().map(|v| v.address).collect();
    let iface = io::iface::lookup(ifname)
        .ok_or_else(|| not_yet(format!("interface {ifname} not found")))?;
    let primary = match inst.unicast_src_ip {
        Some(a) => a,
        None => iface.primary(ipv6, &vips).ok_or_else(|| {
            not_yet(format!(
                "interface {ifname} has no {} address",
                if ipv6 { "link-local IPv6" } else { "IPv4" }
            ))
        })?,
    };
    let cfg = InstanceConfig {
        version: inst.version,
        vrid: inst.virtual_router_id,
        priority: inst.priority,
        advert_int: inst.advert_int,
        auth: if inst.version == 2 {
            auth
        } else {
            packet::Auth::None
        },
        addresses: vips,
        primary,
        preempt: !inst.nopreempt,
        preempt_delay: inst.preempt_delay,
        garp: GarpTiming {
            delay: inst.garp_master_delay,
            repeat: inst.garp_master_repeat,
            refresh: inst.garp_master_refresh,
        },
    };
    let socket = io::socket::VrrpSocket::open(ifname, iface.index, primary)
        .map_err(|e| not_yet(format!("cannot open VRRP socket on {ifname}: {e}")))?;
    let destinations = if inst.unicast_peer.is_empty() {
        vec![socket.group()]
    } else {
        inst.unicast_peer.clone()
    };
    Ok(instance::Setup {
        model: inst.clone(),
        machine: Machine::new(cfg),
        socket,
        iface,
        destinations,
        scripts: std::mem::take(scripts),
        group: group.take(),
        proxy,
        status,
        stop_scripts: Vec::new(),
        send_failing: Default::default(),
        policy: policy.clone(),
        mail: mail.cloned(),
    })
}

#[cfg(test)]
#[path = "reload_tests.rs"]
mod reload_tests;
