//! The node's view of the cluster for `fulcrum status`, published after every round: nodes
//! (online, standby, offline, this one without quorum), each VIP's holder and since when,
//! etcd members, failed actions.

use crate::runner::Runner;
use crate::status::{NodeStatus, Status, VipStatus};
use std::collections::BTreeSet;

impl Runner {
    pub(crate) fn publish(&self) {
        let me = &self.cfg.node;
        let snap = &self.snap;
        let names: BTreeSet<&String> = snap
            .known
            .iter()
            .chain(snap.nodes.keys())
            .chain(std::iter::once(me))
            .collect();
        let nodes = names
            .into_iter()
            .map(|n| {
                let state = if n == me && !self.quorum {
                    "online (without quorum)"
                } else if !snap.nodes.contains_key(n) {
                    "offline"
                } else if snap.standby.contains(n) {
                    "standby"
                } else {
                    "online"
                };
                NodeStatus {
                    name: n.clone(),
                    state: state.to_string(),
                }
            })
            .collect();
        let vips = self
            .cfg
            .vips
            .iter()
            .map(|v| {
                let owner = snap.owners.get(&v.name);
                VipStatus {
                    name: v.name.clone(),
                    address: format!("{}/{}", v.address, v.prefix),
                    dev: v.dev.clone(),
                    holder: owner.map(|o| o.node.clone()),
                    since_ms: owner.map(|o| o.since_ms),
                    assigned: snap.assign.get(&v.name).cloned(),
                    moved_to: snap.moves.get(&v.name).cloned(),
                }
            })
            .collect();
        let status = Status {
            cluster: self.cfg.name.clone(),
            node: me.clone(),
            quorum: self.quorum,
            leader: snap.leader.as_ref().map(|(n, _)| n.clone()),
            lease_ttl_s: self.cfg.lease_ttl.as_secs(),
            nodes,
            vips,
            etcd_members: self.members.clone(),
            failed_actions: self.failed.iter().cloned().collect(),
        };
        self.status.send_if_modified(|s| {
            if *s == status {
                return false;
            }
            *s = status;
            true
        });
    }
}
