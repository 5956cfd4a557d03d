//! The cluster's keys in etcd and what one read of them means (`Snapshot`). Pure: the adapter
//! hands in (key, value, lease) triples from a prefix read.
//!
//! ```text
//! PREFIX = /fulcrum/CLUSTER/
//! PREFIX leader         NODE                      on the leader's lease
//! PREFIX nodes/NODE     {"serves":[VIP...],"peer":"IP:PORT"}  on NODE's lease: NODE is online
//!                                                 (peer: its `peers-bind`, if any)
//! PREFIX known/NODE     ""                        no lease: NODE was seen once (offline later)
//! PREFIX standby/NODE   "on"                      no lease: set by `fulcrum cluster standby`
//! PREFIX assign/VIP     NODE                      written by the leader (guarded by leadership)
//! PREFIX owner/VIP      {"node":N,"since_ms":T}   created by N on its own lease: N holds VIP
//! PREFIX move/VIP       NODE                      by `fulcrum cluster move`, on a lease = lifetime
//! PREFIX config         haproxy.cfg text          with `config-from-etcd`: the shared proxy config
//! ```

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The etcd key prefix of cluster `name`.
pub fn prefix(name: &str) -> String {
    format!("/fulcrum/{name}/")
}

/// What a node publishes about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// VIPs it can serve (colocation with a healthy frontend).
    pub serves: Vec<String>,
    /// `peers-bind`: where its stick-table replication listens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}

/// Who holds a VIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub node: String,
    pub since_ms: u64,
    #[serde(skip)]
    pub lease: i64,
}

/// One consistent read of the prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// (node, create revision of the leader key).
    pub leader: Option<(String, i64)>,
    pub nodes: BTreeMap<String, NodeRecord>,
    pub known: BTreeSet<String>,
    pub standby: BTreeSet<String>,
    pub assign: BTreeMap<String, String>,
    pub owners: BTreeMap<String, Owner>,
    pub moves: BTreeMap<String, String>,
    /// `config`: (mod revision, text) of the shared proxy config.
    pub config: Option<(i64, String)>,
}

/// One key as read: the key without the prefix, the value, its lease and create revision.
pub struct Kv<'a> {
    pub key: &'a str,
    pub value: &'a [u8],
    pub lease: i64,
    pub create_revision: i64,
    pub mod_revision: i64,
}

impl Snapshot {
    /// Builds the snapshot; keys that do not parse are skipped (and counted).
    pub fn from_kvs<'a>(kvs: impl IntoIterator<Item = Kv<'a>>) -> (Snapshot, usize) {
        let mut s = Snapshot::default();
        let mut bad = 0;
        for kv in kvs {
            let text = String::from_utf8_lossy(kv.value).into_owned();
            let (kind, name) = kv.key.split_once('/').unwrap_or((kv.key, ""));
            match (kind, name) {
                ("leader", "") => s.leader = Some((text, kv.create_revision)),
                ("config", "") => s.config = Some((kv.mod_revision, text)),
                ("nodes", n) if !n.is_empty() => match serde_json::from_slice(kv.value) {
                    Ok(r) => {
                        s.nodes.insert(n.to_string(), r);
                    }
                    Err(_) => bad += 1,
                },
                ("known", n) if !n.is_empty() => {
                    s.known.insert(n.to_string());
                }
                ("standby", n) if !n.is_empty() => {
                    s.standby.insert(n.to_string());
                }
                ("assign", v) if !v.is_empty() => {
                    s.assign.insert(v.to_string(), text);
                }
                ("owner", v) if !v.is_empty() => match serde_json::from_slice::<Owner>(kv.value) {
                    Ok(mut o) => {
                        o.lease = kv.lease;
                        s.owners.insert(v.to_string(), o);
                    }
                    Err(_) => bad += 1,
                },
                ("move", v) if !v.is_empty() => {
                    s.moves.insert(v.to_string(), text);
                }
                _ => bad += 1,
            }
        }
        (s, bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_becomes_a_snapshot() {
        let kvs = [
            ("leader", "c1", 0, 7),
            ("nodes/c1", "{\"serves\":[\"vip-db\"]}", 11, 3),
            ("known/c2", "", 0, 4),
            ("standby/c2", "on", 0, 5),
            ("assign/vip-db", "c1", 0, 6),
            ("owner/vip-db", "{\"node\":\"c1\",\"since_ms\":5}", 11, 8),
            ("move/vip-db", "c3", 12, 9),
            ("nodes/c9", "not json", 13, 10),
            ("stray", "", 0, 1),
        ];
        let (s, bad) = Snapshot::from_kvs(kvs.iter().map(|(k, v, l, r)| Kv {
            key: k,
            value: v.as_bytes(),
            lease: *l,
            create_revision: *r,
            mod_revision: *r,
        }));
        assert_eq!(bad, 2);
        assert_eq!(s.leader, Some(("c1".into(), 7)));
        assert_eq!(s.nodes["c1"].serves, ["vip-db"]);
        assert!(s.known.contains("c2") && s.standby.contains("c2"));
        assert_eq!(s.assign["vip-db"], "c1");
        assert_eq!(s.owners["vip-db"].lease, 11);
        assert_eq!(s.owners["vip-db"].node, "c1");
        assert_eq!(s.moves["vip-db"], "c3");
    }
}
