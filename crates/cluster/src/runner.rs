//! The task that runs one node of the cluster: connects to etcd, holds a lease (`session`),
//! reads the cluster's keys every round, feeds the `agent` and performs what it says —
//! guarded etcd transactions, addresses, gratuitous ARPs — and answers runtime commands.
//!
//! Order of checks each round: the lease deadline first (every address goes before the lease
//! can expire anywhere), then the read, then the actions; a claimed VIP's address is added only
//! if the deadline has still not passed after the transaction returned.

use crate::address;
use crate::agent::{Action, Agent};
use crate::clock::{boottime, unix_ms};
use crate::etcd::connect;
pub use crate::etcd::{connect_with, prefix_of};
use crate::keys::{Kv, Snapshot};
use crate::session::{margin, Session};
use crate::status::{Command, Member, Status};
use etcd_client::{Client, GetOptions};
use fulcrum_config::model::{Cluster, NoQuorumPolicy};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::timeout;

/// How often a round runs.
const ROUND: Duration = Duration::from_millis(100);
/// Failed actions `fulcrum status` remembers.
const FAILED_KEPT: usize = 20;

pub type CommandRequest = (Command, oneshot::Sender<Result<String, String>>);

enum Exit {
    Stop,
    /// The lease is gone: a new session on the same client.
    Lost,
    /// No acknowledgement for so long that the lease has surely expired: a new client too
    /// (its connections may be stuck after a partition).
    Reconnect,
}

pub struct Runner {
    pub(crate) cfg: Cluster,
    pub(crate) prefix: String,
    pub(crate) agent: Agent,
    pub(crate) status: watch::Sender<Status>,
    pub(crate) failing: BTreeSet<IpAddr>,
    pub(crate) failed: VecDeque<(u64, String)>,
    /// VIPs whose address could not be added: not offered again until a reload.
    pub(crate) broken: BTreeSet<String>,
    /// VIP → (next announce on the boot clock, announces left).
    pub(crate) garp: BTreeMap<String, (Duration, u32)>,
    pub(crate) members: Vec<Member>,
    pub(crate) members_at: Option<Duration>,
    pub(crate) snap: Snapshot,
    pub(crate) quorum: bool,
    /// Where the shared proxy config (revision, text) goes, with `config-from-etcd`.
    pub(crate) config_tx: Option<watch::Sender<SharedConfig>>,
    /// The online nodes' `peers-bind` addresses.
    pub(crate) peers_tx: watch::Sender<PeerAddrs>,
    /// The section's own VIPs.
    pub(crate) base_vips: Vec<fulcrum_config::model::ClusterVip>,
    /// VIPs handed over at run time (the LBaaS API's load balancers), placed with them.
    pub(crate) extra: watch::Receiver<Vec<fulcrum_config::model::ClusterVip>>,
}

/// Online nodes → their stick-table replication address.
pub type PeerAddrs = BTreeMap<String, std::net::SocketAddr>;

/// The shared proxy config as last read: (mod revision, text).
pub type SharedConfig = Option<(i64, String)>;

impl Runner {
    pub(crate) fn op_timeout(&self) -> Duration {
        (self.cfg.lease_ttl / 4).max(Duration::from_millis(300))
    }

    fn fail(&mut self, what: String) {
        // The same failure again (etcd still unreachable): one entry, its time refreshed.
        if let Some(last) = self.failed.back_mut().filter(|(_, w)| *w == what) {
            last.0 = unix_ms();
            tracing::debug!("cluster: {what} (again)");
            return;
        }
        tracing::warn!("cluster: {what}");
        if self.failed.len() == FAILED_KEPT {
            self.failed.pop_front();
        }
        self.failed.push_back((unix_ms(), what));
    }

    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<CommandRequest>,
        mut failing: watch::Receiver<fulcrum_vrrp::ProxyHealth>,
        mut stop: oneshot::Receiver<()>,
    ) {
        self.failing = failing.borrow().failing.clone();
        self.update_serves();
        // Addresses a crashed predecessor left behind belong to a lease that is not ours.
        for v in &self.cfg.vips {
            let _ = address::del(v);
        }
        loop {
            let client = match connect(&self.cfg).await {
                Ok(c) => c,
                Err(e) => {
                    self.fail(format!("connecting to etcd: {e}"));
                    self.publish();
                    tokio::select! {
                        _ = &mut stop => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            let mut grant_failures = 0;
            loop {
                let session = match Session::open(&client, self.cfg.lease_ttl).await {
                    Ok(s) => {
                        grant_failures = 0;
                        s
                    }
                    // A fresh client after repeated failures (connections stuck after a cut).
                    Err(_) if grant_failures >= 3 => break,
                    Err(e) => {
                        grant_failures += 1;
                        self.fail(format!("etcd lease: {e}"));
                        self.publish();
                        tokio::select! {
                            _ = &mut stop => return,
                            Some((_, reply)) = commands.recv() => {
                                let _ = reply.send(Err("this node has no quorum (etcd unreachable)".into()));
                            }
                            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        }
                        continue;
                    }
                };
                tracing::info!(
                    "cluster {}: node {} joined with lease {:x}",
                    self.cfg.name,
                    self.cfg.node,
                    session.lease
                );
                let known = format!("{}known/{}", self.prefix, self.cfg.node);
                let mut c = client.clone();
                let _ = timeout(self.op_timeout(), c.put(known, "", None)).await;
                let exit = self
                    .session(&client, &session, &mut commands, &mut failing, &mut stop)
                    .await;
                match exit {
                    Exit::Stop => {
                        for a in self.agent.drop_all() {
                            self.perform(&client, &session, a).await;
                        }
                        session.revoke(&client).await;
                        self.quorum = false;
                        self.publish();
                        return;
                    }
                    Exit::Lost | Exit::Reconnect => {
                        // freeze keeps what is held until etcd answers again: the next
                        // session's first round drops whatever is no longer ours.
                        if self.cfg.no_quorum_policy == NoQuorumPolicy::Stop {
                            for a in self.agent.drop_all() {
                                self.perform(&client, &session, a).await;
                            }
                        }
                        self.quorum = false;
                        self.publish();
                        if matches!(exit, Exit::Reconnect) {
                            tracing::info!(
                                "cluster: no answer from etcd for a lease TTL: reconnecting"
                            );
                            break;
                        }
                    }
                }
            }
        }
    }

    async fn session(
        &mut self,
        client: &Client,
        session: &Session,
        commands: &mut mpsc::Receiver<CommandRequest>,
        failing: &mut watch::Receiver<fulcrum_vrrp::ProxyHealth>,
        stop: &mut oneshot::Receiver<()>,
    ) -> Exit {
        let mut tick = tokio::time::interval(ROUND);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut *stop => return Exit::Stop,
                Some((cmd, reply)) = commands.recv() => {
                    // A request may go to a dead member's connection until the client drops
                    // it (`Unavailable`): try again, a bounded number of times, so an
                    // operator's command does not fail while one etcd member is down.
                    let mut r = self.command(client, cmd.clone()).await;
                    for _ in 0..3 {
                        if !matches!(&r, Err(e) if e.contains("Unavailable")) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        r = self.command(client, cmd.clone()).await;
                    }
                    let _ = reply.send(r);
                }
                Ok(()) = failing.changed() => {
                    self.failing = failing.borrow_and_update().failing.clone();
                    self.update_serves();
                }
                _ = tick.tick() => {
                    // A round waits on etcd; the deadline must not wait for it: past the
                    // deadline the round is abandoned wherever it is and every address goes.
                    let left = session
                        .deadline()
                        .map_or(Duration::ZERO, |d| d.saturating_sub(boottime()));
                    let finished = {
                        let deadline = tokio::time::sleep(left);
                        tokio::select! {
                            r = self.round(client, session) => Some(r),
                            _ = deadline => None,
                        }
                    };
                    match finished {
                        Some(Some(exit)) => return exit,
                        Some(None) => {}
                        None => {
                            if let Err(exit) = self.check_deadline(session) {
                                return exit;
                            }
                        }
                    }
                }
                _ = tokio::time::sleep(session.deadline().map_or(Duration::ZERO, |d| d.saturating_sub(boottime()))), if self.quorum => {
                    if let Err(exit) = self.check_deadline(session) {
                        return exit;
                    }
                }
            }
        }
    }

    /// Checks the lease deadline (suspend counted). Past it, every address goes (policy stop)
    /// and the round does nothing more; the session is kept, because etcd may still hold the
    /// lease (it extends leases when its own leader changes): when keepalives are acknowledged
    /// again, the owner keys are still ours and the addresses come back at once. A lease etcd
    /// says is gone ends the session.
    fn check_deadline(&mut self, session: &Session) -> Result<bool, Exit> {
        let Some(deadline) = session.deadline() else {
            self.drop_everything("etcd says the lease is gone");
            return Err(Exit::Lost);
        };
        let now = boottime();
        if now < deadline {
            return Ok(true);
        }
        if now >= deadline + margin(self.cfg.lease_ttl) + self.cfg.lease_ttl {
            self.quorum = false;
            return Err(Exit::Reconnect);
        }
        if self.quorum {
            self.quorum = false;
            if self.cfg.no_quorum_policy == NoQuorumPolicy::Stop {
                self.drop_everything(&format!(
                    "no keepalive acknowledged by etcd for {:?}",
                    self.cfg.lease_ttl - margin(self.cfg.lease_ttl)
                ));
            } else {
                let held = self.agent.held().len();
                self.fail(format!(
                    "no keepalive acknowledged by etcd: keeping {held} VIP(s) (no-quorum-policy freeze)"
                ));
            }
            self.publish();
        }
        Ok(false)
    }

    /// Removes every configured VIP's address, held or not: an abandoned round may have added
    /// one the agent was not yet told about.
    fn drop_everything(&mut self, why: &str) {
        let held: Vec<String> = self
            .agent
            .drop_all()
            .into_iter()
            .filter_map(|a| match a {
                Action::Drop(v) => Some(v),
                _ => None,
            })
            .collect();
        let n = held.len();
        for v in &held {
            self.del_address(v);
        }
        // The others too, quietly: an abandoned round may have added one.
        for v in self.cfg.vips.clone() {
            if !held.contains(&v.name) {
                self.garp.remove(&v.name);
                let _ = address::del(&v);
            }
        }
        self.fail(format!(
            "{why}: dropped {n} VIP(s) before the lease can expire"
        ));
    }

    async fn round(&mut self, client: &Client, session: &Session) -> Option<Exit> {
        match self.check_deadline(session) {
            Err(exit) => return Some(exit),
            Ok(false) => return None,
            Ok(true) => {}
        }
        self.quorum = true;
        self.announce_due();
        self.refresh_members(client).await;
        let mut c = client.clone();
        let read = timeout(
            self.op_timeout(),
            c.get(self.prefix.as_str(), Some(GetOptions::new().with_prefix())),
        )
        .await;
        let resp = match read {
            Ok(Ok(r)) => r,
            // The deadline decides what a failing read means.
            _ => return None,
        };
        let (snap, _bad) = Snapshot::from_kvs(resp.kvs().iter().filter_map(|kv| {
            let key = kv.key_str().ok()?.strip_prefix(self.prefix.as_str())?;
            Some(Kv {
                key,
                value: kv.value(),
                lease: kv.lease(),
                create_revision: kv.create_revision(),
                mod_revision: kv.mod_revision(),
            })
        }));
        match self.check_deadline(session) {
            Err(exit) => return Some(exit),
            Ok(false) => return None,
            Ok(true) => {}
        }
        if self.cfg.config_from_etcd {
            if let Some(tx) = &self.config_tx {
                tx.send_if_modified(|cur| {
                    if *cur == snap.config {
                        return false;
                    }
                    cur.clone_from(&snap.config);
                    true
                });
            }
        }
        let peers: PeerAddrs = snap
            .nodes
            .iter()
            .filter_map(|(n, r)| Some((n.clone(), r.peer.as_deref()?.parse().ok()?)))
            .collect();
        self.peers_tx.send_if_modified(|cur| {
            let changed = *cur != peers;
            if changed {
                *cur = peers;
            }
            changed
        });
        self.take_extra(client, session).await;
        let actions = self.agent.round(boottime(), &snap, session.lease);
        self.snap = snap;
        for a in actions {
            self.perform(client, session, a).await;
        }
        self.publish();
        None
    }

    pub(crate) fn vip(&self, name: &str) -> Option<&fulcrum_config::model::ClusterVip> {
        self.cfg.vips.iter().find(|v| v.name == name)
    }

    pub(crate) fn key(&self, kind: &str, name: &str) -> String {
        format!("{}{kind}/{name}", self.prefix)
    }

    fn del_address(&mut self, vip: &str) {
        self.garp.remove(vip);
        if let Some(v) = self.vip(vip).cloned() {
            if let Err(e) = address::del(&v) {
                self.fail(format!(
                    "removing {} ({}) from {}: {e}",
                    v.name, v.address, v.dev
                ));
            } else {
                tracing::info!("cluster: released {} ({})", v.name, v.address);
            }
        }
    }

    /// Repeated gratuitous ARPs / NAs, one a second, while the VIP is still held.
    fn announce_due(&mut self) {
        let now = boottime();
        let due: Vec<String> = self
            .garp
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(v, _)| v.clone())
            .collect();
        for vip in due {
            let Some((_, left)) = self.garp.remove(&vip) else {
                continue;
            };
            if !self.agent.held().contains_key(&vip) {
                continue;
            }
            if let Some(v) = self.vip(&vip).cloned() {
                let _ = address::announce(&v);
            }
            if left > 1 {
                self.garp
                    .insert(vip, (now + Duration::from_secs(1), left - 1));
            }
        }
    }

    fn update_serves(&mut self) {
        let serves = self
            .cfg
            .vips
            .iter()
            .filter(|v| !self.cfg.colocation_frontends || !self.failing.contains(&v.address))
            .filter(|v| !self.broken.contains(&v.name))
            .map(|v| v.name.clone())
            .collect();
        self.agent.set_serves(serves);
    }

    async fn refresh_members(&mut self, client: &Client) {
        let now = boottime();
        if self
            .members_at
            .is_some_and(|t| now.saturating_sub(t) < Duration::from_secs(5))
        {
            return;
        }
        self.members_at = Some(now);
        let mut c = client.clone();
        if let Ok(Ok(r)) = timeout(self.op_timeout(), c.member_list()).await {
            self.members = r
                .members()
                .iter()
                .map(|m| Member {
                    name: m.name().to_string(),
                    client_urls: m.client_urls().to_vec(),
                })
                .collect();
        }
    }
}

#[path = "runner_extra.rs"]
mod extra;
#[path = "runner_perform.rs"]
mod perform;
