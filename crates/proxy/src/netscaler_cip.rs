//! The NetScaler Client IP insertion header (CIP) a Citrix NetScaler writes before the
//! client's bytes (`bind ... accept-netscaler-cip MAGIC`, `tcp-request connection
//! expect-netscaler-cip layer4`), read as HAProxy 2.6's `conn_recv_netscaler_cip` reads it,
//! sans-IO: a 32-bit magic number, then either the legacy form (the client's IP header at
//! byte 8, a 32-bit length of what follows the first 8 bytes at byte 4) or the standard one
//! (byte 8 is 0, a 16-bit length of what follows the first 12 bytes at byte 10), then the
//! client's IPv4 or IPv6 header and its TCP header, whose addresses and ports become the
//! connection's (source: the client, destination: the address it connected to).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The bytes read before the header's length is known.
pub const PREFIX: usize = 12;

/// The most a header may take (HAProxy peeks at most one buffer).
pub const MAX: usize = 16_384;

/// Why bytes are no usable header, in HAProxy's classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// Shorter than its fields need (or longer than a buffer).
    Truncated,
    /// Not the expected magic number.
    BadMagic,
    /// Neither form, an IP version other than 4 or 6, or not TCP.
    BadProto,
}

/// The whole header's length from its first [`PREFIX`] bytes.
pub fn length(first: &[u8], magic: u32) -> Result<usize, Unusable> {
    let Some(&[m0, m1, m2, m3, l0, l1, l2, l3, kind, _, s0, s1]) = first.get(..PREFIX) else {
        return Err(Unusable::Truncated);
    };
    if u32::from_be_bytes([m0, m1, m2, m3]) != magic {
        return Err(Unusable::BadMagic);
    }
    let len = if kind & 0xD0 == 0x40 {
        8 + u32::from_be_bytes([l0, l1, l2, l3]) as usize
    } else if kind == 0 {
        PREFIX + usize::from(u16::from_be_bytes([s0, s1]))
    } else {
        return Err(Unusable::BadProto);
    };
    // Too short for an IP header (HAProxy would read it from the bytes after), or more
    // than HAProxy can peek at once.
    if !(20..=MAX).contains(&len) {
        return Err(Unusable::Truncated);
    }
    Ok(len)
}

/// The (client, destination) addresses of a whole header `h` ([`length`] bytes).
pub fn addresses(h: &[u8]) -> Result<(SocketAddr, SocketAddr), Unusable> {
    let at = if h.get(8).is_some_and(|k| k & 0xD0 == 0x40) {
        8
    } else {
        PREFIX
    };
    let ip = h.get(at..).ok_or(Unusable::Truncated)?;
    let byte = |i: usize| ip.get(i).copied().ok_or(Unusable::Truncated);
    let port = |i: usize| Ok::<u16, Unusable>(u16::from_be_bytes([byte(i)?, byte(i + 1)?]));
    let octets = |from: usize, n: usize| ip.get(from..from + n).ok_or(Unusable::Truncated);
    match byte(0)? >> 4 {
        4 => {
            // HAProxy wants 40 bytes in all before it reads them.
            if h.len() < 40 {
                return Err(Unusable::Truncated);
            }
            if byte(9)? != 6 {
                return Err(Unusable::BadProto);
            }
            let tcp = usize::from(byte(0)? & 0x0f) * 4;
            let v4 = |from| {
                let o: [u8; 4] = octets(from, 4)?
                    .try_into()
                    .map_err(|_| Unusable::Truncated)?;
                Ok::<IpAddr, Unusable>(IpAddr::V4(Ipv4Addr::from(o)))
            };
            Ok((
                SocketAddr::new(v4(12)?, port(tcp)?),
                SocketAddr::new(v4(16)?, port(tcp + 2)?),
            ))
        }
        6 => {
            if h.len() < 60 {
                return Err(Unusable::Truncated);
            }
            if byte(6)? != 6 {
                return Err(Unusable::BadProto);
            }
            let v6 = |from| {
                let o: [u8; 16] = octets(from, 16)?
                    .try_into()
                    .map_err(|_| Unusable::Truncated)?;
                Ok::<IpAddr, Unusable>(IpAddr::V6(Ipv6Addr::from(o)))
            };
            Ok((
                SocketAddr::new(v6(8)?, port(40)?),
                SocketAddr::new(v6(24)?, port(42)?),
            ))
        }
        _ => Err(Unusable::BadProto),
    }
}

/// A header carrying `src` and `dst` (tests and tools): the standard form, or the legacy
/// one, with minimal IP and TCP headers.
pub fn encode(magic: u32, src: SocketAddr, dst: SocketAddr, legacy: bool) -> Vec<u8> {
    let mut ip = Vec::new();
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            ip.extend_from_slice(&[0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            ip.extend_from_slice(&[0x60, 0, 0, 0, 0, 20, 6, 64]);
            ip.extend_from_slice(&v6(s).octets());
            ip.extend_from_slice(&v6(d).octets());
        }
    }
    ip.extend_from_slice(&src.port().to_be_bytes());
    ip.extend_from_slice(&dst.port().to_be_bytes());
    // the rest of a 20-byte TCP header: seq, ack, offset 5, flags, window, sum, urgent
    ip.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    let mut out = magic.to_be_bytes().to_vec();
    if legacy {
        out.extend_from_slice(&(ip.len() as u32).to_be_bytes());
    } else {
        // the CIP length, the type (0), a byte, the header length
        out.extend_from_slice(&((ip.len() + PREFIX) as u32).to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(ip.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(&ip);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().expect("literal")
    }

    #[test]
    fn both_forms_both_families() {
        for (src, dst) in [
            (a("192.0.2.7:4000"), a("198.51.100.1:443")),
            (a("[2001:db8::7]:4000"), a("[2001:db8::1]:443")),
        ] {
            for legacy in [false, true] {
                let h = encode(0x1234, src, dst, legacy);
                assert_eq!(length(&h, 0x1234), Ok(h.len()), "{legacy}");
                assert_eq!(addresses(&h), Ok((src, dst)), "{legacy}");
            }
        }
    }

    #[test]
    fn unusable_headers_as_haproxy_classes_them() {
        let h = encode(7, a("192.0.2.7:1"), a("192.0.2.8:2"), false);
        assert_eq!(length(&h, 8), Err(Unusable::BadMagic));
        assert_eq!(length(&h[..11], 7), Err(Unusable::Truncated));
        let mut bad = h.clone();
        bad[8] = 0x99;
        assert_eq!(length(&bad, 7), Err(Unusable::BadProto));
        let mut udp = h.clone();
        udp[PREFIX + 9] = 17;
        assert_eq!(addresses(&udp), Err(Unusable::BadProto));
        let mut v5 = h.clone();
        v5[PREFIX] = 0x55;
        assert_eq!(addresses(&v5), Err(Unusable::BadProto));
        assert_eq!(addresses(&h[..39]), Err(Unusable::Truncated));
        // a length that cannot hold an IP header, or more than a buffer
        let mut short = h.clone();
        short[10..12].copy_from_slice(&4u16.to_be_bytes());
        assert_eq!(length(&short, 7), Err(Unusable::Truncated));
        let legacy = encode(7, a("192.0.2.7:1"), a("192.0.2.8:2"), true);
        let mut huge = legacy.clone();
        huge[4..8].copy_from_slice(&70_000u32.to_be_bytes());
        assert_eq!(length(&huge, 7), Err(Unusable::Truncated));
    }
}
