//! The runtime commands (`fulcrum cluster standby|unstandby|move|clear`) written to etcd by
//! the node that received them: every node's leader round reads them back. A move with a
//! lifetime is a key on a lease of that lifetime, so etcd itself ends the preference.

use crate::runner::Runner;
use crate::status::Command;
use etcd_client::{Client, PutOptions};
use tokio::time::timeout;

impl Runner {
    pub(crate) async fn command(
        &mut self,
        client: &Client,
        cmd: Command,
    ) -> Result<String, String> {
        let mut c = client.clone();
        let t = self.op_timeout() * 2;
        let check = |r: Result<Result<(), etcd_client::Error>, tokio::time::error::Elapsed>| match r
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("etcd: {e}")),
            Err(_) => Err("etcd did not answer in time".to_string()),
        };
        match cmd {
            Command::Standby { node, on } => {
                self.known_node(&node)?;
                let k = self.key("standby", &node);
                let r = if on {
                    timeout(t, async { c.put(k, "on", None).await.map(|_| ()) }).await
                } else {
                    timeout(t, async { c.delete(k, None).await.map(|_| ()) }).await
                };
                check(r)?;
                Ok(format!(
                    "node {node} {}",
                    if on { "in standby" } else { "out of standby" }
                ))
            }
            Command::Move {
                vip,
                node,
                lifetime,
            } => {
                if self.vip(&vip).is_none() {
                    return Err(format!("no vip '{vip}' in the cluster section"));
                }
                self.known_node(&node)?;
                let k = self.key("move", &vip);
                let r = timeout(t, async {
                    let opts = match lifetime {
                        Some(l) => {
                            let secs = i64::try_from(l.as_secs()).unwrap_or(i64::MAX);
                            Some(
                                PutOptions::new().with_lease(c.lease_grant(secs, None).await?.id()),
                            )
                        }
                        None => None,
                    };
                    c.put(k, node.as_str(), opts).await.map(|_| ())
                })
                .await;
                check(r)?;
                Ok(match lifetime {
                    Some(l) => format!("{vip} moves to {node} (preference for {}s)", l.as_secs()),
                    None => format!("{vip} moves to {node} (until 'clear {vip}')"),
                })
            }
            Command::Clear { vip } => {
                let k = self.key("move", &vip);
                check(timeout(t, async { c.delete(k, None).await.map(|_| ()) }).await)?;
                Ok(format!("move preference of {vip} cleared"))
            }
        }
    }

    /// A node this cluster has seen (online now, or once: `known/NODE`).
    fn known_node(&self, node: &str) -> Result<(), String> {
        if self.snap.known.contains(node) || self.snap.nodes.contains_key(node) {
            return Ok(());
        }
        let mut names: Vec<&str> = self.snap.known.iter().map(String::as_str).collect();
        names.extend(self.snap.nodes.keys().map(String::as_str));
        names.sort_unstable();
        names.dedup();
        Err(format!(
            "no node '{node}' in this cluster (known: {})",
            names.join(", ")
        ))
    }
}
