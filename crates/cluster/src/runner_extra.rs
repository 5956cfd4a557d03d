//! VIPs handed over at run time (the LBaaS API's load balancers' VIPs, when a `cluster`
//! section places addresses): they join the placement next to the section's own `vip`s, and
//! those no longer handed over are released.

use super::Runner;
use crate::agent::Action;
use crate::session::Session;
use etcd_client::Client;
use std::collections::BTreeSet;
use tokio::time::timeout;

impl Runner {
    /// VIPs handed over at run time join the placement like the section's; those no longer
    /// handed over are released first (address removed, owner key deleted if ours). A VIP
    /// whose name or address the section already has is the section's.
    pub(super) async fn take_extra(&mut self, client: &Client, session: &Session) {
        if !self.extra.has_changed().unwrap_or(false) {
            return;
        }
        let extra = self.extra.borrow_and_update().clone();
        let mut vips = self.base_vips.clone();
        for v in extra {
            if !vips
                .iter()
                .any(|b| b.name == v.name || b.address == v.address)
            {
                vips.push(v);
            }
        }
        let gone: Vec<String> = self
            .cfg
            .vips
            .iter()
            .map(|v| v.name.clone())
            .filter(|n| !vips.iter().any(|v| v.name == *n))
            .collect();
        for name in gone {
            if self.agent.held().contains_key(&name) {
                self.perform(client, session, Action::Release(name)).await;
            } else {
                let k = self.key("owner", &name);
                let txn = etcd_client::Txn::new()
                    .when([etcd_client::Compare::lease(
                        k.as_str(),
                        etcd_client::CompareOp::Equal,
                        session.lease,
                    )])
                    .and_then([etcd_client::TxnOp::delete(k.as_str(), None)]);
                let mut c = client.clone();
                let _ = timeout(self.op_timeout(), c.txn(txn)).await;
            }
        }
        tracing::info!(
            "cluster: placing {} VIP(s) ({} handed over at run time)",
            vips.len(),
            vips.len() - self.base_vips.len()
        );
        self.cfg.vips = vips;
        self.agent.set_vips(
            self.cfg
                .vips
                .iter()
                .map(|v| crate::placement::Vip {
                    name: v.name.clone(),
                    prefer: v.prefer.clone(),
                })
                .collect(),
        );
        let names: BTreeSet<String> = self.cfg.vips.iter().map(|v| v.name.clone()).collect();
        self.broken.retain(|b| names.contains(b));
        self.update_serves();
    }
}
