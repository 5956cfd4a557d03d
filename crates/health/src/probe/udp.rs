//! keepalived's UDP_CHECK: send `payload` (else random bytes) on a connected UDP socket.
//! An ICMP error (port or host unreachable, seen as a failed receive) fails the check. With
//! `require_reply`, a reply must come within `connect_timeout`, its length within
//! `min_reply_length..=max_reply_length`, and its first bytes must match the expected ones
//! (`x` nibbles match anything); without it, silence until the timeout passes.

use super::dns::{connected_udp, random_u64};
use crate::status::{CheckOutcome, CheckStatus};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpCheck {
    pub addr: SocketAddr,
    pub source: Option<SocketAddr>,
    pub payload: Option<Vec<u8>>,
    pub require_reply: bool,
    pub reply: Vec<(u8, u8)>,
    pub min_reply_length: u16,
    pub max_reply_length: u16,
    pub timeout: Duration,
}

/// Whether a reply passes: length in range, then the expected bytes over the shorter of the
/// two (keepalived compares no further than what arrived).
pub fn reply_ok(c: &UdpCheck, reply: &[u8]) -> bool {
    let len = reply.len();
    if len < usize::from(c.min_reply_length) || len > usize::from(c.max_reply_length) {
        return false;
    }
    reply
        .iter()
        .zip(&c.reply)
        .all(|(got, (want, mask))| (got ^ want) & mask == 0)
}

impl UdpCheck {
    pub async fn run(&self) -> CheckOutcome {
        let start = crate::clock::now();
        let out = |status| CheckOutcome::new(status, crate::clock::since(start));
        let sock = match connected_udp(self.addr, self.source).await {
            Ok(s) => s,
            Err(e) => {
                return out(CheckStatus::SocketError).with_info(super::tcp::io_error_info(&e))
            }
        };
        let payload = self
            .payload
            .clone()
            .unwrap_or_else(|| random_u64().to_be_bytes().to_vec());
        let exchange = async {
            sock.send(&payload).await?;
            let mut buf = vec![0u8; usize::from(self.max_reply_length) + 1];
            sock.recv(&mut buf).await.map(|n| {
                buf.truncate(n);
                buf
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(reply)) if !self.require_reply || reply_ok(self, &reply) => {
                out(CheckStatus::L7Ok)
            }
            Ok(Ok(reply)) => out(CheckStatus::L7Response)
                .with_info(format!("UDP reply data mismatch ({} bytes)", reply.len())),
            Ok(Err(e)) => out(CheckStatus::L4Connection).with_info(super::tcp::io_error_info(&e)),
            Err(_) if self.require_reply => out(CheckStatus::L7Timeout).with_info("no UDP reply"),
            Err(_) => out(CheckStatus::L4Ok).with_info("no ICMP error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(reply: &[(u8, u8)], min: u16, max: u16) -> UdpCheck {
        UdpCheck {
            addr: "127.0.0.1:1".parse().expect("addr"),
            source: None,
            payload: None,
            require_reply: true,
            reply: reply.to_vec(),
            min_reply_length: min,
            max_reply_length: max,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn masked_bytes_and_lengths() {
        let c = check(&[(0xab, 0xff), (0x10, 0xf0)], 0, 255);
        assert!(
            reply_ok(&c, &[0xab, 0x1f, 9]),
            "x nibble ignored, extra bytes fine"
        );
        assert!(!reply_ok(&c, &[0xab, 0x2f]));
        assert!(reply_ok(&c, &[0xab]), "compared up to what arrived");
        assert!(!reply_ok(&check(&[], 2, 3), &[1]), "too short");
        assert!(!reply_ok(&check(&[], 0, 3), &[1, 2, 3, 4]), "too long");
    }
}
