//! The `cluster` section: service VIPs placed over N nodes through etcd (Pacemaker's role in
//! the seeds, with fulcrum's own keywords, spelled as issue 17 fixes them):
//!
//! ```text
//! cluster [NAME]
//!     node controller1
//!     etcd http://10.0.0.1:2379,http://10.0.0.2:2379
//!     lease-ttl 2s
//!     no-quorum-policy stop|freeze
//!     vip vip-db 192.168.142.100/24 dev eth0 [prefer controller2]
//!     anti-affinity GROUP VIP VIP...
//! ```
//!
//! This module parses lines into a `Draft`, resolves defaults when the section closes, and
//! checks references across the model (`validate`). It never talks to etcd.

use super::line::{self, Line};
use crate::diagnostics::{Diagnostics, Span};
use crate::model::{
    AntiAffinity, BindAddress, Cluster, ClusterVip, Config, EtcdAuth, NoQuorumPolicy,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// The section while its lines are read.
pub struct Draft {
    cluster: Cluster,
    node_given: bool,
}

/// `cluster [NAME]`.
pub fn open(line: &Line<'_>, diags: &mut Diagnostics) -> Draft {
    let name = line.arg(1).unwrap_or("fulcrum").to_string();
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
    {
        diags.error(
            &line.span,
            format!("character '{bad}' is not permitted in cluster name '{name}' (letters, digits, '-', '_' and '.' only)"),
        );
    }
    if let Some(extra) = line.arg(2) {
        diags.error(
            &line.span,
            format!("unexpected '{extra}' after 'cluster {name}' (expected 'cluster [NAME]')"),
        );
    }
    Draft {
        cluster: Cluster {
            span: line.span.clone(),
            name,
            node: String::new(),
            etcd: Vec::new(),
            etcd_auth: EtcdAuth::default(),
            lease_ttl: Duration::from_secs(2),
            etcd_keepalive: Duration::from_secs(1),
            no_quorum_policy: NoQuorumPolicy::Stop,
            rebalance_after: Duration::from_secs(30),
            colocation_frontends: true,
            garp_repeat: 5,
            vips: Vec::new(),
            anti_affinity: Vec::new(),
            config_from_etcd: false,
            peers_bind: None,
        },
        node_given: false,
    }
}

pub fn keyword(d: &mut Draft, line: &Line<'_>, diags: &mut Diagnostics) {
    if let Err(msg) = parse(d, line) {
        diags.error(&line.span, msg);
    }
}

fn parse(d: &mut Draft, line: &Line<'_>) -> Result<(), String> {
    let c = &mut d.cluster;
    let single = |what: &str| -> Result<String, String> {
        let v = line.need(1, what)?;
        line.no_more(2)?;
        Ok(v.to_string())
    };
    match line.keyword() {
        "node" => {
            // Expanded whatever the quoting, as an address is: `node ${NODE}` is the usual form.
            line.need(1, "this node's name")?;
            if let Some((_, var)) = line.undefined.iter().find(|(w, _)| *w == 1) {
                return Err(format!(
                    "environment variable '{var}' used in 'node' is not defined (set it, or write the node's name)"
                ));
            }
            let n = line.address(1, "this node's name")?;
            line.no_more(2)?;
            if n.is_empty() {
                return Err(
                    "'node' expects a name, found an empty word (is the variable defined?)".into(),
                );
            }
            c.node = n;
            d.node_given = true;
        }
        "etcd" => {
            let list = line.address(
                1,
                "etcd endpoints such as http://10.0.0.1:2379,http://10.0.0.2:2379",
            )?;
            line.no_more(2)?;
            c.etcd = endpoints(&list)?;
        }
        "etcd-ca-file" => c.etcd_auth.ca_file = Some(single("a CA file path")?),
        "etcd-cert" => c.etcd_auth.cert_file = Some(single("a client certificate file path")?),
        "etcd-key" => c.etcd_auth.key_file = Some(single("a client key file path")?),
        "etcd-user" => c.etcd_auth.user = Some(single("an etcd user name")?),
        "etcd-password" => c.etcd_auth.password = Some(single("an etcd password")?),
        "lease-ttl" => {
            let t = line::time(&single("a time such as 2s")?, "lease-ttl")?;
            if t < Duration::from_secs(1) || t.subsec_nanos() != 0 {
                return Err(format!(
                    "lease-ttl must be a whole number of seconds, at least 1s (etcd leases count seconds), found {t:?}"
                ));
            }
            c.lease_ttl = t;
        }
        "etcd-keepalive" => {
            let t = line::time(&single("a time such as 5s")?, "etcd-keepalive")?;
            if t < Duration::from_secs(1) {
                return Err(format!("etcd-keepalive must be at least 1s, found {t:?}"));
            }
            c.etcd_keepalive = t;
        }
        "no-quorum-policy" => {
            c.no_quorum_policy = match single("stop or freeze")?.as_str() {
                "stop" => NoQuorumPolicy::Stop,
                "freeze" => NoQuorumPolicy::Freeze,
                other => {
                    return Err(format!(
                        "no-quorum-policy '{other}' is not supported (expected stop or freeze)"
                    ))
                }
            }
        }
        "rebalance-after" => {
            c.rebalance_after = line::time(&single("a time such as 30s")?, "rebalance-after")?
        }
        "colocation" => {
            c.colocation_frontends = match single("frontends or none")?.as_str() {
                "frontends" => true,
                "none" => false,
                other => {
                    return Err(format!(
                        "colocation '{other}' is not supported (expected frontends or none)"
                    ))
                }
            }
        }
        "garp-repeat" => {
            c.garp_repeat = line::number_in(&single("a count")?, "garp-repeat", 1, 100)?
        }
        "vip" => c.vips.push(vip(line)?),
        "peers-bind" => {
            let text =
                single("this node's address for stick-table replication, such as 10.0.0.1:10000")?;
            let a: std::net::SocketAddr = text.parse().map_err(|_| format!("peers-bind '{text}': expected IP:PORT such as 10.0.0.1:10000 (the other nodes connect to it)"))?;
            if a.ip().is_unspecified() || a.port() == 0 {
                return Err(format!("peers-bind '{text}': the other nodes connect to this address: write this node's own IP and a port"));
            }
            c.peers_bind = Some(a);
        }
        "config-from-etcd" => {
            line.no_more(1)?;
            c.config_from_etcd = true;
        }
        "anti-affinity" => {
            let name = line.need(1, "a group name and at least two VIP names")?;
            let vips: Vec<String> = line.args_from(2).to_vec();
            if vips.len() < 2 {
                return Err(format!(
                    "anti-affinity '{name}' needs at least two VIP names (expected 'anti-affinity GROUP VIP VIP...')"
                ));
            }
            c.anti_affinity.push(AntiAffinity {
                span: line.span.clone(),
                name: name.to_string(),
                vips,
            });
        }
        other => {
            let known = [
                "node",
                "etcd",
                "etcd-ca-file",
                "etcd-cert",
                "etcd-key",
                "etcd-user",
                "etcd-password",
                "etcd-keepalive",
                "lease-ttl",
                "no-quorum-policy",
                "rebalance-after",
                "colocation",
                "garp-repeat",
                "vip",
                "anti-affinity",
                "config-from-etcd",
                "peers-bind",
            ];
            return Err(format!(
                "unknown keyword '{other}' in 'cluster' section (expected one of: {})",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

/// `http[s]://HOST:PORT` separated by commas.
fn endpoints(list: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for e in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let rest = e
            .strip_prefix("http://")
            .or_else(|| e.strip_prefix("https://"))
            .ok_or_else(|| {
                format!("etcd endpoint '{e}' must start with http:// or https:// (such as http://10.0.0.1:2379)")
            })?;
        let hostport = rest.trim_end_matches('/');
        let port_ok = hostport
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !port_ok || hostport.contains('/') {
            return Err(format!(
                "etcd endpoint '{e}' must be SCHEME://HOST:PORT (such as http://10.0.0.1:2379)"
            ));
        }
        out.push(e.trim_end_matches('/').to_string());
    }
    if out.is_empty() {
        return Err("'etcd' expects at least one endpoint such as http://10.0.0.1:2379".into());
    }
    Ok(out)
}

/// `vip NAME ADDR/PREFIX dev IF [prefer NODE]`.
fn vip(line: &Line<'_>) -> Result<ClusterVip, String> {
    let expected = "expected 'vip NAME ADDR/PREFIX dev IF [prefer NODE]'";
    let name = line.need(1, "a VIP name, an address and 'dev IF'")?;
    let text = line.address(2, "an address such as 192.168.142.100/24")?;
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text.as_str(), None),
    };
    let address: IpAddr = addr
        .parse()
        .map_err(|_| format!("vip '{name}': '{text}' is not an IP address ({expected})"))?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                return Err(format!(
                    "vip '{name}': prefix length '{p}' must be between 0 and {max}"
                ))
            }
        },
    };
    let mut dev = None;
    let mut prefer = None;
    let mut i = 3;
    while let Some(word) = line.arg(i) {
        let value = line
            .arg(i + 1)
            .ok_or_else(|| format!("vip '{name}': '{word}' expects a value ({expected})"))?;
        match word {
            "dev" => dev = Some(value.to_string()),
            "prefer" => prefer = Some(value.to_string()),
            other => {
                return Err(format!(
                    "vip '{name}': unknown option '{other}' ({expected})"
                ))
            }
        }
        i += 2;
    }
    let dev = dev.ok_or_else(|| format!("vip '{name}' needs 'dev IF' ({expected})"))?;
    Ok(ClusterVip {
        span: line.span.clone(),
        name: name.to_string(),
        address,
        prefix,
        dev,
        prefer,
    })
}

/// The section is over: the host name stands for a missing `node`. Required keywords are
/// checked by `validate`, which has the diagnostics.
pub fn close(d: Draft) -> Cluster {
    let mut c = d.cluster;
    if !d.node_given {
        c.node = host_name().unwrap_or_default();
    }
    c
}

/// Required keywords and options that go together.
fn required(c: &Cluster, diags: &mut Diagnostics) {
    if c.node.is_empty() {
        diags.error(
            &c.span,
            "cluster: no 'node NAME' and the host name cannot be read (add 'node NAME')",
        );
    }
    if c.etcd.is_empty() {
        diags.error(
            &c.span,
            "cluster needs 'etcd URL[,URL...]' (the etcd endpoints that hold the cluster's state)",
        );
    }
    let a = &c.etcd_auth;
    if a.cert_file.is_some() != a.key_file.is_some() {
        diags.error(
            &c.span,
            "cluster: 'etcd-cert' and 'etcd-key' go together (a client certificate needs its key)",
        );
    }
    if a.user.is_some() != a.password.is_some() {
        diags.error(
            &c.span,
            "cluster: 'etcd-user' and 'etcd-password' go together",
        );
    }
    let tls = a.ca_file.is_some() || a.cert_file.is_some();
    if tls && c.etcd.iter().any(|e| e.starts_with("http://")) {
        diags.error(
            &c.span,
            "cluster: etcd TLS options are set but an endpoint is http:// (use https://)",
        );
    }
    if c.vips.is_empty() {
        diags.warning(&c.span, "cluster section has no 'vip': nothing to place");
    }
}

fn host_name() -> Option<String> {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let h = h.trim();
    (!h.is_empty()).then(|| h.to_string())
}

/// Checks across the model: unique VIP names and addresses, anti-affinity references, VIPs that
/// a VRRP instance also carries, and VIPs no frontend binds (colocation has nothing to watch).
pub fn validate(config: &Config, diags: &mut Diagnostics) {
    let Some(c) = &config.cluster else { return };
    required(c, diags);
    if let Some(api) = config.api.as_ref().filter(|a| a.store.is_some()) {
        diags.warning(
            &api.span,
            format!(
                "api: 'store' is not used with a 'cluster' section: the LBaaS API's store is the cluster's etcd (/fulcrum/{}/lbaas/)",
                c.name
            ),
        );
    }
    if let Some(api) = config
        .api
        .as_ref()
        .filter(|a| a.vip_interface.is_none() && c.vips.is_empty())
    {
        diags.warning(
            &api.span,
            "api: with a 'cluster' section the load balancers' VIPs are placed by the cluster, on 'vip_interface' or else the device of the cluster's first 'vip': neither is written, so they are not placed",
        );
    }
    let mut names: HashMap<&str, &Span> = HashMap::new();
    let mut addrs: HashMap<IpAddr, (&str, &Span)> = HashMap::new();
    for v in &c.vips {
        if let Some(prev) = names.insert(v.name.as_str(), &v.span) {
            diags.error(
                &v.span,
                format!("vip '{}' is declared twice (first at {prev})", v.name),
            );
        }
        if let Some((other, prev)) = addrs.insert(v.address, (v.name.as_str(), &v.span)) {
            diags.error(
                &v.span,
                format!(
                    "vip '{}' has the address {} of vip '{other}' (at {prev})",
                    v.name, v.address
                ),
            );
        }
        let vrrp = config
            .keepalived
            .vrrp_instances
            .iter()
            .find(|i| i.virtual_ipaddress.iter().any(|a| a.address == v.address));
        if let Some(inst) = vrrp {
            diags.error(
                &v.span,
                format!(
                    "vip '{}' address {} is also a virtual_ipaddress of vrrp_instance {} (one manager per address)",
                    v.name, v.address, inst.name
                ),
            );
        }
        if c.colocation_frontends && !bound_by_a_frontend(config, v.address) {
            diags.warning(
                &v.span,
                format!(
                    "vip '{}' ({}) is not bound by any frontend: the colocation with a healthy frontend cannot apply, it is placed on any online node",
                    v.name, v.address
                ),
            );
        }
    }
    for g in &c.anti_affinity {
        for n in &g.vips {
            if !names.contains_key(n.as_str()) {
                diags.error(
                    &g.span,
                    format!("anti-affinity '{}' names vip '{n}', which the cluster section does not declare", g.name),
                );
            }
        }
    }
}

/// Whether some frontend binds `ip` itself (wildcard binds serve it too but say nothing about
/// which VIP they are for: they do not count here).
fn bound_by_a_frontend(config: &Config, ip: IpAddr) -> bool {
    config
        .frontends()
        .any(|f| f.binds.iter().any(|b| b.address == BindAddress::Ip(ip)))
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
