//! fulcrum's peers protocol on the wire: one JSON object per line over TCP. It is fulcrum's
//! own: it does not talk to HAProxy's binary peers protocol. Expiry travels as time left
//! (milliseconds), so the hosts' clocks need not agree. Pure: bytes in, messages out.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Longest line accepted; a longer one closes the connection (and is counted).
pub const MAX_LINE: usize = 1 << 20;
/// Entries per `update` message.
pub const BATCH: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
pub enum Msg {
    /// First message both ways: who I am, who I think you are, the tables I replicate.
    Hello {
        node: String,
        to: String,
        tables: Vec<String>,
    },
    /// Entries of one table (new, changed, refreshed, or the whole table after a hello).
    Update {
        table: String,
        entries: Vec<WireEntry>,
    },
    /// Heartbeat: a peer that sends nothing for a while is closed.
    Ping,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEntry {
    pub key: IpAddr,
    pub server: String,
    /// Time left before the entry expires; none: it never does.
    pub ttl_ms: Option<u64>,
}

/// One line (without its newline) for `msg`.
pub fn encode(msg: &Msg) -> Vec<u8> {
    let mut v = serde_json::to_vec(msg).unwrap_or_default();
    v.push(b'\n');
    v
}

/// A line (without its newline) read back; `Err` says why it is refused.
pub fn decode(line: &[u8]) -> Result<Msg, String> {
    if line.len() > MAX_LINE {
        return Err(format!("line of {} bytes (max {MAX_LINE})", line.len()));
    }
    serde_json::from_slice(line).map_err(|e| format!("malformed message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let m = Msg::Update {
            table: "db".into(),
            entries: vec![WireEntry {
                key: "10.99.0.9".parse().unwrap(),
                server: "s1".into(),
                ttl_ms: Some(1500),
            }],
        };
        let line = encode(&m);
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(
            std::str::from_utf8(&line).unwrap(),
            "{\"t\":\"update\",\"table\":\"db\",\"entries\":[{\"key\":\"10.99.0.9\",\"server\":\"s1\",\"ttl_ms\":1500}]}\n"
        );
        assert_eq!(decode(&line[..line.len() - 1]), Ok(m));
        assert_eq!(decode(b"{\"t\":\"ping\"}"), Ok(Msg::Ping));
        assert!(decode(b"{\"t\":\"nope\"}").is_err());
        assert!(decode(b"\x00\xff").is_err());
        assert!(decode(&vec![b' '; MAX_LINE + 1]).is_err());
    }
}
