//! Tells the segment where the virtual addresses now live: gratuitous ARP for IPv4 (an ARP
//! request for the address from itself, broadcast on an AF_PACKET socket) and unsolicited
//! neighbour advertisements for IPv6 (ICMPv6 type 136 to ff02::1, hop limit 255, Override set).
//! Frame building is pure and tested here; sending needs the interface's MAC and link address.

use nix::sys::socket::{sendto, socket, AddressFamily, LinkAddr, MsgFlags, SockFlag, SockType};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;

const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The Ethernet frame of a gratuitous ARP for `ip` owned by `mac` (padded to 60 bytes).
pub fn garp_frame(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x08, 0x06]); // ARP
    f.extend_from_slice(&[0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]); // Ethernet/IPv4, request
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&ip.octets());
    f.resize(60, 0);
    f
}

/// The ICMPv6 body of an unsolicited neighbour advertisement for `target` at `mac` (the kernel
/// fills the checksum on ICMPv6 raw sockets).
pub fn na_message(mac: [u8; 6], target: Ipv6Addr) -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(&[136, 0, 0, 0]);
    m.extend_from_slice(&[0x20, 0, 0, 0]); // Override
    m.extend_from_slice(&target.octets());
    m.extend_from_slice(&[2, 1]); // target link-layer address option, 8 bytes
    m.extend_from_slice(&mac);
    m
}

/// Sends `count` gratuitous ARPs for each of `ips` on interface `ifname`.
pub fn send_garps(ifname: &str, mac: [u8; 6], ips: &[Ipv4Addr], count: u32) -> io::Result<()> {
    if ips.is_empty() || count == 0 {
        return Ok(());
    }
    let link: LinkAddr = super::iface::link_addr(ifname).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no link address for {ifname}"),
        )
    })?;
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io::Error::from)?;
    for _ in 0..count {
        for ip in ips {
            sendto(
                fd.as_raw_fd(),
                &garp_frame(mac, *ip),
                &link,
                MsgFlags::empty(),
            )
            .map_err(io::Error::from)?;
        }
    }
    Ok(())
}

/// Sends `count` unsolicited neighbour advertisements for each of `ips` from `src` (link-local).
pub fn send_nas(
    ifindex: u32,
    src: Ipv6Addr,
    mac: [u8; 6],
    ips: &[Ipv6Addr],
    count: u32,
) -> io::Result<()> {
    if ips.is_empty() || count == 0 {
        return Ok(());
    }
    let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
    s.set_multicast_hops_v6(255)?;
    s.set_multicast_if_v6(ifindex)?;
    // The link-local source may still be tentative just after link up (see socket.rs).
    s.set_freebind_ipv6(true)?;
    s.bind(&SockAddr::from(SocketAddrV6::new(src, 0, 0, ifindex)))?;
    let to = SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, ifindex));
    for _ in 0..count {
        for ip in ips {
            s.send_to(&na_message(mac, *ip), &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garp_frame_layout() {
        let mac = [2, 0, 0, 0, 0, 1];
        let f = garp_frame(mac, Ipv4Addr::new(10, 99, 0, 100));
        assert_eq!(f.len(), 60);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1], "request");
        assert_eq!(&f[22..28], &mac);
        assert_eq!(&f[28..32], &[10, 99, 0, 100], "sender is the VIP");
        assert_eq!(&f[38..42], &[10, 99, 0, 100], "target is the VIP");
    }

    #[test]
    fn na_layout() {
        let m = na_message([2, 0, 0, 0, 0, 1], "fd99::100".parse().unwrap());
        assert_eq!(m.len(), 32);
        assert_eq!(m[0], 136);
        assert_eq!(m[4], 0x20);
        assert_eq!(&m[24..26], &[2, 1]);
    }
}
