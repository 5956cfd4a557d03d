//! Wires stick-table replication (fulcrum-peers) into the binary: one replicator per peer set
//! — a `peers NAME` section (this node is the peer named `localpeer`, else the host name), or
//! in cluster mode with `peers-bind` the cluster's online nodes (their addresses come from
//! etcd) — over the proxy's per-table hubs. A reload that changes a peer set restarts its
//! replicator (the peers resync on connect); the tables themselves survive every reload.

use fulcrum_config::model::PeerSet;
use fulcrum_config::Config;
use fulcrum_peers::{Entry, Replicator, Tables};
use fulcrum_proxy::stick_sync::{self, Hub};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

type Addrs = BTreeMap<String, SocketAddr>;

/// What one replicator runs.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    /// The `peers` section's name, or `cluster`.
    set: String,
    me: String,
    bind: SocketAddr,
    /// The section's peers; None: the cluster's nodes.
    peers: Option<Addrs>,
    tables: Vec<String>,
}

#[derive(Default)]
pub struct PeersPart {
    running: Vec<(Plan, Replicator)>,
}

/// The peer sets `config` asks for (a set this node is not part of is logged and skipped).
fn plans(config: &Config) -> Vec<Plan> {
    let mut by_set: BTreeMap<String, Plan> = BTreeMap::new();
    for p in config.backends() {
        let Some(t) = &p.stick_table else { continue };
        let plan = match config.stick_peers(t) {
            None => continue,
            Some(PeerSet::Cluster(c)) => {
                let Some(bind) = c.peers_bind else { continue };
                Plan {
                    set: "cluster".into(),
                    me: c.node.clone(),
                    bind,
                    peers: None,
                    tables: Vec::new(),
                }
            }
            Some(PeerSet::Section(s)) => {
                let me = config.local_peer();
                // Warned at load (`fulcrum check` too): no peer is this node.
                let Some(local) = s.peers.iter().find(|q| q.name == me) else {
                    continue;
                };
                let Some(bind) = local.address.or(s.bind) else {
                    continue;
                };
                Plan {
                    set: s.name.clone(),
                    me,
                    bind,
                    peers: Some(
                        s.peers
                            .iter()
                            .filter_map(|q| Some((q.name.clone(), q.address?)))
                            .collect(),
                    ),
                    tables: Vec::new(),
                }
            }
        };
        by_set
            .entry(plan.set.clone())
            .or_insert(plan)
            .tables
            .push(p.name.clone());
    }
    by_set.into_values().collect()
}

/// The proxy's hubs of one peer set's tables.
struct ProxyTables(Vec<(String, Arc<Hub>)>);

impl Tables for ProxyTables {
    fn take_pending(&self) -> Vec<(String, Vec<Entry>)> {
        self.0
            .iter()
            .map(|(n, h)| {
                (
                    n.clone(),
                    h.take_pending()
                        .into_iter()
                        .map(to_peer)
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, e)| !e.is_empty())
            .collect()
    }

    fn live(&self, table: &str, now: Instant) -> Vec<Entry> {
        self.hub(table)
            .map(|h| h.live(now).into_iter().map(to_peer).collect())
            .unwrap_or_default()
    }

    fn apply(&self, table: &str, now: Instant, entries: Vec<Entry>) -> usize {
        self.hub(table).map_or(0, |h| {
            h.apply(
                now,
                entries.into_iter().map(|e| stick_sync::Entry {
                    key: e.key,
                    server: e.server,
                    expires: e.expires,
                }),
            )
        })
    }
}

impl ProxyTables {
    fn hub(&self, table: &str) -> Option<&Arc<Hub>> {
        self.0.iter().find(|(n, _)| n == table).map(|(_, h)| h)
    }
}

fn to_peer(e: stick_sync::Entry) -> Entry {
    Entry {
        key: e.key,
        server: e.server,
        expires: e.expires,
    }
}

impl PeersPart {
    /// Starts (or, for changed plans, restarts) the replicators `config` asks for.
    /// `cluster_peers`: the cluster's online nodes (None without a cluster); `restarted`: the
    /// cluster node was (re)started, so the cluster's set restarts on its new address feed.
    pub async fn apply(
        &mut self,
        config: &Config,
        cluster_peers: Option<watch::Receiver<Addrs>>,
        restarted: bool,
    ) {
        let wanted = plans(config);
        let mut keep = Vec::new();
        for (plan, r) in std::mem::take(&mut self.running) {
            // The cluster's set restarts with the cluster node (a new address feed).
            if wanted.contains(&plan) && !(plan.peers.is_none() && restarted) {
                keep.push((plan, r));
            } else {
                tracing::info!("peers {}: stopped", plan.set);
                r.stop().await;
            }
        }
        self.running = keep;
        for plan in wanted {
            if self.running.iter().any(|(p, _)| *p == plan) {
                continue;
            }
            let peers = match (&plan.peers, &cluster_peers) {
                (Some(a), _) => watch::channel(a.clone()).1,
                (None, Some(rx)) => rx.clone(),
                (None, None) => continue,
            };
            let hubs = plan
                .tables
                .iter()
                .map(|t| (t.clone(), stick_sync::hub(t)))
                .collect();
            let cfg = fulcrum_peers::Config::new(&plan.me, plan.tables.iter().cloned());
            match fulcrum_peers::start(cfg, plan.bind, peers, Arc::new(ProxyTables(hubs))).await {
                Ok(r) => self.running.push((plan, r)),
                Err(e) => tracing::error!(
                    "peers {}: cannot listen on {}: {e}; tables {:?} are not replicated",
                    plan.set,
                    plan.bind,
                    plan.tables
                ),
            }
        }
    }

    /// The `peers` member of the status report: one object per peer set.
    pub fn status_json(&self) -> serde_json::Value {
        use std::sync::atomic::Ordering::Relaxed;
        self.running
            .iter()
            .map(|(plan, r)| {
                serde_json::json!({
                    "set": plan.set,
                    "node": plan.me,
                    "listen": r.local.to_string(),
                    "tables": plan.tables,
                    "connected": *r.connected.borrow(),
                    "malformed": r.refused.malformed.load(Relaxed),
                    "refused": r.refused.messages.load(Relaxed),
                })
            })
            .collect()
    }

    pub async fn shutdown(&mut self) {
        for (_, r) in self.running.drain(..) {
            r.stop().await;
        }
    }
}

/// `fulcrum status` text for the `peers` member.
pub fn render(report: &serde_json::Value) -> String {
    use crate::cmd::status::{list, s};
    use std::fmt::Write as _;
    let mut out = String::new();
    for p in list(report, "peers") {
        let names = |k: &str| -> Vec<String> {
            list(p, k)
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let _ = writeln!(
            out,
            "\nPeers {}: {} on {}, tables {}; connected to [ {} ]; refused {} malformed, {} messages",
            s(p, "set"),
            s(p, "node"),
            s(p, "listen"),
            names("tables").join(" "),
            names("connected").join(" "),
            p.get("malformed").and_then(serde_json::Value::as_u64).unwrap_or(0),
            p.get("refused").and_then(serde_json::Value::as_u64).unwrap_or(0),
        );
    }
    out
}
