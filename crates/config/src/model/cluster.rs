//! fulcrum's own sections in HAProxy-syntax files: `cluster` (VIP placement through etcd),
//! `peers` (stick-table replication), `api` (the LBaaS API).

use crate::diagnostics::Span;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The `cluster` section of a HAProxy-syntax file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cluster {
    pub span: Span,
    /// `cluster NAME`: names the cluster's keys in etcd (default `fulcrum`).
    pub name: String,
    /// `node NAME`: this node (default: the host name).
    pub node: String,
    /// `etcd URL[,URL...]`.
    pub etcd: Vec<String>,
    /// `etcd-ca-file`, `etcd-cert`, `etcd-key`, `etcd-user`, `etcd-password`.
    pub etcd_auth: EtcdAuth,
    /// `lease-ttl TIME` (default 2s): a dead node's VIPs move within about twice this.
    pub lease_ttl: Duration,
    /// `etcd-keepalive TIME` (default 1s): HTTP/2 ping interval on the etcd connections while
    /// a request or stream is open (never on idle ones); it bounds how long a dead etcd
    /// member's connection keeps taking requests. etcd closes a connection pinged more often
    /// than its `--grpc-keepalive-min-time` (5s by default) while it sends nothing back.
    pub etcd_keepalive: Duration,
    pub no_quorum_policy: NoQuorumPolicy,
    /// `rebalance-after TIME` (default 30s): how long a node must be stable before VIPs move
    /// back to it to even the spread; 0 disables rebalancing.
    pub rebalance_after: Duration,
    /// `colocation frontends|none` (default frontends): a VIP only on a node whose frontends
    /// bound to its address have a server UP.
    pub colocation_frontends: bool,
    /// `garp-repeat COUNT` (default 5): gratuitous ARPs / unsolicited NAs sent on take-over,
    /// one per second.
    pub garp_repeat: u32,
    pub vips: Vec<ClusterVip>,
    /// `anti-affinity NAME VIP VIP...`: no two VIPs of a group on one node.
    pub anti_affinity: Vec<AntiAffinity>,
    /// `config-from-etcd`: the proxy config also comes from the key `/fulcrum/NAME/config`
    /// (read after the local files; every change applied with the in-process reload).
    pub config_from_etcd: bool,
    /// `peers-bind IP:PORT`: this node's address for stick-table replication, published in
    /// etcd; stick tables without `peers NAME` replicate between the cluster's online nodes.
    pub peers_bind: Option<SocketAddr>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EtcdAuth {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub user: Option<String>,
    #[serde(skip_serializing)]
    pub password: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoQuorumPolicy {
    /// Drop every VIP when etcd cannot be reached (the default, as Pacemaker's).
    Stop,
    /// Keep the VIPs already held (never take new ones).
    Freeze,
}

/// `vip NAME ADDR/PREFIX dev IF [prefer NODE]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterVip {
    pub span: Span,
    pub name: String,
    pub address: IpAddr,
    pub prefix: u8,
    pub dev: String,
    pub prefer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AntiAffinity {
    pub span: Span,
    pub name: String,
    pub vips: Vec<String>,
}

/// A `peers NAME` section (HAProxy's stick-table replication): `peer NAME IP:PORT` lines, or
/// 2.x's `bind IP:PORT` + `server NAME [IP:PORT]` (the local peer's `server` has no address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peers {
    pub span: Span,
    pub name: String,
    /// `bind IP:PORT`: where the local peer listens (2.x form).
    pub bind: Option<SocketAddr>,
    pub peers: Vec<Peer>,
    /// `table NAME type ...`: stick tables of the section itself, named `SECTION/NAME` as
    /// HAProxy names them (stick rules and `track-sc*` refer to them so), replicated
    /// between its peers.
    pub tables: Vec<(String, crate::model::StickTable)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peer {
    pub span: Span,
    pub name: String,
    /// None for the 2.x form's local `server NAME`.
    pub address: Option<SocketAddr>,
}

/// The `api` section: fulcrum's LBaaS REST API (Octavia v2 compatible). See `haproxy/api.rs`.
#[derive(Debug, Clone, Serialize)]
pub struct Api {
    pub span: Span,
    /// `bind IP:PORT`: where the API listens (required).
    pub bind: Option<SocketAddr>,
    pub auth: ApiAuth,
    /// `store PATH`: the embedded database; without it the API keeps its state in memory only.
    pub store: Option<std::path::PathBuf>,
    /// `subnet ID CIDR`: Neutron subnets answered to lookups when auth is not `noauth`.
    pub subnets: Vec<ApiSubnet>,
    /// `vip_interface IFACE`: load balancers' VIPs are added to this interface (unless a
    /// vrrp_instance holds them); without it, VIPs must already be local (or come by VRRP).
    pub vip_interface: Option<String>,
    /// `auth keystone https://... ca-file PEM`: the CAs Keystone's certificate is checked
    /// against (the system's bundle without it).
    pub keystone_ca: Option<std::path::PathBuf>,
    /// `certificates DIR`: TLS container refs of TERMINATED_HTTPS listeners read from this
    /// directory (the ref's last path segment names `DIR/ID` or `DIR/ID.pem`).
    pub certificates: Option<std::path::PathBuf>,
    /// `barbican URL`: TLS container refs under this URL fetched from Barbican (containers
    /// with certificate/private_key/intermediates secrets, or a PEM secret).
    pub barbican: Option<String>,
}

/// `auth noauth | token SECRET | keystone URL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiAuth {
    NoAuth,
    #[serde(serialize_with = "hidden_secret")]
    Token(String),
    Keystone(String),
}

fn hidden_secret<S: serde::Serializer>(_: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("<hidden>")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiSubnet {
    pub id: String,
    pub cidr: String,
}
