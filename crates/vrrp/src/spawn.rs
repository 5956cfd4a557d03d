//! Starting instances: each `vrrp_instance` checked against what fulcrum supports, its
//! sockets opened, and its task spawned (or parked in FAULT until its interface is usable,
//! as keepalived does). Used by `start` and by reloads in `lib.rs`.

use crate::instance::{self, GroupLink, Status};
use crate::machine::{GarpTiming, InstanceConfig, Machine, State};
use crate::track::{self, ProxyHealth};
use crate::{io, mail, notify, packet, Running, VrrpError};
use fulcrum_config::model::{Keepalived, VrrpAuthType, VrrpInstance};
use std::collections::HashMap;
use std::net::IpAddr;
use tokio::sync::{broadcast, mpsc, watch};

/// Resolves and spawns `instances` of `keepalived` (plus the vrrp_scripts they track), on the
/// runtime the caller has entered (always the VRRP runtime).
pub(crate) fn spawn_all(
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
