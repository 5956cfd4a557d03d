//! Wires cluster mode (fulcrum-cluster) into the binary: starts it from the model's `cluster`
//! section with the proxy's health (the colocation constraint), restarts it when a reload
//! changes the section, runs the runtime commands (`fulcrum cluster standby|move|clear`), and
//! renders the cluster part of `fulcrum status` as `pcs status` shows it.

use crate::cmd::status::{list, s};
use crate::status_report::utc;
use fulcrum_cluster::runner::SharedConfig;
use fulcrum_cluster::{ClusterHandle, Command};
use fulcrum_config::Config;
use fulcrum_vrrp::ProxyHealth;
use serde_json::Value;
use std::fmt::Write as _;
use tokio::sync::watch;

/// The cluster node, if the config has a `cluster` section.
pub struct ClusterPart {
    handle: Option<ClusterHandle>,
    proxy: watch::Receiver<ProxyHealth>,
    /// The shared proxy config read from etcd (`config-from-etcd`), across cluster restarts.
    shared: watch::Sender<SharedConfig>,
    /// VIPs handed over by the LBaaS API, placed with the section's (kept across restarts).
    extra: Vec<fulcrum_config::model::ClusterVip>,
}

impl ClusterPart {
    pub fn start(config: &Config, proxy: watch::Receiver<ProxyHealth>) -> ClusterPart {
        let (shared, _) = watch::channel(None);
        let handle = config
            .cluster
            .as_ref()
            .map(|c| fulcrum_cluster::start(c, proxy.clone(), Some(shared.clone())));
        ClusterPart {
            handle,
            proxy,
            shared,
            extra: Vec::new(),
        }
    }

    /// Whether a cluster section places addresses on this node.
    pub fn running(&self) -> bool {
        self.handle.is_some()
    }

    /// The LBaaS API's VIPs, placed by the cluster like the section's own `vip`s.
    pub fn set_extra_vips(&mut self, vips: Vec<fulcrum_config::model::ClusterVip>) {
        if let Some(h) = &self.handle {
            h.set_extra_vips(vips.clone());
        }
        self.extra = vips;
    }

    /// Changes of the shared proxy config (the supervisor reloads on each).
    pub fn shared_config(&self) -> watch::Receiver<SharedConfig> {
        self.shared.subscribe()
    }

    /// The online nodes' stick-table replication addresses (None without a cluster).
    pub fn peers(&self) -> Option<watch::Receiver<fulcrum_cluster::runner::PeerAddrs>> {
        self.handle.as_ref().map(|h| h.peers())
    }

    /// A changed section restarts the node (its VIPs are released and taken again by
    /// placement); an unchanged one keeps running untouched. Returns whether it restarted.
    pub async fn reload(&mut self, config: &Config) -> bool {
        if self.handle.as_ref().map(|h| h.config()) == config.cluster.as_ref() {
            return false;
        }
        if let Some(h) = self.handle.take() {
            tracing::info!("cluster section changed: restarting this cluster node");
            h.shutdown().await;
        }
        self.handle = config
            .cluster
            .as_ref()
            .map(|c| fulcrum_cluster::start(c, self.proxy.clone(), Some(self.shared.clone())));
        if let Some(h) = &self.handle {
            h.set_extra_vips(self.extra.clone());
        }
        true
    }

    pub async fn shutdown(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
    }

    /// The `cluster` member of the status report (`null` without a cluster section).
    pub fn status_json(&self) -> Value {
        match &self.handle {
            Some(h) => serde_json::to_value(h.status()).unwrap_or(Value::Null),
            None => Value::Null,
        }
    }

    /// `standby NODE`, `unstandby NODE`, `move VIP NODE [LIFETIME]`, `clear VIP`.
    pub async fn command(&self, words: &[String]) -> Result<String, String> {
        let Some(h) = &self.handle else {
            return Err("this fulcrum has no cluster section".into());
        };
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        h.command(Command::parse(&words)?).await
    }
}

/// The shared config from etcd as one more source of the reload (named by its revision),
/// read after the local files so their `defaults` apply to it.
pub fn sources(shared: &SharedConfig) -> Vec<(String, String)> {
    shared
        .iter()
        .map(|(revision, text)| (format!("etcd:config@{revision}"), text.clone()))
        .collect()
}

/// The text view of the report's `cluster` member (empty when there is none).
pub fn render(report: &Value) -> String {
    let Some(c) = report.get("cluster").filter(|c| c.is_object()) else {
        return String::new();
    };
    let mut out = String::new();
    let quorum = c.get("quorum").and_then(Value::as_bool).unwrap_or(false);
    let _ = writeln!(
        out,
        "\nCluster {}: node {}, {}, leader {}, lease-ttl {}s",
        s(c, "cluster"),
        s(c, "node"),
        if quorum {
            "partition with quorum"
        } else {
            "partition WITHOUT quorum"
        },
        c.get("leader").and_then(Value::as_str).unwrap_or("none"),
        c.get("lease_ttl_s").and_then(Value::as_u64).unwrap_or(0),
    );
    let nodes = list(c, "nodes");
    for state in ["online", "standby", "offline", "online (without quorum)"] {
        let names: Vec<&str> = nodes
            .iter()
            .filter(|n| s(n, "state") == state)
            .map(|n| s(n, "name"))
            .collect();
        if !names.is_empty() {
            let label = match state {
                "online" => "Online",
                "standby" => "Standby",
                "offline" => "OFFLINE",
                _ => "Online WITHOUT quorum",
            };
            let _ = writeln!(out, "  {label}: [ {} ]", names.join(" "));
        }
    }
    let vips = list(c, "vips");
    let width = vips.iter().map(|v| s(v, "name").len()).max().unwrap_or(0);
    let awidth = vips
        .iter()
        .map(|v| s(v, "address").len())
        .max()
        .unwrap_or(0);
    for v in vips {
        let state = match v.get("holder").and_then(Value::as_str) {
            Some(h) => {
                let since = v
                    .get("since_ms")
                    .and_then(Value::as_u64)
                    .map(|ms| format!(" since {}", utc(ms)))
                    .unwrap_or_default();
                format!("Started {h}{since}")
            }
            None => "Stopped".to_string(),
        };
        let moved = v
            .get("moved_to")
            .and_then(Value::as_str)
            .map(|n| format!(" (moved to {n})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:width$}  ({:awidth$} on {}):  {state}{moved}",
            s(v, "name"),
            s(v, "address"),
            s(v, "dev"),
        );
    }
    let members: Vec<String> = list(c, "etcd_members")
        .iter()
        .map(|m| {
            let urls: Vec<&str> = list(m, "client_urls")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            format!("{} ({})", s(m, "name"), urls.join(","))
        })
        .collect();
    if !members.is_empty() {
        let _ = writeln!(out, "  etcd members: {}", members.join(", "));
    }
    let failed = list(c, "failed_actions");
    if !failed.is_empty() {
        out.push_str("  Failed actions (newest last):\n");
        for f in failed
            .iter()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            let at = f.get(0).and_then(Value::as_u64).unwrap_or(0);
            let what = f.get(1).and_then(Value::as_str).unwrap_or("");
            let _ = writeln!(out, "    {}  {what}", utc(at));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_view_as_pcs_status() {
        let r = serde_json::json!({"cluster": {
            "cluster": "fulcrum", "node": "c1", "quorum": true, "leader": "c2", "lease_ttl_s": 2,
            "nodes": [{"name": "c1", "state": "online"}, {"name": "c2", "state": "online"}, {"name": "c3", "state": "offline"}],
            "vips": [{"name": "vip-db", "address": "10.99.1.1/16", "dev": "eth0", "holder": "c1", "since_ms": 1_795_433_093_000u64, "assigned": "c1", "moved_to": null},
                     {"name": "vip-keystone", "address": "10.99.1.2/16", "dev": "eth0", "holder": null, "since_ms": null, "assigned": null, "moved_to": "c3"}],
            "etcd_members": [{"name": "e1", "client_urls": ["http://10.99.0.1:2379"]}],
            "failed_actions": [[1_795_433_093_000u64, "adding vip-x: no such device"]]
        }});
        let t = render(&r);
        assert!(
            t.contains(
                "Cluster fulcrum: node c1, partition with quorum, leader c2, lease-ttl 2s\n"
            ),
            "{t}"
        );
        assert!(
            t.contains("  Online: [ c1 c2 ]\n  OFFLINE: [ c3 ]\n"),
            "{t}"
        );
        assert!(
            t.contains(
                "  vip-db        (10.99.1.1/16 on eth0):  Started c1 since 2026-11-23T11:24:53Z\n"
            ),
            "{t}"
        );
        assert!(
            t.contains("  vip-keystone  (10.99.1.2/16 on eth0):  Stopped (moved to c3)\n"),
            "{t}"
        );
        assert!(
            t.contains("  etcd members: e1 (http://10.99.0.1:2379)\n"),
            "{t}"
        );
        assert!(
            t.contains("    2026-11-23T11:24:53Z  adding vip-x: no such device\n"),
            "{t}"
        );
        assert_eq!(render(&serde_json::json!({"cluster": null})), "");
    }
}
