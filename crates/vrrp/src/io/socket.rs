//! The raw IP-protocol-112 sockets one instance sends and receives adverts on.
//!
//! Receiving: a raw socket bound to the interface and joined to 224.0.0.18 / ff02::12. IPv4 raw
//! sockets deliver the IP header, so TTL, source and destination are read from it; on IPv6 the
//! hop limit and destination come as IPV6_HOPLIMIT / IPV6_PKTINFO control messages. Sending: a
//! second raw socket bound to the source address, TTL / hop limit 255, multicast loop off.
//! Validation of what arrives is the state machine's job, not this file's.

use crate::packet::{IPPROTO_VRRP, MULTICAST_V4, MULTICAST_V6, TTL};
use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn6};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use std::io::{self, IoSliceMut, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;
use tokio::io::unix::AsyncFd;

/// One received packet, IP header fields separated from the VRRP message.
#[derive(Debug, Clone)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub payload: Vec<u8>,
}

pub struct VrrpSocket {
    rx: AsyncFd<Socket>,
    tx: Socket,
    ipv6: bool,
    ifindex: u32,
}

impl VrrpSocket {
    /// Opens the sockets on interface `ifname` (index `ifindex`), sending from `src`.
    pub fn open(ifname: &str, ifindex: u32, src: IpAddr) -> io::Result<VrrpSocket> {
        let ipv6 = src.is_ipv6();
        let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
        let proto = Some(Protocol::from(i32::from(IPPROTO_VRRP)));

        let rx = Socket::new(domain, Type::RAW, proto)?;
        rx.bind_device(Some(ifname.as_bytes()))?;
        if ipv6 {
            rx.join_multicast_v6(&MULTICAST_V6, ifindex)?;
            setsockopt(&rx, sockopt::Ipv6RecvHopLimit, &true).map_err(io::Error::from)?;
            setsockopt(&rx, sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
        } else {
            rx.join_multicast_v4_n(&MULTICAST_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
        }
        rx.set_nonblocking(true)?;

        let tx = Socket::new(domain, Type::RAW, proto)?;
        tx.bind_device(Some(ifname.as_bytes()))?;
        // tx never reads: keep whatever the kernel queues on it small.
        tx.set_recv_buffer_size(1)?;
        if let IpAddr::V6(v6) = src {
            tx.set_multicast_hops_v6(u32::from(TTL))?;
            tx.set_unicast_hops_v6(u32::from(TTL))?;
            tx.set_multicast_loop_v6(false)?;
            tx.set_multicast_if_v6(ifindex)?;
            // Right after the link comes up the link-local address is still tentative (DAD) and
            // a plain bind fails; keepalived waits it out, freebind lets us start at once.
            tx.set_freebind_ipv6(true)?;
            tx.bind(&SockAddr::from(SocketAddrV6::new(v6, 0, 0, ifindex)))?;
        } else if let IpAddr::V4(v4) = src {
            tx.set_multicast_ttl_v4(u32::from(TTL))?;
            tx.set_ttl(u32::from(TTL))?;
            tx.set_multicast_loop_v4(false)?;
            tx.set_multicast_if_v4(&v4)?;
            tx.bind(&SockAddr::from(SocketAddr::new(src, 0)))?;
        }
        // AsyncFd owns the socket, so the I/O-safety concern behind the deprecation (someone
        // else closing the fd) cannot arise; the replacement, `register`, is `unsafe`.
        #[allow(deprecated)]
        let rx = AsyncFd::new(rx)?;
        Ok(VrrpSocket {
            rx,
            tx,
            ipv6,
            ifindex,
        })
    }

    /// Sends one VRRP message to `dst` (the multicast group or a unicast peer).
    pub fn send(&self, bytes: &[u8], dst: IpAddr) -> io::Result<()> {
        let to = match dst {
            IpAddr::V6(v6) => SockAddr::from(SocketAddrV6::new(v6, 0, 0, self.ifindex)),
            IpAddr::V4(_) => SockAddr::from(SocketAddr::new(dst, 0)),
        };
        self.tx.send_to(bytes, &to).map(|_| ())
    }

    /// The VRRP multicast group of this socket's family.
    pub fn group(&self) -> IpAddr {
        if self.ipv6 {
            IpAddr::V6(MULTICAST_V6)
        } else {
            IpAddr::V4(MULTICAST_V4)
        }
    }

    /// Waits for the next packet. Packets too short to carry an IP header are skipped.
    pub async fn recv(&self) -> io::Result<Packet> {
        loop {
            let mut guard = self.rx.readable().await?;
            let got = guard.try_io(|s| {
                if self.ipv6 {
                    recv_v6(s.get_ref())
                } else {
                    recv_v4(s.get_ref())
                }
            });
            match got {
                Ok(Ok(Some(p))) => return Ok(p),
                Ok(Ok(None)) => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

fn recv_v4(s: &Socket) -> io::Result<Option<Packet>> {
    let mut buf = [0u8; 2048];
    let n = (&*s).read(&mut buf)?;
    Ok(parse_ipv4(&buf[..n]))
}

/// Splits an IPv4 datagram as a raw socket delivers it (header included).
pub fn parse_ipv4(buf: &[u8]) -> Option<Packet> {
    if buf.len() < 20 || buf[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(buf[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([buf[2], buf[3]])).min(buf.len());
    if ihl < 20 || total < ihl {
        return None;
    }
    Some(Packet {
        src: IpAddr::V4(Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15])),
        dst: IpAddr::V4(Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19])),
        ttl: buf[8],
        payload: buf[ihl..total].to_vec(),
    })
}

fn recv_v6(s: &Socket) -> io::Result<Option<Packet>> {
    let mut buf = [0u8; 2048];
    let mut cmsg = nix::cmsg_space!(nix::libc::c_int, nix::libc::in6_pktinfo);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<SockaddrIn6>(s.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty())
        .map_err(io::Error::from)?;
    let Some(src) = msg.address else {
        return Ok(None);
    };
    let mut ttl = None;
    let mut dst = None;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        match c {
            ControlMessageOwned::Ipv6HopLimit(h) => ttl = u8::try_from(h).ok(),
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr))
            }
            _ => {}
        }
    }
    let n = msg.bytes;
    let (Some(ttl), Some(dst)) = (ttl, dst) else {
        return Ok(None);
    };
    Ok(Some(Packet {
        src: IpAddr::V6(src.ip()),
        dst: IpAddr::V6(dst),
        ttl,
        payload: buf[..n].to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_is_split() {
        let mut d = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0, 10, 99, 0, 1, 224, 0, 0, 18,
        ];
        d.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 9]); // 2 bytes beyond total length
        let p = parse_ipv4(&d).unwrap();
        assert_eq!(p.ttl, 255);
        assert_eq!(p.src, "10.99.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(p.dst, IpAddr::V4(MULTICAST_V4));
        assert_eq!(p.payload, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(parse_ipv4(&d[..10]).is_none());
        let mut bad = d.clone();
        bad[0] = 0x41; // IHL 4 bytes
        assert!(parse_ipv4(&bad).is_none());
    }
}
