//! What `fulcrum status` shows of the cluster (as `pcs status`), and the runtime commands
//! (`standby`, `move` with a lifetime, `clear`) with their text form. Plain data.

use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Status {
    pub cluster: String,
    pub node: String,
    /// This node holds a live lease (it can reach a quorum of etcd).
    pub quorum: bool,
    pub leader: Option<String>,
    pub lease_ttl_s: u64,
    pub nodes: Vec<NodeStatus>,
    pub vips: Vec<VipStatus>,
    pub etcd_members: Vec<Member>,
    /// Newest last: (unix ms, what failed).
    pub failed_actions: Vec<(u64, String)>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NodeStatus {
    pub name: String,
    /// `online`, `standby`, `offline`, or `online (without quorum)` for this node cut off.
    pub state: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VipStatus {
    pub name: String,
    pub address: String,
    pub dev: String,
    /// The node holding it (its owner key), if any.
    pub holder: Option<String>,
    pub since_ms: Option<u64>,
    /// Where the leader wants it.
    pub assigned: Option<String>,
    /// `fulcrum cluster move` target still in force.
    pub moved_to: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub client_urls: Vec<String>,
}

/// A runtime command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Standby {
        node: String,
        on: bool,
    },
    Move {
        vip: String,
        node: String,
        lifetime: Option<Duration>,
    },
    Clear {
        vip: String,
    },
}

impl Command {
    /// `standby NODE`, `unstandby NODE`, `move VIP NODE [LIFETIME]`, `clear VIP`.
    pub fn parse(words: &[&str]) -> Result<Command, String> {
        let usage = "expected: standby NODE | unstandby NODE | move VIP NODE [LIFETIME such as 60s] | clear VIP";
        match words {
            ["standby", node] => Ok(Command::Standby {
                node: node.to_string(),
                on: true,
            }),
            ["unstandby", node] => Ok(Command::Standby {
                node: node.to_string(),
                on: false,
            }),
            ["move", vip, node] => Ok(Command::Move {
                vip: vip.to_string(),
                node: node.to_string(),
                lifetime: None,
            }),
            ["move", vip, node, life] => {
                let lifetime = fulcrum_config::units::parse_haproxy_time(life)
                    .map_err(|e| format!("lifetime '{life}': {e}"))?;
                if lifetime < Duration::from_secs(1) {
                    return Err(format!("lifetime '{life}' must be at least 1s"));
                }
                Ok(Command::Move {
                    vip: vip.to_string(),
                    node: node.to_string(),
                    lifetime: Some(lifetime),
                })
            }
            ["clear", vip] => Ok(Command::Clear {
                vip: vip.to_string(),
            }),
            _ => Err(format!(
                "unknown cluster command '{}' ({usage})",
                words.join(" ")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(
            Command::parse(&["move", "vip-db", "c2", "90s"]),
            Ok(Command::Move {
                vip: "vip-db".into(),
                node: "c2".into(),
                lifetime: Some(Duration::from_secs(90))
            })
        );
        assert_eq!(
            Command::parse(&["unstandby", "c1"]),
            Ok(Command::Standby {
                node: "c1".into(),
                on: false
            })
        );
        assert!(Command::parse(&["move", "v", "n", "10ms"]).is_err());
        assert!(Command::parse(&["reboot"])
            .unwrap_err()
            .contains("expected"));
    }
}
