//! Wires the LBaaS API (crates/api) into the running process: starts it when the config has an
//! `api` section, and answers what it asks of the supervisor. An accepted API change becomes
//! rendered haproxy.cfg text (and keepalived `virtual_server` text for UDP/SCTP listeners,
//! served by the LVS data plane) that is loaded after the `-f` files through the same
//! in-process reload as SIGHUP (`load`), so a SIGHUP keeps the API's load balancers too. With a `cluster`
//! section the API's store is the cluster's etcd.

use crate::runtime_api::command::{self, Command, Parsed};
use crate::runtime_api::Level;
use fulcrum_api::ToFulcrum;
use fulcrum_config::Config;
use std::net::IpAddr;
use tokio::sync::mpsc;

/// The name the API's text carries in diagnostics.
pub const SOURCE_NAME: &str = "<lbaas-api>";

pub struct ApiBridge {
    rx: mpsc::Receiver<ToFulcrum>,
    /// `vip_interface`: where the load balancers' VIPs are added.
    vip_interface: Option<String>,
    /// VIPs this process added (removed when their load balancer goes, and at stop).
    held: std::collections::BTreeSet<IpAddr>,
    /// The VIPs of the load balancers last applied (placed again after a reload that adds
    /// or removes a `cluster` section or a vrrp_instance).
    wanted: Vec<IpAddr>,
}

/// Starts the API (its listener bound before this returns) when the config has an `api`
/// section; the API's first apply brings back what its store holds.
pub async fn start(config: &Config) -> anyhow::Result<Option<ApiBridge>> {
    let Some(api) = &config.api else {
        return Ok(None);
    };
    let Some(bind) = api.bind else {
        anyhow::bail!("api section without bind");
    };
    let (tx, rx) = mpsc::channel(16);
    let store = store(config).await.map_err(anyhow::Error::msg)?;
    let shared = fulcrum_api::open(api, store, tx)
        .await
        .map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow::anyhow!("api: cannot bind {bind}: {e}"))?;
    tracing::info!("LBaaS API listening on {bind}");
    fulcrum_api::spawn(shared, listener);
    Ok(Some(ApiBridge {
        rx,
        vip_interface: api.vip_interface.clone(),
        held: Default::default(),
        wanted: Vec::new(),
    }))
}

/// The API's store: etcd under the cluster's prefix when the config has a `cluster` section
/// (every node serves the same load balancers), else the embedded one. etcd must answer within
/// `ETCD_WAIT` when the API starts: its load balancers are read before the API serves.
async fn store(config: &Config) -> Result<Box<dyn fulcrum_api::store::Store>, String> {
    // A `store` line is not used then (a config warning says so at `fulcrum check` and start).
    let (Some(_), Some(cluster)) = (&config.api, &config.cluster) else {
        return match &config.api {
            Some(api) => fulcrum_api::local_store(api),
            None => Ok(Box::new(fulcrum_api::store::Memory)),
        };
    };
    let secs = std::time::Duration::from_secs;
    let client = fulcrum_cluster::runner::connect_with(cluster, secs(5), (secs(10), secs(5)))
        .await
        .map_err(|e| format!("api store: etcd {}: {e}", cluster.etcd.join(",")))?;
    let prefix = fulcrum_cluster::runner::prefix_of(cluster);
    tracing::info!(
        "api store: etcd, keys under {}",
        fulcrum_api::store_etcd::lbaas_prefix(&prefix)
    );
    let store: Box<dyn fulcrum_api::store::Store> =
        Box::new(fulcrum_api::store_etcd::Etcd::new(client, &prefix));
    // etcd may be coming up with this node (a rack's power back): a bounded wait for it.
    let deadline = std::time::Instant::now() + ETCD_WAIT;
    loop {
        match store.load().await {
            Ok(_) => return Ok(store),
            Err(e) if std::time::Instant::now() >= deadline => {
                return Err(format!("{e} (waited {}s)", ETCD_WAIT.as_secs()))
            }
            Err(e) => {
                tracing::warn!("{e}; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    }
}

/// How long a starting fulcrum waits for etcd to answer before it gives up.
const ETCD_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The next request from the API (never, without an API).
pub async fn recv(bridge: &mut Option<ApiBridge>) -> Option<ToFulcrum> {
    match bridge {
        Some(b) => b.rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The name of the API's keepalived-syntax text (its UDP/SCTP listeners' virtual servers).
pub const LVS_SOURCE_NAME: &str = "<lbaas-api-lvs>";

/// The API's rendered texts as extra sources (none while the API has nothing): the
/// haproxy.cfg text for the proxy, the keepalived text for the LVS data plane.
pub fn sources(api: &fulcrum_api::Rendered) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !api.haproxy.is_empty() {
        out.push((SOURCE_NAME.to_string(), api.haproxy.clone()));
    }
    if !api.keepalived.is_empty() {
        out.push((LVS_SOURCE_NAME.to_string(), api.keepalived.clone()));
    }
    out
}

/// `show stat` as the runtime API answers it.
pub fn show_stat(live: &mut crate::runtime_api::live::Live<'_>) -> String {
    match command::parse(&["show", "stat"], Level::Admin) {
        Parsed::Run(c @ Command::ShowStat(_)) => crate::runtime_api::exec::execute(&c, live),
        _ => String::new(),
    }
}

fn virtual_ip(address: IpAddr) -> fulcrum_config::model::VirtualIp {
    fulcrum_config::model::VirtualIp {
        span: fulcrum_config::Span::new(SOURCE_NAME, 0),
        address,
        prefix: if address.is_ipv4() { 32 } else { 128 },
        dev: None,
        label: None,
        brd: None,
        scope: None,
    }
}

/// After an applied change (`wanted`: its VIPs) or a reload (`None`: the VIPs last applied):
/// the VIPs handed to the cluster placement, left to VRRP, or added here.
pub fn place_vips(
    bridge: &mut Option<ApiBridge>,
    config: &Config,
    wanted: Option<&[IpAddr]>,
    cluster: &mut crate::cluster_bridge::ClusterPart,
) {
    let Some(b) = bridge.as_mut() else { return };
    if let Some(w) = wanted {
        b.wanted = w.to_vec();
    }
    let wanted = b.wanted.clone();
    let here = hand_off(bridge, config, &wanted, cluster);
    sync_vips(bridge, config, &here);
}

/// With a `cluster` section, the load balancers' VIPs are the cluster's to place (issue 18:
/// handed to the placement instead of added on this node): each becomes a cluster VIP named
/// `lbaas-ADDRESS` on `vip_interface` (or, without one, the device of the section's first
/// `vip`), except those a vrrp_instance lists (VRRP's). Returns the VIPs still to be added
/// here by `sync_vips` (all of them without a cluster section; none with one).
pub fn hand_off(
    bridge: &Option<ApiBridge>,
    config: &Config,
    wanted: &[IpAddr],
    cluster: &mut crate::cluster_bridge::ClusterPart,
) -> Vec<IpAddr> {
    let Some(section) = config.cluster.as_ref().filter(|_| cluster.running()) else {
        return wanted.to_vec();
    };
    let dev = bridge
        .as_ref()
        .and_then(|b| b.vip_interface.clone())
        .or_else(|| section.vips.first().map(|v| v.dev.clone()));
    let Some(dev) = dev else {
        if !wanted.is_empty() {
            tracing::warn!("api: the cluster section places VIPs, but neither vip_interface nor a cluster vip names a device: the load balancers' VIPs are not placed");
        }
        cluster.set_extra_vips(Vec::new());
        return Vec::new();
    };
    let vips = wanted
        .iter()
        .filter(|a| !by_vrrp(config, a))
        .map(|a| fulcrum_config::model::ClusterVip {
            span: fulcrum_config::Span::new(SOURCE_NAME, 0),
            name: format!("lbaas-{a}"),
            address: *a,
            prefix: if a.is_ipv4() { 32 } else { 128 },
            dev: dev.clone(),
            prefer: None,
        })
        .collect();
    cluster.set_extra_vips(vips);
    Vec::new()
}

fn by_vrrp(config: &Config, a: &IpAddr) -> bool {
    config
        .keepalived
        .vrrp_instances
        .iter()
        .any(|v| v.virtual_ipaddress.iter().any(|x| x.address == *a))
}

/// After an applied change: adds the VIPs now wanted to `vip_interface` (with gratuitous ARP
/// so neighbours learn the address at once) and removes those no load balancer has any more.
/// A VIP a vrrp_instance lists is left to VRRP (its listener is bound with IP_FREEBIND, so it
/// serves wherever VRRP puts the address). Without `vip_interface`, nothing is added.
pub fn sync_vips(bridge: &mut Option<ApiBridge>, config: &Config, wanted: &[IpAddr]) {
    let Some(b) = bridge.as_mut() else { return };
    let Some(ifname) = b.vip_interface.clone() else {
        return;
    };
    let Some(iface) = fulcrum_vrrp::io::iface::lookup(&ifname) else {
        tracing::warn!("api: vip_interface {ifname} does not exist; VIPs not added");
        return;
    };
    let new: Vec<IpAddr> = wanted
        .iter()
        .filter(|a| !by_vrrp(config, a) && !b.held.contains(*a))
        .copied()
        .collect();
    for a in &new {
        match fulcrum_vrrp::io::netlink::add_address(iface.index, &virtual_ip(*a)) {
            Ok(()) => {
                tracing::info!("api: VIP {a} added to {ifname}");
                b.held.insert(*a);
                if let (IpAddr::V4(v4), Some(mac)) = (a, iface.mac) {
                    if let Err(e) = fulcrum_vrrp::io::announce::send_garps(&ifname, mac, &[*v4], 1)
                    {
                        tracing::warn!("api: gratuitous ARP for {a} on {ifname}: {e}");
                    }
                }
            }
            Err(e) => tracing::error!("api: cannot add VIP {a} to {ifname}: {e}"),
        }
    }
    let gone: Vec<IpAddr> = b
        .held
        .iter()
        .filter(|a| !wanted.contains(a))
        .copied()
        .collect();
    for a in gone {
        match fulcrum_vrrp::io::netlink::del_address(iface.index, &virtual_ip(a)) {
            Ok(()) => tracing::info!("api: VIP {a} removed from {ifname}"),
            Err(e) => tracing::error!("api: cannot remove VIP {a} from {ifname}: {e}"),
        }
        b.held.remove(&a);
    }
}

/// At stop: the VIPs this process added are removed (as keepalived removes its own), and
/// without a `store` the TERMINATED_HTTPS private keys written under the temporary directory
/// (with a store they stay next to it, as the store does).
pub fn release_vips(bridge: &mut Option<ApiBridge>, config: &Config) {
    sync_vips(bridge, config, &[]);
    if bridge.is_some() && config.api.as_ref().is_some_and(|a| a.store.is_none()) {
        fulcrum_api::certs::remove_out_dir();
    }
}
