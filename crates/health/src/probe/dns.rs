//! keepalived's DNS_CHECK: one query (`type`, default SOA, for `name`, default `.`, recursion
//! desired, a random id) over a connected UDP socket; the check passes on a reply with the
//! same id, QR set and RCODE 0. Replies with another id or without QR are ignored, an ICMP
//! error fails at once, no reply within `connect_timeout` fails. Query building and reply
//! judging are pure.

use crate::status::{CheckOutcome, CheckStatus};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsCheck {
    pub addr: SocketAddr,
    pub source: Option<SocketAddr>,
    pub query_type: u16,
    pub name: String,
    pub timeout: Duration,
}

/// The query datagram: header (id, RD, one question) then QNAME, QTYPE, class IN.
pub fn query(id: u16, query_type: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        q.push(l.len() as u8);
        q.extend_from_slice(l);
    }
    q.push(0);
    q.extend_from_slice(&query_type.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

/// What a received datagram means: None to keep waiting (too short, other id, not a reply),
/// else the reply's RCODE.
pub fn judge(id: u16, reply: &[u8]) -> Option<u8> {
    if reply.len() < 12 || reply[..2] != id.to_be_bytes() || reply[2] & 0x80 == 0 {
        return None;
    }
    Some(reply[3] & 0x0f)
}

/// A random 16-bit number from the standard library's per-process random keys.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// A UDP socket bound to `source` (or any address of `dst`'s family) and connected to `dst`.
pub async fn connected_udp(
    dst: SocketAddr,
    source: Option<SocketAddr>,
) -> std::io::Result<UdpSocket> {
    let local = source.unwrap_or_else(|| {
        if dst.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        }
    });
    let s = UdpSocket::bind(local).await?;
    s.connect(dst).await?;
    Ok(s)
}

impl DnsCheck {
    pub async fn run(&self) -> CheckOutcome {
        let start = crate::clock::now();
        let id = random_u64() as u16;
        let fail = |status, info: String| {
            CheckOutcome::new(status, crate::clock::since(start)).with_info(info)
        };
        let sock = match connected_udp(self.addr, self.source).await {
            Ok(s) => s,
            Err(e) => return fail(CheckStatus::SocketError, super::tcp::io_error_info(&e)),
        };
        let q = query(id, self.query_type, &self.name);
        let exchange = async {
            sock.send(&q).await?;
            let mut buf = [0u8; 4096];
            loop {
                let n = sock.recv(&mut buf).await?;
                if let Some(rcode) = judge(id, &buf[..n]) {
                    return Ok::<u8, std::io::Error>(rcode);
                }
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(0)) => CheckOutcome::new(CheckStatus::L7Ok, crate::clock::since(start)),
            Ok(Ok(rcode)) => CheckOutcome::new(CheckStatus::L7Status, crate::clock::since(start))
                .with_code(u16::from(rcode))
                .with_info(format!("DNS error (rcode = {rcode})")),
            Ok(Err(e)) => fail(CheckStatus::L4Connection, super::tcp::io_error_info(&e)),
            Err(_) => fail(CheckStatus::L7Timeout, "no DNS reply".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_soa_query_bytes() {
        assert_eq!(
            query(0x1234, 6, "."),
            [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]
        );
    }

    #[test]
    fn names_are_labels_with_one_root() {
        let q = query(1, 1, "www.example.com.");
        assert_eq!(&q[12..], b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        assert_eq!(query(1, 1, "www.example.com"), q);
    }

    #[test]
    fn replies_are_matched_by_id_and_qr() {
        let mut r = query(7, 6, ".");
        assert_eq!(judge(7, &r), None, "a query is not a reply");
        r[2] |= 0x80;
        assert_eq!(judge(7, &r), Some(0));
        assert_eq!(judge(8, &r), None, "another id");
        r[3] |= 3; // NXDOMAIN
        assert_eq!(judge(7, &r), Some(3));
        assert_eq!(judge(7, &r[..5]), None);
    }
}
