//! VRRP advertisement codec: VRRPv2 (RFC 3768, with PASS authentication) and VRRPv3
//! (RFC 5798, IPv4 and IPv6), with their checksums.
//!
//! Owns the bytes of the VRRP message only (what follows the IP header). The IP header fields
//! the protocol needs (source, destination, TTL / hop limit) come from the socket adapter. Pure:
//! no sockets, no clocks. Malformed input is a `DecodeError`, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// 224.0.0.18, the VRRP IPv4 multicast group.
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// ff02::12, the VRRP IPv6 multicast group.
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL / hop limit every advertisement is sent with and must arrive with.
pub const TTL: u8 = 255;

const TYPE_ADVERTISEMENT: u8 = 1;
const V2_AUTH_NONE: u8 = 0;
const V2_AUTH_PASS: u8 = 1;
const V2_AUTH_AH: u8 = 2;
const V2_AUTH_LEN: usize = 8;
const HEADER_LEN: usize = 8;

/// VRRPv2 authentication as carried in the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `auth_type PASS`: up to 8 bytes of clear text, zero padded.
    Pass([u8; V2_AUTH_LEN]),
    /// `auth_type AH`: recognised so it can be refused by name; fulcrum does not implement it.
    Ah,
}

impl Auth {
    /// The on-wire form of `auth_pass` (keepalived truncates to 8 bytes and zero-pads).
    pub fn pass(password: &str) -> Auth {
        let mut data = [0u8; V2_AUTH_LEN];
        for (d, s) in data.iter_mut().zip(password.as_bytes()) {
            *d = *s;
        }
        Auth::Pass(data)
    }
}

/// One VRRP advertisement, version-independent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    /// 2 or 3.
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
    /// Advertisement interval in centiseconds (v2 carries whole seconds; converted here).
    pub interval_cs: u16,
    /// Always `Auth::None` for v3.
    pub auth: Auth,
    /// The virtual addresses (all of one family).
    pub addresses: Vec<IpAddr>,
}

impl Advert {
    pub fn interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.interval_cs) * 10)
    }
}

/// Why bytes are not a valid advertisement. Each is a counted drop cause in the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("packet too short for a VRRP advertisement")]
    Truncated,
    #[error("unsupported VRRP version {0} (expected 2 or 3)")]
    Version(u8),
    #[error("VRRP packet type {0} is not an advertisement (1)")]
    Type(u8),
    #[error("bad VRRP checksum")]
    Checksum,
    #[error("VRRPv2 over IPv6 does not exist")]
    V2OverIpv6,
    #[error("source and destination address families differ")]
    MixedFamilies,
}

/// Converts an interval to the centiseconds carried on the wire (v3: 12 bits, at least 1).
pub fn interval_to_cs(interval: Duration) -> u16 {
    let cs = interval.as_millis() / 10;
    cs.clamp(1, 0x0fff) as u16
}

/// Encodes `advert` sent from `src` to `dst` (both needed for the v3 pseudo-header checksum).
/// Addresses of the other family than `src` are skipped (a VRRP message carries one family).
pub fn encode(advert: &Advert, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let addresses: Vec<IpAddr> = advert
        .addresses
        .iter()
        .copied()
        .filter(|a| a.is_ipv4() == src.is_ipv4())
        .take(255)
        .collect();
    let mut out = Vec::with_capacity(HEADER_LEN + addresses.len() * 16 + V2_AUTH_LEN);
    out.push((advert.version << 4) | TYPE_ADVERTISEMENT);
    out.push(advert.vrid);
    out.push(advert.priority);
    out.push(addresses.len() as u8);
    if advert.version == 2 {
        let auth_type = match advert.auth {
            Auth::None => V2_AUTH_NONE,
            Auth::Pass(_) => V2_AUTH_PASS,
            Auth::Ah => V2_AUTH_AH,
        };
        out.push(auth_type);
        let seconds = (advert.interval_cs / 100).clamp(1, 255) as u8;
        out.push(seconds);
    } else {
        let cs = advert.interval_cs.clamp(1, 0x0fff);
        out.extend_from_slice(&cs.to_be_bytes());
    }
    out.extend_from_slice(&[0, 0]);
    for a in &addresses {
        match a {
            IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
            IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
        }
    }
    if advert.version == 2 {
        match advert.auth {
            Auth::Pass(data) => out.extend_from_slice(&data),
            _ => out.extend_from_slice(&[0u8; V2_AUTH_LEN]),
        }
    }
    let sum = if advert.version == 3 {
        checksum_v3(&out, src, dst)
    } else {
        checksum(&[&out])
    };
    out[6..8].copy_from_slice(&sum.to_be_bytes());
    out
}

/// Decodes and checks the checksum of a VRRP message received from `src` sent to `dst`.
pub fn decode(bytes: &[u8], src: IpAddr, dst: IpAddr) -> Result<Advert, DecodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Truncated);
    }
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(DecodeError::MixedFamilies);
    }
    let version = bytes[0] >> 4;
    let kind = bytes[0] & 0x0f;
    if version != 2 && version != 3 {
        return Err(DecodeError::Version(version));
    }
    if kind != TYPE_ADVERTISEMENT {
        return Err(DecodeError::Type(kind));
    }
    if version == 2 && src.is_ipv6() {
        return Err(DecodeError::V2OverIpv6);
    }
    let count = usize::from(bytes[3]);
    let addr_len = if src.is_ipv4() { 4 } else { 16 };
    let trailer = if version == 2 { V2_AUTH_LEN } else { 0 };
    let needed = HEADER_LEN + count * addr_len + trailer;
    if bytes.len() < needed {
        return Err(DecodeError::Truncated);
    }
    let message = &bytes[..needed];
    let ok = if version == 3 {
        checksum_v3(message, src, dst) == 0
    } else {
        checksum(&[message]) == 0
    };
    if !ok {
        return Err(DecodeError::Checksum);
    }
    let (interval_cs, auth) = if version == 2 {
        let auth = match bytes[4] {
            V2_AUTH_PASS => {
                let mut data = [0u8; V2_AUTH_LEN];
                data.copy_from_slice(&message[needed - V2_AUTH_LEN..]);
                Auth::Pass(data)
            }
            V2_AUTH_AH => Auth::Ah,
            _ => Auth::None,
        };
        (u16::from(bytes[5]) * 100, auth)
    } else {
        (
            u16::from_be_bytes([bytes[4], bytes[5]]) & 0x0fff,
            Auth::None,
        )
    };
    let addresses = message[HEADER_LEN..HEADER_LEN + count * addr_len]
        .chunks_exact(addr_len)
        .map(|c| match <[u8; 16]>::try_from(c) {
            Ok(b16) => IpAddr::V6(Ipv6Addr::from(b16)),
            Err(_) => IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
        })
        .collect();
    Ok(Advert {
        version,
        vrid: bytes[1],
        priority: bytes[2],
        interval_cs,
        auth,
        addresses,
    })
}

/// The v3 checksum: the message plus the IPv4 or IPv6 pseudo-header (RFC 5798 §5.2.8; keepalived
/// uses the pseudo-header for IPv4 as well).
fn checksum_v3(message: &[u8], src: IpAddr, dst: IpAddr) -> u16 {
    let len = message.len() as u32;
    match (src, dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut pseudo = Vec::with_capacity(40);
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&len.to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, IPPROTO_VRRP]);
            checksum(&[&pseudo, message])
        }
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut pseudo = Vec::with_capacity(12);
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&[0, IPPROTO_VRRP]);
            pseudo.extend_from_slice(&(len as u16).to_be_bytes());
            checksum(&[&pseudo, message])
        }
        // decode() refuses mixed families before; encode() never mixes them.
        _ => 0xffff,
    }
}

/// The Internet checksum (RFC 1071) over the concatenation of `parts`, each of even length
/// except possibly the last.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(2);
        for c in &mut chunks {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u32::from(*last) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn sample(version: u8) -> Advert {
        Advert {
            version,
            vrid: 51,
            priority: 150,
            interval_cs: 100,
            auth: if version == 2 {
                Auth::pass("secret")
            } else {
                Auth::None
            },
            addresses: vec![v4("10.99.0.100"), v4("10.99.0.101")],
        }
    }

    #[test]
    fn v2_known_bytes() {
        // VRID 51, priority 150, 2 addresses, PASS "secret", 1 s.
        let bytes = encode(&sample(2), v4("10.99.0.1"), IpAddr::V4(MULTICAST_V4));
        assert_eq!(&bytes[..6], &[0x21, 51, 150, 2, 1, 1]);
        assert_eq!(&bytes[8..12], &[10, 99, 0, 100]);
        assert_eq!(&bytes[16..], b"secret\0\0");
        assert_eq!(checksum(&[&bytes]), 0, "a valid message sums to zero");
    }

    #[test]
    fn v2_round_trip() {
        let a = sample(2);
        let bytes = encode(&a, v4("10.99.0.1"), IpAddr::V4(MULTICAST_V4));
        assert_eq!(
            decode(&bytes, v4("10.99.0.1"), IpAddr::V4(MULTICAST_V4)),
            Ok(a)
        );
    }

    #[test]
    fn v3_ipv4_round_trip_and_pseudo_header() {
        let mut a = sample(3);
        a.interval_cs = 10; // advert_int 0.1
        let src = v4("10.99.0.1");
        let dst = IpAddr::V4(MULTICAST_V4);
        let bytes = encode(&a, src, dst);
        assert_eq!(&bytes[..6], &[0x31, 51, 150, 2, 0, 10]);
        assert_eq!(bytes.len(), 16, "no authentication trailer in v3");
        assert_eq!(decode(&bytes, src, dst), Ok(a));
        // The pseudo-header covers the addresses: another source fails the checksum.
        assert_eq!(
            decode(&bytes, v4("10.99.0.2"), dst),
            Err(DecodeError::Checksum)
        );
        // ...and so does a unicast destination.
        assert_eq!(
            decode(&bytes, src, v4("10.99.0.2")),
            Err(DecodeError::Checksum)
        );
    }

    #[test]
    fn v3_ipv6_round_trip() {
        let a = Advert {
            version: 3,
            vrid: 7,
            priority: 255,
            interval_cs: 0x0fff,
            auth: Auth::None,
            addresses: vec!["fd99::100".parse().unwrap()],
        };
        let src: IpAddr = "fe80::1".parse().unwrap();
        let dst = IpAddr::V6(MULTICAST_V6);
        let bytes = encode(&a, src, dst);
        assert_eq!(bytes.len(), 8 + 16);
        assert_eq!(decode(&bytes, src, dst), Ok(a));
        assert_eq!(
            decode(&bytes, "fe80::2".parse().unwrap(), dst),
            Err(DecodeError::Checksum)
        );
    }

    #[test]
    fn v3_ipv4_pseudo_header_known_value() {
        // Hand-computed: pseudo-header 10.99.0.1 -> 224.0.0.18, proto 112, length 12;
        // message 31 01 64 01 | 00 64 [cksum] | 0a 63 00 64.
        let a = Advert {
            version: 3,
            vrid: 1,
            priority: 100,
            interval_cs: 100,
            auth: Auth::None,
            addresses: vec![v4("10.99.0.100")],
        };
        let bytes = encode(&a, v4("10.99.0.1"), IpAddr::V4(MULTICAST_V4));
        let words: u32 = [
            0x0a63, 0x0001, 0xe000, 0x0012, 0x0070, 0x000c, 0x3101, 0x6401, 0x0064, 0x0a63, 0x0064,
        ]
        .iter()
        .sum();
        let folded = (words & 0xffff) + (words >> 16);
        let expected = !((folded & 0xffff) + (folded >> 16)) as u16;
        assert_eq!(u16::from_be_bytes([bytes[6], bytes[7]]), expected);
    }

    #[test]
    fn corrupted_byte_fails_checksum() {
        let src = v4("10.99.0.1");
        let dst = IpAddr::V4(MULTICAST_V4);
        for version in [2, 3] {
            let mut bytes = encode(&sample(version), src, dst);
            bytes[2] ^= 0x01;
            assert_eq!(
                decode(&bytes, src, dst),
                Err(DecodeError::Checksum),
                "v{version}"
            );
        }
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        let src = v4("10.99.0.1");
        let dst = IpAddr::V4(MULTICAST_V4);
        assert_eq!(decode(&[], src, dst), Err(DecodeError::Truncated));
        assert_eq!(
            decode(&[0x21, 1, 100], src, dst),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode(&[0x11, 1, 100, 0, 0, 1, 0, 0], src, dst),
            Err(DecodeError::Version(1))
        );
        assert_eq!(
            decode(&[0x22, 1, 100, 0, 0, 1, 0, 0], src, dst),
            Err(DecodeError::Type(2))
        );
        // Count says 200 addresses, only one present.
        let mut bytes = encode(&sample(2), src, dst);
        bytes[3] = 200;
        assert_eq!(decode(&bytes, src, dst), Err(DecodeError::Truncated));
        let bytes = encode(&sample(2), src, dst);
        let v6: IpAddr = "fe80::1".parse().unwrap();
        assert_eq!(
            decode(&bytes, v6, IpAddr::V6(MULTICAST_V6)),
            Err(DecodeError::V2OverIpv6)
        );
        assert_eq!(
            decode(&bytes, src, IpAddr::V6(MULTICAST_V6)),
            Err(DecodeError::MixedFamilies)
        );
        // Every truncation of a valid packet is an error, never a panic.
        for version in [2, 3] {
            let bytes = encode(&sample(version), src, dst);
            for n in 0..bytes.len() {
                assert!(decode(&bytes[..n], src, dst).is_err());
            }
        }
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        let src = v4("10.99.0.1");
        let dst = IpAddr::V4(MULTICAST_V4);
        let mut bytes = encode(&sample(3), src, dst);
        bytes.extend_from_slice(&[0xde, 0xad]);
        assert!(decode(&bytes, src, dst).is_ok());
    }

    #[test]
    fn interval_conversion() {
        assert_eq!(interval_to_cs(Duration::from_millis(100)), 10);
        assert_eq!(interval_to_cs(Duration::from_secs(1)), 100);
        assert_eq!(interval_to_cs(Duration::from_millis(1)), 1);
        assert_eq!(interval_to_cs(Duration::from_secs(100)), 0x0fff);
        assert_eq!(sample(2).interval(), Duration::from_secs(1));
    }

    #[test]
    fn pass_is_truncated_and_padded() {
        assert_eq!(Auth::pass("12345678910"), Auth::Pass(*b"12345678"));
        assert_eq!(Auth::pass("ab"), Auth::Pass(*b"ab\0\0\0\0\0\0"));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever arrives on the wire, decoding returns and never panics.
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600), v6 in any::<bool>()) {
            let (src, dst): (IpAddr, IpAddr) = if v6 {
                ("fe80::1".parse().unwrap(), IpAddr::V6(MULTICAST_V6))
            } else {
                ("10.99.0.1".parse().unwrap(), IpAddr::V4(MULTICAST_V4))
            };
            let _ = decode(&bytes, src, dst);
        }

        /// Every advert we encode decodes to itself (v2 PASS, v3 IPv4 and IPv6).
        #[test]
        fn round_trip(version in 2u8..=3, vrid in 1u8..=255, priority in any::<u8>(),
                      interval_cs in 1u16..0x0fff, n in 0usize..20, v6 in any::<bool>(), pass in "[a-z]{0,8}") {
            let v6 = v6 && version == 3;
            let addresses: Vec<IpAddr> = (0..n)
                .map(|i| if v6 { IpAddr::V6(Ipv6Addr::new(0xfd99, 0, 0, 0, 0, 0, 0, i as u16)) } else { IpAddr::V4(Ipv4Addr::new(10, 99, 1, i as u8)) })
                .collect();
            let interval_cs = if version == 2 { (interval_cs / 100).clamp(1, 40) * 100 } else { interval_cs };
            let auth = if version == 2 { Auth::pass(&pass) } else { Auth::None };
            let a = Advert { version, vrid, priority, interval_cs, auth, addresses };
            let (src, dst): (IpAddr, IpAddr) = if v6 {
                ("fe80::1".parse().unwrap(), IpAddr::V6(MULTICAST_V6))
            } else {
                ("10.99.0.1".parse().unwrap(), IpAddr::V4(MULTICAST_V4))
            };
            let bytes = encode(&a, src, dst);
            prop_assert_eq!(decode(&bytes, src, dst), Ok(a));
        }
    }
}
