//! What the VRRP machine receives and why it drops a packet: the adapter's view of a packet
//! ([`Received`]), the drop causes keepalived and RFC 5798 §7.1 name ([`DropCause`]), and the
//! per-instance packet counters ([`Counters`]).

use crate::packet::DecodeError;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Why a received packet was dropped. Each cause is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropCause {
    /// TTL / hop limit not 255.
    Ttl,
    Truncated,
    /// Not VRRP version 2 or 3, or not an advertisement.
    Malformed,
    Checksum,
    /// A valid advert of the other VRRP version than configured.
    VersionMismatch,
    /// An advert for another virtual router (another VRID).
    Vrid,
    /// VRRPv2 authentication differs (type or password).
    Authentication,
    /// Advertisement interval differs from ours.
    Interval,
    /// Our own advert, looped back.
    OwnPacket,
}

impl DropCause {
    pub fn describe(self) -> &'static str {
        match self {
            DropCause::Ttl => "TTL/hop limit is not 255",
            DropCause::Truncated => "packet too short",
            DropCause::Malformed => "not a VRRPv2/v3 advertisement",
            DropCause::Checksum => "bad checksum",
            DropCause::VersionMismatch => "VRRP version differs from ours",
            DropCause::Vrid => "virtual_router_id differs from ours",
            DropCause::Authentication => "authentication mismatch",
            DropCause::Interval => "advert_int differs from ours",
            DropCause::OwnPacket => "our own advert looped back",
        }
    }
}

impl From<DecodeError> for DropCause {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Truncated => DropCause::Truncated,
            DecodeError::Checksum => DropCause::Checksum,
            DecodeError::Version(_)
            | DecodeError::Type(_)
            | DecodeError::V2OverIpv6
            | DecodeError::MixedFamilies => DropCause::Malformed,
        }
    }
}

/// A packet as the socket adapter received it.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6) it arrived with.
    pub ttl: u8,
    /// The VRRP message (after the IP header).
    pub bytes: &'a [u8],
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub received: u64,
    pub accepted: u64,
    pub dropped: BTreeMap<DropCause, u64>,
    /// Accepted adverts whose address list differs from ours (keepalived logs these).
    pub address_list_mismatch: u64,
    pub sent: u64,
    pub became_master: u64,
}

impl Counters {
    pub fn dropped(&self, cause: DropCause) -> u64 {
        self.dropped.get(&cause).copied().unwrap_or(0)
    }
}
