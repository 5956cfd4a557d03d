//! Stable nftables names for fulcrum's objects, derived from the users' words (the virtual
//! server's address, protocol and port, the real server's address and port), so a reload
//! that keeps a virtual server keeps every one of its objects.

use fulcrum_config::model::{IpProtocol, VirtualServer, VirtualServerAddress};
use std::net::{IpAddr, SocketAddr};

/// The table fulcrum owns in each family it uses (`inet` for NAT, `netdev` for DR).
pub const TABLE: &str = "fulcrum_lvs";

pub fn proto(p: IpProtocol) -> &'static str {
    match p {
        IpProtocol::Tcp => "tcp",
        IpProtocol::Udp => "udp",
        IpProtocol::Sctp => "sctp",
    }
}

fn ip_word(ip: IpAddr) -> String {
    ip.to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// `vs_tcp_10_99_0_100_80`, `vs_fwmark_5`.
pub fn vs_chain(vs: &VirtualServer) -> String {
    match vs.address {
        VirtualServerAddress::Ip { ip, port } => {
            format!("vs_{}_{}_{port}", proto(vs.protocol), ip_word(ip))
        }
        VirtualServerAddress::Fwmark(m) => format!("vs_fwmark_{m}"),
    }
}

pub fn rs_chain(vs_chain: &str, ip: IpAddr, port: u16) -> String {
    format!("{vs_chain}_rs_{}_{port}", ip_word(ip))
}

/// The health engine's names (see fulcrum_health::spec): `10.99.0.100:80` / `fwmark 5` for the
/// virtual server, `10.99.0.3:80` for the real server.
pub fn health_vs(vs: &VirtualServer) -> String {
    match vs.address {
        VirtualServerAddress::Ip { ip, port } => SocketAddr::new(ip, port).to_string(),
        VirtualServerAddress::Fwmark(m) => format!("fwmark {m}"),
    }
}

pub fn health_rs(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

/// `ip` or `ip6`, the nft payload/statement family of an address.
pub fn fam(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "ip"
    } else {
        "ip6"
    }
}

/// `10.0.0.1:80`, `[::1]:80`, or the bare address when port is None.
pub fn target(ip: IpAddr, port: Option<u16>) -> String {
    match (ip, port) {
        (IpAddr::V4(a), Some(p)) => format!("{a}:{p}"),
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, None) => a.to_string(),
    }
}
