//! Cluster mode: many service VIPs placed over N nodes through etcd, moved on failure, never
//! held by two nodes at once (Pacemaker's job in the seeds, on etcd's consensus).
//!
//! Layers, lowest first: `placement` (pure: where VIPs should run), `keys` (the etcd key
//! layout, pure decode), `agent` (pure: one node's round, actions out), `status` (what
//! `fulcrum status` shows, runtime commands); adapters: `clock` (CLOCK_BOOTTIME), `session`
//! (the etcd lease and its deadline), `address` (netlink + gratuitous ARP/NA, reusing
//! fulcrum-vrrp's), `runner` (the task tying them together). `start` is the entry point.

pub mod address;
pub mod agent;
pub mod clock;
mod commands;
pub mod etcd;
pub mod keys;
pub mod placement;
mod report;
pub mod runner;
pub mod session;
pub mod status;

pub use status::{Command, Status};

use fulcrum_config::model::Cluster;
use std::collections::BTreeSet;
use tokio::sync::{mpsc, oneshot, watch};

/// The running cluster node.
pub struct ClusterHandle {
    config: Cluster,
    commands: mpsc::Sender<runner::CommandRequest>,
    status: watch::Receiver<Status>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    peers: watch::Receiver<runner::PeerAddrs>,
    extra: watch::Sender<Vec<fulcrum_config::model::ClusterVip>>,
}

/// Starts this node of the cluster. Never fails: etcd is reached in the background (and
/// again after any loss), which `status()` shows. `proxy` says which addresses the local
/// proxy cannot serve (the colocation constraint).
/// With `config-from-etcd`, every new revision of the shared proxy config goes to `shared`.
pub fn start(
    config: &Cluster,
    proxy: watch::Receiver<fulcrum_vrrp::ProxyHealth>,
    shared: Option<watch::Sender<runner::SharedConfig>>,
) -> ClusterHandle {
    let vips = config
        .vips
        .iter()
        .map(|v| placement::Vip {
            name: v.name.clone(),
            prefer: v.prefer.clone(),
        })
        .collect();
    let agent = agent::Agent::new(agent::AgentConfig {
        me: config.node.clone(),
        vips,
        anti_affinity: config
            .anti_affinity
            .iter()
            .map(|g| g.vips.clone())
            .collect(),
        rebalance_after: config.rebalance_after,
        settle: config.lease_ttl,
        peer: config.peers_bind.map(|a| a.to_string()),
    });
    let (peers_tx, peers_rx) = watch::channel(Default::default());
    let (extra_tx, extra_rx) = watch::channel(Vec::new());
    let (status_tx, status_rx) = watch::channel(Status::default());
    let runner = runner::Runner {
        cfg: config.clone(),
        prefix: runner::prefix_of(config),
        agent,
        status: status_tx,
        failing: BTreeSet::new(),
        failed: Default::default(),
        broken: BTreeSet::new(),
        garp: Default::default(),
        members: Vec::new(),
        members_at: None,
        snap: Default::default(),
        quorum: false,
        config_tx: shared,
        peers_tx,
        base_vips: config.vips.clone(),
        extra: extra_rx,
    };
    runner.publish();
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(runner.run(cmd_rx, proxy, stop_rx));
    tracing::info!(
        "cluster {}: node {} with {} VIP(s), etcd {}",
        config.name,
        config.node,
        config.vips.len(),
        config.etcd.join(",")
    );
    ClusterHandle {
        config: config.clone(),
        commands: cmd_tx,
        status: status_rx,
        stop: Some(stop_tx),
        task: Some(task),
        peers: peers_rx,
        extra: extra_tx,
    }
}

impl ClusterHandle {
    pub fn config(&self) -> &Cluster {
        &self.config
    }

    /// VIPs placed besides the section's (the LBaaS API's load balancers' VIPs): each change
    /// is taken at the next round; VIPs left out are released.
    pub fn set_extra_vips(&self, vips: Vec<fulcrum_config::model::ClusterVip>) {
        self.extra.send_if_modified(|cur| {
            let changed = *cur != vips;
            if changed {
                *cur = vips;
            }
            changed
        });
    }

    /// The online nodes that publish a `peers-bind` address (stick-table replication).
    pub fn peers(&self) -> watch::Receiver<runner::PeerAddrs> {
        self.peers.clone()
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Runs a runtime command (standby, move, clear) through etcd.
    pub async fn command(&self, cmd: Command) -> Result<String, String> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send((cmd, tx))
            .await
            .map_err(|_| "the cluster task has stopped".to_string())?;
        rx.await
            .unwrap_or_else(|_| Err("the cluster task has stopped".to_string()))
    }

    /// Drops every VIP and revokes the lease, so the others take over at once.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), t).await;
        }
    }
}
