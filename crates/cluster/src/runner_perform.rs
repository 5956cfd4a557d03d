//! How a node performs what its agent decided: each `Action` becomes a guarded etcd
//! transaction (claim, release, hold a VIP; write a report), and the address work that
//! follows it (add a claimed VIP only while the lease deadline has not passed, announce it,
//! remove a released one).

use super::Runner;
use crate::address;
use crate::agent::Action;
use crate::clock::{boottime, unix_ms};
use crate::session::Session;
use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn, TxnOp};
use std::time::Duration;
use tokio::time::timeout;

impl Runner {
    pub(super) async fn perform(&mut self, client: &Client, session: &Session, action: Action) {
        let mut c = client.clone();
        let lease = session.lease;
        let me = self.cfg.node.clone();
        let t = self.op_timeout();
        let with_lease = || Some(PutOptions::new().with_lease(lease));
        match action {
            Action::Campaign => {
                let k = format!("{}leader", self.prefix);
                let txn = Txn::new()
                    .when([Compare::create_revision(k.as_str(), CompareOp::Equal, 0)])
                    .and_then([TxnOp::put(k.as_str(), me.as_str(), with_lease())]);
                if let Ok(Ok(r)) = timeout(t, c.txn(txn)).await {
                    if r.succeeded() {
                        tracing::info!("cluster: {me} is the leader");
                    }
                }
            }
            Action::Assign {
                leader_rev,
                set,
                clear,
            } => {
                let k = format!("{}leader", self.prefix);
                let mut ops: Vec<TxnOp> = set
                    .iter()
                    .map(|(v, n)| TxnOp::put(self.key("assign", v), n.as_str(), None))
                    .collect();
                ops.extend(
                    clear
                        .iter()
                        .map(|v| TxnOp::delete(self.key("assign", v), None)),
                );
                let txn = Txn::new()
                    .when([
                        Compare::create_revision(k.as_str(), CompareOp::Equal, leader_rev),
                        Compare::value(k.as_str(), CompareOp::Equal, me.as_str()),
                    ])
                    .and_then(ops);
                match timeout(t, c.txn(txn)).await {
                    Ok(Ok(r)) if r.succeeded() => {
                        for (v, n) in &set {
                            tracing::info!("cluster: {v} assigned to {n}");
                        }
                    }
                    _ => {}
                }
            }
            Action::Claim { vip, exists } => {
                if !exists {
                    let k = self.key("owner", &vip);
                    let value =
                        serde_json::json!({ "node": me, "since_ms": unix_ms() }).to_string();
                    let txn = Txn::new()
                        .when([Compare::create_revision(k.as_str(), CompareOp::Equal, 0)])
                        .and_then([TxnOp::put(k.as_str(), value, with_lease())]);
                    match timeout(t, c.txn(txn)).await {
                        Ok(Ok(r)) if r.succeeded() => {}
                        _ => return,
                    }
                }
                // The transaction may have returned late: never add past the deadline.
                if session.deadline().is_none_or(|d| boottime() >= d) {
                    return;
                }
                let Some(v) = self.vip(&vip).cloned() else {
                    return;
                };
                match address::add(&v) {
                    Ok(()) => {
                        tracing::info!(
                            "cluster: took {} ({}/{} on {})",
                            v.name,
                            v.address,
                            v.prefix,
                            v.dev
                        );
                        self.agent.claimed(&vip, unix_ms());
                        if let Err(e) = address::announce(&v) {
                            self.fail(format!("announcing {} on {}: {e}", v.address, v.dev));
                        }
                        let left = self.cfg.garp_repeat.saturating_sub(1);
                        if left > 0 {
                            self.garp
                                .insert(vip.clone(), (boottime() + Duration::from_secs(1), left));
                        }
                    }
                    Err(e) => {
                        self.fail(format!(
                            "adding {} ({}) on {}: {e}",
                            v.name, v.address, v.dev
                        ));
                        self.broken.insert(vip.clone());
                        self.update_serves();
                        let k = self.key("owner", &vip);
                        let txn = Txn::new()
                            .when([Compare::lease(k.as_str(), CompareOp::Equal, lease)])
                            .and_then([TxnOp::delete(k.as_str(), None)]);
                        let _ = timeout(t, c.txn(txn)).await;
                    }
                }
            }
            Action::Release(vip) => {
                self.del_address(&vip);
                let k = self.key("owner", &vip);
                let txn = Txn::new()
                    .when([Compare::lease(k.as_str(), CompareOp::Equal, lease)])
                    .and_then([TxnOp::delete(k.as_str(), None)]);
                let _ = timeout(t, c.txn(txn)).await;
            }
            Action::Drop(vip) => self.del_address(&vip),
            Action::Publish(record) => {
                let k = self.key("nodes", &me);
                let value = serde_json::to_string(&record).unwrap_or_default();
                let _ = timeout(t, c.put(k, value, with_lease())).await;
            }
        }
    }
}
