//! keepalived's PING_CHECK: one ICMP (ICMPv6) echo request, passed when an echo reply comes
//! within `connect_timeout`; any other ICMP answer (unreachable...) fails it. An unprivileged
//! "ping" datagram socket is used when `net.ipv4.ping_group_range` allows it (the kernel then
//! matches replies to it), else a raw socket (fulcrum keeps CAP_NET_RAW), where replies are
//! matched by identifier. Unlike keepalived, fulcrum never changes `ping_group_range`.

use crate::status::{CheckOutcome, CheckStatus};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingCheck {
    pub addr: IpAddr,
    pub source: Option<IpAddr>,
    pub timeout: Duration,
}

const PAYLOAD: usize = 56;

/// An echo request: type, code 0, checksum, identifier, sequence, payload.
pub fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend((0..PAYLOAD).map(|i| i as u8));
    if !v6 {
        // ICMPv6's checksum covers a pseudo-header: the kernel computes it
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// What a received packet says: Some(true) an echo reply (with `id` when `check_id`),
/// Some(false) another ICMP message for us, None to ignore. `raw_v4`: an IPv4 header first.
pub fn judge(packet: &[u8], v6: bool, raw_v4: bool, id: Option<u16>) -> Option<bool> {
    let icmp = if raw_v4 {
        let ihl = usize::from(packet.first()? & 0x0f) * 4;
        packet.get(ihl..)?
    } else {
        packet
    };
    let (reply, request) = if v6 { (129, 128) } else { (0, 8) };
    let kind = *icmp.first()?;
    if kind == request {
        return None; // our own request seen on a raw socket (loopback)
    }
    if kind == reply {
        let got = u16::from_be_bytes([*icmp.get(4)?, *icmp.get(5)?]);
        return match id {
            Some(want) if want != got => None,
            _ => Some(true),
        };
    }
    // raw sockets see every ICMP message of the host: only errors are not ours to judge
    if id.is_some() {
        return None;
    }
    Some(false)
}

fn open(v6: bool) -> std::io::Result<(Socket, bool)> {
    let (domain, proto) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => Ok((s, false)),
        Err(_) => Socket::new(domain, Type::RAW, Some(proto)).map(|s| (s, true)),
    }
}

impl PingCheck {
    pub async fn run(&self) -> CheckOutcome {
        let start = crate::clock::now();
        let out = |status| CheckOutcome::new(status, crate::clock::since(start));
        let v6 = self.addr.is_ipv6();
        let (sock, raw) = match open(v6) {
            Ok(s) => s,
            Err(e) => {
                return out(CheckStatus::SocketError).with_info(format!(
                    "cannot open an ICMP socket: {}",
                    super::tcp::io_error_info(&e)
                ))
            }
        };
        let prepared = (|| {
            if let Some(src) = self.source {
                sock.bind(&SockAddr::from(SocketAddr::new(src, 0)))?;
            }
            sock.set_nonblocking(true)?;
            UdpSocket::from_std(std::net::UdpSocket::from(sock))
        })();
        let sock = match prepared {
            Ok(s) => s,
            Err(e) => {
                return out(CheckStatus::SocketError).with_info(super::tcp::io_error_info(&e))
            }
        };
        let id = super::dns::random_u64() as u16;
        let request = echo_request(v6, id, 1);
        let dst = SocketAddr::new(self.addr, 0);
        let exchange = async {
            sock.send_to(&request, dst).await?;
            let mut buf = [0u8; 1500];
            loop {
                let (n, from) = sock.recv_from(&mut buf).await?;
                if from.ip() != self.addr {
                    continue;
                }
                if let Some(ok) = judge(&buf[..n], v6, raw && !v6, raw.then_some(id)) {
                    return Ok::<bool, std::io::Error>(ok);
                }
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(true)) => out(CheckStatus::L4Ok).with_info("echo reply"),
            Ok(Ok(false)) => out(CheckStatus::L4Connection).with_info("ICMP error"),
            Ok(Err(e)) => out(CheckStatus::L4Connection).with_info(super::tcp::io_error_info(&e)),
            Err(_) => out(CheckStatus::L4Timeout).with_info("no echo reply"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_checksums_to_zero() {
        let p = echo_request(false, 0x1234, 1);
        assert_eq!(p[0], 8);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to 0");
        assert_eq!(p.len(), 8 + PAYLOAD);
    }

    #[test]
    fn replies_errors_and_strangers() {
        let mut reply = echo_request(false, 7, 1);
        reply[0] = 0;
        assert_eq!(judge(&reply, false, false, None), Some(true));
        assert_eq!(judge(&reply, false, false, Some(7)), Some(true));
        assert_eq!(
            judge(&reply, false, false, Some(8)),
            None,
            "another ping's reply"
        );
        let unreachable = [3u8, 1, 0, 0, 0, 0, 0, 0];
        assert_eq!(judge(&unreachable, false, false, None), Some(false));
        let mut with_ip = vec![0x45u8; 20];
        with_ip.extend_from_slice(&reply);
        assert_eq!(judge(&with_ip, false, true, Some(7)), Some(true));
        let request = echo_request(true, 7, 1);
        assert_eq!(judge(&request, true, false, None), None);
    }
}
