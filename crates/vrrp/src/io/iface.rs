//! What the kernel knows about an interface: index, link state, MAC, primary addresses.
//!
//! Read-only queries through getifaddrs(3); never changes anything.

use nix::net::if_::InterfaceFlags;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A snapshot of one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    /// Administratively up and the link is running (carrier).
    pub running: bool,
    pub mac: Option<[u8; 6]>,
    pub ipv4: Vec<Ipv4Addr>,
    /// Link-local IPv6 addresses (the VRRPv3 IPv6 source).
    pub ipv6_link_local: Vec<Ipv6Addr>,
}

impl Interface {
    /// The address adverts are sent from: the first address that is not one of `exclude` (the
    /// virtual addresses, which a killed master may have left behind).
    pub fn primary(&self, ipv6: bool, exclude: &[IpAddr]) -> Option<IpAddr> {
        if ipv6 {
            self.ipv6_link_local.first().map(|a| IpAddr::V6(*a))
        } else {
            self.ipv4
                .iter()
                .map(|a| IpAddr::V4(*a))
                .find(|a| !exclude.contains(a))
        }
    }
}

/// Looks `name` up; `None` when no such interface exists (yet).
pub fn lookup(name: &str) -> Option<Interface> {
    let index = nix::net::if_::if_nametoindex(name).ok()?;
    let mut iface = Interface {
        name: name.to_string(),
        index,
        ..Interface::default()
    };
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    for ifa in addrs.filter(|a| a.interface_name == name) {
        iface.running = ifa.flags.contains(InterfaceFlags::IFF_UP)
            && ifa.flags.contains(InterfaceFlags::IFF_RUNNING);
        let Some(addr) = ifa.address else { continue };
        if let Some(v4) = addr.as_sockaddr_in() {
            iface.ipv4.push(v4.ip());
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            let ip = v6.ip();
            if ip.segments()[0] & 0xffc0 == 0xfe80 {
                iface.ipv6_link_local.push(ip);
            }
        } else if let Some(link) = addr.as_link_addr() {
            iface.mac = link.addr();
        }
    }
    Some(iface)
}

/// The AF_PACKET address of `name` as getifaddrs(3) reports it (used to send raw frames).
pub fn link_addr(name: &str) -> Option<nix::sys::socket::LinkAddr> {
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    addrs
        .filter(|a| a.interface_name == name)
        .find_map(|a| a.address.and_then(|s| s.as_link_addr().copied()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_is_found_and_unknown_is_none() {
        let lo = super::lookup("lo").expect("every Linux netns has lo");
        assert!(lo.index > 0);
        assert!(super::lookup("no-such-if0").is_none());
    }
}
