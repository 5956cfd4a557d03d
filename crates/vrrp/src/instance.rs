//! The task that runs one `vrrp_instance`: owns its sockets and timers, feeds the sans-IO
//! `Machine`, and performs what it asks (send adverts, change addresses over netlink, announce
//! them, run notify scripts, tell its sync group).
//!
//! All protocol decisions live in `machine.rs`; tracking rules in `track.rs`. This file only
//! moves events in and actions out, and logs each drop cause once.

use crate::io::{announce, iface, netlink, socket::VrrpSocket};
use crate::machine::{Action, Counters, DropCause, Machine, Received, State};
use crate::notify::Notify;
use crate::packet;
use crate::track::{self, ProxyHealth, Tracked};
use fulcrum_config::model::{VirtualIp, VrrpInstance};
use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

/// How long stopping waits for the stop notify scripts.
const STOP_SCRIPTS_TIMEOUT: Duration = Duration::from_secs(3);

/// What the rest of fulcrum can see of a running instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    pub priority: u8,
    /// Packets received, accepted, dropped by cause.
    pub counters: Counters,
}

/// A state change broadcast to the other members of a `vrrp_sync_group`.
#[derive(Debug, Clone)]
pub struct GroupEvent {
    pub member: String,
    pub state: State,
    /// The member is in FAULT because of its own tracking (not because the group forced it).
    pub own_fault: bool,
}

pub struct GroupLink {
    pub tx: broadcast::Sender<GroupEvent>,
    pub rx: broadcast::Receiver<GroupEvent>,
    /// The group's notify scripts run from its first member only.
    pub notify: Option<Notify>,
}

pub enum Command {
    Shutdown(oneshot::Sender<()>),
}

/// Everything the task needs, resolved by `lib.rs` before it is spawned.
pub struct Setup {
    pub model: VrrpInstance,
    pub machine: Machine,
    pub socket: VrrpSocket,
    pub iface: iface::Interface,
    /// Where adverts go: the multicast group or the unicast peers.
    pub destinations: Vec<IpAddr>,
    /// (receiver of a vrrp_script's state, weight)
    pub scripts: Vec<(watch::Receiver<Option<bool>>, i32)>,
    pub group: Option<GroupLink>,
    pub proxy: Option<watch::Receiver<ProxyHealth>>,
    pub status: watch::Sender<Status>,
    /// notify scripts started when stopping; shutdown waits for them (bounded).
    pub stop_scripts: Vec<tokio::task::JoinHandle<()>>,
    /// Destinations whose last send failed (for logging changes only).
    pub send_failing: HashSet<IpAddr>,
    /// `script_user` / `enable_script_security` for the notify scripts.
    pub policy: fulcrum_script::Policy,
    /// Mail alerts on state changes (`smtp_alert`), when on.
    pub mail: Option<crate::mail::Alerts>,
}

pub async fn run(mut s: Setup, mut commands: mpsc::Receiver<Command>) {
    let name = s.model.name.clone();
    let notify = Notify {
        kind: "INSTANCE",
        name: name.clone(),
        notify: s.model.notify.clone(),
        master: s.model.notify_master.clone(),
        backup: s.model.notify_backup.clone(),
        fault: s.model.notify_fault.clone(),
        stop: s.model.notify_stop.clone(),
        policy: s.policy.clone(),
        mail: s.mail.clone(),
    };
    // A killed predecessor may have left our addresses behind: start clean, as keepalived does.
    remove_addresses(&s);
    let mut logged: HashSet<DropCause> = HashSet::new();
    let mut group_faulty: BTreeSet<String> = BTreeSet::new();
    let mut own_fault = false;
    let mut recv_failing = false;
    let mut poll = tokio::time::interval(track::INTERFACE_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    own_fault = retrack(&mut s, &group_faulty, own_fault);
    s.machine.start(Instant::now().into_std());
    let mut done: Option<oneshot::Sender<()>> = None;
    loop {
        perform(&mut s, &notify, own_fault);
        // A planned stop runs until the handover has ended (the machine is in INIT).
        if done.is_some() && s.machine.state() == State::Init {
            let Some(done) = done.take() else { continue };
            wait_stop_scripts(&mut s).await;
            let _ = done.send(());
            return;
        }
        let deadline = s.machine.poll_timeout().map(Instant::from_std);
        let group_rx = s.group.as_mut().map(|g| &mut g.rx);
        tokio::select! {
            pkt = s.socket.recv() => match pkt {
                Ok(p) => {
                    recv_failing = false;
                    let rx = Received { src: p.src, dst: p.dst, ttl: p.ttl, bytes: &p.payload };
                    if let Err(cause) = s.machine.handle_packet(Instant::now().into_std(), &rx) {
                        // Other virtual routers on the segment are normal: counted, not warned.
                        if cause == DropCause::Vrid && logged.insert(cause) {
                            tracing::debug!("VRRP_Instance({name}) ignores adverts for other VRIDs (first from {})", p.src);
                        } else if cause != DropCause::OwnPacket && logged.insert(cause) {
                            tracing::warn!("VRRP_Instance({name}) dropped an advert from {}: {} (logged once; counted)", p.src, cause.describe());
                        }
                    }
                }
                Err(e) => {
                    if !recv_failing {
                        tracing::warn!("VRRP_Instance({name}) receive error: {e} (logged until a packet arrives)");
                        recv_failing = true;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = sleep_until(deadline) => s.machine.handle_timeout(Instant::now().into_std()),
            _ = poll.tick() => own_fault = retrack(&mut s, &group_faulty, own_fault),
            ev = recv_group(group_rx) => {
                if let Some(ev) = ev {
                    if ev.member != name {
                        let now = Instant::now().into_std();
                        if ev.own_fault { group_faulty.insert(ev.member.clone()); } else { group_faulty.remove(&ev.member); }
                        match ev.state {
                            State::Master => s.machine.force_master(now),
                            State::Backup => s.machine.force_backup(now),
                            _ => {}
                        }
                        own_fault = retrack(&mut s, &group_faulty, own_fault);
                    }
                }
            }
            cmd = commands.recv() => match cmd {
                Some(Command::Shutdown(tx)) => {
                    s.machine.shutdown(Instant::now().into_std());
                    if s.machine.handing_over() {
                        tracing::info!(
                            "VRRP_Instance({name}) leaving MASTER: sent priority 0, keeping the addresses until a new master advertises (at most {:?})",
                            s.machine.handover_timeout()
                        );
                    }
                    done = Some(tx);
                }
                None => {
                    s.machine.shutdown_now(Instant::now().into_std());
                    perform(&mut s, &notify, own_fault);
                    wait_stop_scripts(&mut s).await;
                    return;
                }
            },
        }
    }
}

/// Lets `notify_stop` / `notify ... STOP` finish before the process exits, within a bound.
async fn wait_stop_scripts(s: &mut Setup) {
    let scripts = std::mem::take(&mut s.stop_scripts);
    let all = async {
        for h in scripts {
            let _ = h.await;
        }
    };
    if tokio::time::timeout(STOP_SCRIPTS_TIMEOUT, all)
        .await
        .is_err()
    {
        tracing::warn!(
            "VRRP_Instance({}) stop notify scripts still running; leaving them",
            s.model.name
        );
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn recv_group(rx: Option<&mut broadcast::Receiver<GroupEvent>>) -> Option<GroupEvent> {
    match rx {
        Some(rx) => match rx.recv().await {
            Ok(ev) => Some(ev),
            Err(broadcast::error::RecvError::Lagged(_)) => None,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// Recomputes priority and fault from scripts, interfaces, proxy health and the sync group;
/// returns whether this instance's own tracking reports a fault.
fn retrack(s: &mut Setup, group_faulty: &BTreeSet<String>, was: bool) -> bool {
    let mut tracked: Vec<Tracked> = Vec::new();
    for (rx, weight) in &s.scripts {
        // Before its first result a script counts as good.
        tracked.push(Tracked {
            weight: *weight,
            ok: rx.borrow().unwrap_or(true),
        });
    }
    tracked.push(Tracked {
        weight: 0,
        ok: track::interface_up(&s.iface.name),
    });
    for ti in &s.model.track_interface {
        tracked.push(Tracked {
            weight: ti.weight.unwrap_or(0),
            ok: track::interface_up(&ti.interface),
        });
    }
    if let Some(proxy) = &s.proxy {
        let health = proxy.borrow();
        let failing = s
            .model
            .virtual_ipaddress
            .iter()
            .any(|v| health.failing.contains(&v.address));
        tracked.push(Tracked {
            weight: 0,
            ok: !failing,
        });
    }
    let (priority, own_fault) = track::effective(s.model.priority, &tracked);
    let now = Instant::now().into_std();
    s.machine.set_priority(now, priority);
    s.machine
        .set_fault(now, own_fault || !group_faulty.is_empty());
    if own_fault != was {
        tracing::info!(
            "VRRP_Instance({}) tracking reports {}",
            s.model.name,
            if own_fault { "a fault" } else { "no fault" }
        );
    }
    own_fault
}

fn perform(s: &mut Setup, notify: &Notify, own_fault: bool) {
    while let Some(action) = s.machine.poll_action() {
        match action {
            Action::SendAdvert(advert) => {
                for dst in &s.destinations {
                    let bytes = packet::encode(&advert, s.machine.config().primary, *dst);
                    // Logged when a destination starts failing and when it recovers, not per advert.
                    match s.socket.send(&bytes, *dst) {
                        Err(e) if s.send_failing.insert(*dst) => {
                            tracing::warn!(
                                "VRRP_Instance({}) cannot send adverts to {dst}: {e}",
                                s.model.name
                            )
                        }
                        Ok(()) if s.send_failing.remove(dst) => {
                            tracing::info!(
                                "VRRP_Instance({}) sending adverts to {dst} again",
                                s.model.name
                            )
                        }
                        _ => {}
                    }
                }
            }
            Action::AddAddresses => {
                for vip in all_addresses(&s.model) {
                    let index = device_index(s, vip);
                    if let Err(e) = netlink::add_address(index, vip) {
                        tracing::error!(
                            "VRRP_Instance({}) cannot add {}/{}: {e}",
                            s.model.name,
                            vip.address,
                            vip.prefix
                        );
                    }
                }
            }
            Action::RemoveAddresses => remove_addresses(s),
            Action::HandedOver { new_master } => match new_master {
                Some(m) => tracing::info!(
                    "VRRP_Instance({}) new master {m} advertises; addresses released",
                    s.model.name
                ),
                None => tracing::warn!(
                    "VRRP_Instance({}) no new master advertised in {:?}; addresses released",
                    s.model.name,
                    s.machine.handover_timeout()
                ),
            },
            Action::Announce { count } => announce_all(s, count),
            Action::StateChanged { from, to } => {
                let priority = s.machine.priority();
                tracing::info!(
                    "VRRP_Instance({}) Entering {} STATE (was {}, priority {priority})",
                    s.model.name,
                    to.keyword(),
                    from.keyword()
                );
                s.status.send_replace(Status {
                    state: to,
                    priority,
                    counters: s.machine.counters().clone(),
                });
                let mut scripts = notify.run(to, priority);
                if let Some(group) = &s.group {
                    if let Some(gn) = &group.notify {
                        scripts.extend(gn.run(to, priority));
                    }
                    let _ = group.tx.send(GroupEvent {
                        member: s.model.name.clone(),
                        state: to,
                        own_fault,
                    });
                }
                if to == State::Init {
                    s.stop_scripts.extend(scripts);
                }
            }
        }
    }
    let status = Status {
        state: s.machine.state(),
        priority: s.machine.priority(),
        counters: s.machine.counters().clone(),
    };
    s.status.send_if_modified(|cur| {
        let changed = *cur != status;
        *cur = status.clone();
        changed
    });
}

fn all_addresses(model: &VrrpInstance) -> impl Iterator<Item = &VirtualIp> {
    model
        .virtual_ipaddress
        .iter()
        .chain(model.virtual_ipaddress_excluded.iter())
}

fn device_index(s: &Setup, vip: &VirtualIp) -> u32 {
    match &vip.dev {
        Some(dev) if *dev != s.iface.name => {
            nix::net::if_::if_nametoindex(dev.as_str()).unwrap_or(s.iface.index)
        }
        _ => s.iface.index,
    }
}

fn remove_addresses(s: &Setup) {
    for vip in all_addresses(&s.model) {
        let index = device_index(s, vip);
        if let Err(e) = netlink::del_address(index, vip) {
            tracing::error!(
                "VRRP_Instance({}) cannot remove {}/{}: {e}",
                s.model.name,
                vip.address,
                vip.prefix
            );
        }
    }
}

fn announce_all(s: &Setup, count: u32) {
    let Some(mac) = s.iface.mac else { return };
    let v4: Vec<_> = all_addresses(&s.model)
        .filter_map(|v| match v.address {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        })
        .collect();
    let v6: Vec<_> = all_addresses(&s.model)
        .filter_map(|v| match v.address {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        })
        .collect();
    if let Err(e) = announce::send_garps(&s.iface.name, mac, &v4, count) {
        tracing::warn!("VRRP_Instance({}) gratuitous ARP failed: {e}", s.model.name);
    }
    if let Some(src) = s.iface.ipv6_link_local.first() {
        if let Err(e) = announce::send_nas(s.iface.index, *src, mac, &v6, count) {
            tracing::warn!("VRRP_Instance({}) unsolicited NA failed: {e}", s.model.name);
        }
    }
}
