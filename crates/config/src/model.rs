//! The typed config model: one tree for everything fulcrum runs, whichever dialect it came from.
//!
//! HAProxy files fill `global` and `proxies`; keepalived files fill `keepalived`. Values here are
//! *resolved*: `defaults` sections and `default-server` lines have been applied, units converted,
//! and HAProxy's documented defaults filled in, so a subsystem reads a field and never needs to
//! know the file syntax. Names follow the users' words (frontend, backend, server, bind,
//! vrrp_instance, virtual_ipaddress, real_server). This module holds data only: no parsing, no I/O.
//! The types live by section in `model/` (global, proxy, check, rules, keepalived, cluster)
//! and are all re-exported here.

use serde::Serialize;

pub use crate::model_checks::*;

mod check;
mod cluster;
mod global;
mod keepalived;
mod proxy;
mod rules;
pub use check::*;
pub use cluster::*;
pub use global::*;
pub use keepalived::*;
pub use proxy::*;
pub use rules::*;

/// Everything loaded from all `-f` files.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    /// The files read, in order, with the dialect each was read as.
    pub files: Vec<SourceFile>,
    pub global: Global,
    /// Frontends, backends and listens in file order (defaults sections are not proxies).
    pub proxies: Vec<Proxy>,
    pub keepalived: Keepalived,
    /// The `cluster` section (VIPs placed over N nodes through etcd), if any.
    pub cluster: Option<Cluster>,
    /// The `api` section, when one is written (the LBaaS REST API).
    pub api: Option<Api>,
    /// `peers NAME` sections: stick tables naming one are replicated between its peers.
    pub peers: Vec<Peers>,
    /// `userlist NAME` sections (`http-request auth`, `http_auth(L)`).
    pub userlists: Vec<crate::model_userlist::Userlist>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceFile {
    pub path: String,
    pub dialect: Dialect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Haproxy,
    Keepalived,
}

/// Who a stick table is replicated with ([`Config::stick_peers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerSet<'a> {
    /// `stick-table ... peers NAME`: the peers of that section.
    Section(&'a Peers),
    /// In cluster mode with `peers-bind`, a table without `peers NAME`: the cluster's nodes.
    Cluster(&'a Cluster),
}

impl Config {
    /// This node's name in `peers` sections: global `localpeer`, else the cluster's `node`,
    /// else the host name (as HAProxy's `-L`, default the host name).
    pub fn local_peer(&self) -> String {
        self.global
            .localpeer
            .clone()
            .or_else(|| self.cluster.as_ref().map(|c| c.node.clone()))
            .unwrap_or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_string())
                    .unwrap_or_default()
            })
    }

    /// Who `table` is replicated with, if anyone (a section without this node as a peer is
    /// not run: warned at load).
    pub fn stick_peers(&self, table: &StickTable) -> Option<PeerSet<'_>> {
        match &table.peers {
            Some(name) => {
                let me = self.local_peer();
                self.peers
                    .iter()
                    .find(|s| &s.name == name && s.peers.iter().any(|p| p.name == me))
                    .map(PeerSet::Section)
            }
            None => self
                .cluster
                .as_ref()
                .filter(|c| c.peers_bind.is_some())
                .map(PeerSet::Cluster),
        }
    }

    pub fn proxy(&self, name: &str) -> Option<&Proxy> {
        self.proxies.iter().find(|p| p.name == name)
    }
    /// Proxies that accept connections (`frontend` and `listen`).
    pub fn frontends(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies.iter().filter(|p| p.kind.is_frontend())
    }
    /// Proxies that hold servers (`backend` and `listen`).
    /// The stick table named `name`: a proxy's own, or a `peers` section's `table`
    /// (`SECTION/NAME`).
    pub fn table_named(&self, name: &str) -> Option<&StickTable> {
        self.proxies
            .iter()
            .find(|q| q.name == name && q.stick_table.is_some())
            .and_then(|q| q.stick_table.as_ref())
            .or_else(|| {
                self.peers_tables()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| t)
            })
    }

    /// Every `peers` section's tables, with their `SECTION/NAME` names.
    pub fn peers_tables(&self) -> impl Iterator<Item = (&str, &StickTable)> {
        self.peers
            .iter()
            .flat_map(|s| s.tables.iter().map(|(n, t)| (n.as_str(), t)))
    }

    pub fn backends(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies.iter().filter(|p| p.kind.is_backend())
    }
    pub fn backend(&self, name: &str) -> Option<&Proxy> {
        self.backends().find(|p| p.name == name)
    }
}
