//! A cluster VIP on this node: added and removed over rtnetlink, announced with gratuitous ARP
//! (IPv4) or an unsolicited neighbour advertisement (IPv6). The kernel-facing code is
//! fulcrum-vrrp's (`fulcrum_vrrp::io`), shared rather than written twice.

use fulcrum_config::model::{ClusterVip, VirtualIp};
use fulcrum_vrrp::io::{announce, iface, netlink};
use std::io;
use std::net::IpAddr;

fn ifindex(dev: &str) -> io::Result<u32> {
    nix::net::if_::if_nametoindex(dev)
        .map_err(|e| io::Error::new(io::ErrorKind::NotFound, format!("interface {dev}: {e}")))
}

fn as_virtual_ip(v: &ClusterVip) -> VirtualIp {
    VirtualIp {
        span: v.span.clone(),
        address: v.address,
        prefix: v.prefix,
        dev: Some(v.dev.clone()),
        label: None,
        brd: None,
        scope: None,
    }
}

pub fn add(v: &ClusterVip) -> io::Result<()> {
    netlink::add_address(ifindex(&v.dev)?, &as_virtual_ip(v))
}

pub fn del(v: &ClusterVip) -> io::Result<()> {
    match ifindex(&v.dev) {
        Ok(i) => netlink::del_address(i, &as_virtual_ip(v)),
        // No interface, no address.
        Err(_) => Ok(()),
    }
}

/// One gratuitous ARP / unsolicited NA for `v` from this node's MAC.
pub fn announce(v: &ClusterVip) -> io::Result<()> {
    let i = iface::lookup(&v.dev)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("interface {}", v.dev)))?;
    let mac = i
        .mac
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no MAC on {}", v.dev)))?;
    match v.address {
        IpAddr::V4(ip) => announce::send_garps(&v.dev, mac, &[ip], 1),
        IpAddr::V6(ip) => {
            let src = i.ipv6_link_local.first().copied().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no IPv6 link-local address on {}", v.dev),
                )
            })?;
            announce::send_nas(i.index, src, mac, &[ip], 1)
        }
    }
}
