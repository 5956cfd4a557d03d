//! One node's decisions, round by round: fed a snapshot of the cluster's keys, the current
//! (suspend-counting) time and its lease, it says what to write and which addresses to add or
//! remove. Pure: the etcd adapter performs the actions and reports back (`claimed`).
//!
//! Safety lives in the order of actions, not in timing: an address is added only after this
//! node created `owner/VIP` on its own lease (create_revision == 0, so nobody else holds it);
//! an address is removed the moment the owner key is seen to be someone else's or gone; and
//! the adapter removes every address before its lease can have expired (`drop_all`).

use crate::keys::{NodeRecord, Snapshot};
use crate::placement::{self, Input};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// What a node is configured with.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub me: String,
    pub vips: Vec<placement::Vip>,
    pub anti_affinity: Vec<Vec<String>>,
    pub rebalance_after: Duration,
    /// A fresh cluster (no assignment yet) is first placed once membership has not changed for
    /// this long, so nodes starting together share the VIPs (placement is sticky after).
    pub settle: Duration,
    /// `peers-bind`, published in this node's record.
    pub peer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Try to become the leader (create `leader` on this node's lease if absent).
    Campaign,
    /// As the leader (guarded by the leader key's create revision), set and clear assignments.
    Assign {
        leader_rev: i64,
        set: Vec<(String, String)>,
        clear: Vec<String>,
    },
    /// Create `owner/VIP` on this node's lease (or find it already ours: `exists`), then add the
    /// address and announce it; report success with `claimed`.
    Claim { vip: String, exists: bool },
    /// Remove the address, then delete `owner/VIP` if it is still ours.
    Release(String),
    /// Remove the address at once: the owner key is no longer ours.
    Drop(String),
    /// Put `nodes/ME` on this node's lease.
    Publish(NodeRecord),
}

/// Membership as the leader last saw it: a change restarts the quiet time before rebalancing.
type Signature = (
    BTreeSet<String>,
    BTreeSet<String>,
    BTreeMap<String, NodeRecord>,
);

pub struct Agent {
    cfg: AgentConfig,
    /// VIPs whose address this node has added, with since when (unix ms).
    held: BTreeMap<String, u64>,
    serves: BTreeSet<String>,
    // Leader bookkeeping (meaningful while this node leads).
    first_seen: BTreeMap<String, Duration>,
    signature: Option<Signature>,
    last_change: Duration,
}

impl Agent {
    pub fn new(cfg: AgentConfig) -> Agent {
        let serves = cfg.vips.iter().map(|v| v.name.clone()).collect();
        Agent {
            cfg,
            held: BTreeMap::new(),
            serves,
            first_seen: BTreeMap::new(),
            signature: None,
            last_change: Duration::ZERO,
        }
    }

    pub fn me(&self) -> &str {
        &self.cfg.me
    }

    /// The VIPs placed: the section's plus those handed over at run time (the LBaaS API's
    /// load balancers). Held VIPs no longer listed are forgotten here (the runner has
    /// released their addresses and owner keys first).
    pub fn set_vips(&mut self, vips: Vec<placement::Vip>) {
        self.held
            .retain(|name, _| vips.iter().any(|v| v.name == *name));
        self.cfg.vips = vips;
    }

    /// The VIPs this node can serve now (colocation with a healthy frontend).
    pub fn set_serves(&mut self, serves: BTreeSet<String>) {
        self.serves = serves;
    }

    pub fn held(&self) -> &BTreeMap<String, u64> {
        &self.held
    }

    /// The address of `vip` is up and announced.
    pub fn claimed(&mut self, vip: &str, since_ms: u64) {
        self.held.insert(vip.to_string(), since_ms);
    }

    /// Every address is to go now (the lease may expire elsewhere soon, or we stop).
    pub fn drop_all(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.held)
            .into_keys()
            .map(Action::Drop)
            .collect()
    }

    /// One round. `lease` is this node's live lease id.
    pub fn round(&mut self, now: Duration, snap: &Snapshot, lease: i64) -> Vec<Action> {
        let me = self.cfg.me.clone();
        let mut out = Vec::new();
        let record = NodeRecord {
            serves: self.serves.iter().cloned().collect(),
            peer: self.cfg.peer.clone(),
        };
        if snap.nodes.get(&me) != Some(&record) {
            out.push(Action::Publish(record));
        }
        match &snap.leader {
            None => out.push(Action::Campaign),
            Some((leader, rev)) if *leader == me => {
                if let Some(a) = self.lead(now, snap, *rev) {
                    out.push(a);
                }
            }
            Some(_) => {
                self.signature = None;
            }
        }
        for v in &self.cfg.vips {
            let vip = &v.name;
            let mine = snap
                .owners
                .get(vip)
                .is_some_and(|o| o.node == me && o.lease == lease);
            let assigned = snap.assign.get(vip) == Some(&me);
            if self.held.contains_key(vip) {
                if !mine {
                    self.held.remove(vip);
                    out.push(Action::Drop(vip.clone()));
                } else if !assigned {
                    self.held.remove(vip);
                    out.push(Action::Release(vip.clone()));
                }
            } else if mine && !assigned {
                out.push(Action::Release(vip.clone()));
            } else if assigned && (mine || !snap.owners.contains_key(vip)) {
                out.push(Action::Claim {
                    vip: vip.clone(),
                    exists: mine,
                });
            }
        }
        out
    }

    /// The leader's part: the desired assignment, written as a diff.
    fn lead(&mut self, now: Duration, snap: &Snapshot, rev: i64) -> Option<Action> {
        let online: BTreeSet<String> = snap.nodes.keys().cloned().collect();
        let sig = (online.clone(), snap.standby.clone(), snap.nodes.clone());
        if self.signature.as_ref() != Some(&sig) {
            self.signature = Some(sig);
            self.last_change = now;
        }
        self.first_seen.retain(|n, _| online.contains(n));
        for n in &online {
            self.first_seen.entry(n.clone()).or_insert(now);
        }
        if snap.assign.is_empty() && now.saturating_sub(self.last_change) < self.cfg.settle {
            return None;
        }
        let names: BTreeSet<&String> = snap.known.iter().chain(online.iter()).collect();
        let nodes = names
            .into_iter()
            .map(|n| placement::Node {
                name: n.clone(),
                online: online.contains(n),
                standby: snap.standby.contains(n),
                serves: snap
                    .nodes
                    .get(n)
                    .map(|r| r.serves.iter().cloned().collect()),
                online_for: self
                    .first_seen
                    .get(n)
                    .map_or(Duration::ZERO, |t| now.saturating_sub(*t)),
            })
            .collect();
        let known: BTreeSet<&String> = self.cfg.vips.iter().map(|v| &v.name).collect();
        let input = Input {
            vips: self.cfg.vips.clone(),
            nodes,
            current: snap
                .assign
                .iter()
                .filter(|(v, _)| known.contains(v))
                .map(|(v, n)| (v.clone(), n.clone()))
                .collect(),
            moves: snap.moves.clone(),
            anti_affinity: self.cfg.anti_affinity.clone(),
            rebalance_after: self.cfg.rebalance_after,
            quiet_for: now.saturating_sub(self.last_change),
        };
        let desired = placement::place(&input);
        let set: Vec<(String, String)> = desired
            .iter()
            .filter(|(v, n)| snap.assign.get(*v) != Some(*n))
            .map(|(v, n)| (v.clone(), n.clone()))
            .collect();
        // Assignments of VIPs that run nowhere now, or that no longer exist in the config.
        let clear: Vec<String> = snap
            .assign
            .keys()
            .filter(|v| !desired.contains_key(*v))
            .cloned()
            .collect();
        if set.is_empty() && clear.is_empty() {
            return None;
        }
        Some(Action::Assign {
            leader_rev: rev,
            set,
            clear,
        })
    }
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
