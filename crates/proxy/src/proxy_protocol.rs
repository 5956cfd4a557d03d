//! The PROXY protocol (HAProxy's proxy-protocol.txt), versions 1 and 2, sans-IO: [`parse`]
//! reads a header from the first bytes of a connection (`bind ... accept-proxy`), [`v1`] and
//! [`v2`] write one (`server ... send-proxy` / `send-proxy-v2`).
//!
//! Read: v1 `TCP4`, `TCP6` and `UNKNOWN`; v2 `PROXY` and `LOCAL` commands over INET, INET6
//! (stream or datagram) and UNIX (addresses not carried as IPs: the connection's own are
//! kept), with its TLVs returned as they are (type, value), lengths checked. A header that is
//! malformed is an error: the connection is closed, as HAProxy does. Written: v1 as HAProxy
//! writes it (IPv4-mapped IPv6 pairs as TCP4, mixed families as TCP6), v2 with the given TLVs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature.
pub const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Longest v1 header (spec: 107 bytes with CRLF).
pub const V1_MAX: usize = 107;
/// v2 TLV types HAProxy sends and reads.
pub const PP2_TYPE_ALPN: u8 = 0x01;
pub const PP2_TYPE_AUTHORITY: u8 = 0x02;
pub const PP2_TYPE_UNIQUE_ID: u8 = 0x05;
pub const PP2_TYPE_NETNS: u8 = 0x30;

/// A header read from a connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// The original client and destination, when carried as IP addresses (`None`: v1
    /// `UNKNOWN`, v2 `LOCAL` or a UNIX or unspecified family: keep the connection's own).
    pub addrs: Option<(SocketAddr, SocketAddr)>,
    /// v2 TLVs in order (type, value).
    pub tlvs: Vec<(u8, Vec<u8>)>,
}

impl Header {
    /// The value of the first TLV of type `t`.
    pub fn tlv(&self, t: u8) -> Option<&[u8]> {
        self.tlvs
            .iter()
            .find(|(k, _)| *k == t)
            .map(|(_, v)| v.as_slice())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

/// How many bytes the header at the start of `buf` needs in all, once enough of it is known
/// (`Ok(None)`: read more first; a v1 header's length is known when its LF is there).
pub fn needed(buf: &[u8]) -> Result<Option<usize>, Invalid> {
    let n = buf.len().min(V2_SIG.len());
    if buf[..n] == V2_SIG[..n] {
        if buf.len() < 16 {
            return Ok(None);
        }
        return Ok(Some(
            16 + usize::from(u16::from_be_bytes([buf[14], buf[15]])),
        ));
    }
    let n = buf.len().min(6);
    if buf[..n] != b"PROXY "[..n] {
        return Err(Invalid);
    }
    match buf.iter().take(V1_MAX).position(|&c| c == b'\n') {
        Some(p) => Ok(Some(p + 1)),
        None if buf.len() >= V1_MAX => Err(Invalid),
        None => Ok(None),
    }
}

/// Parses a complete header (`buf` is exactly [`needed`]'s length).
pub fn parse(buf: &[u8]) -> Result<Header, Invalid> {
    if buf.starts_with(V2_SIG) {
        parse_v2(buf)
    } else {
        parse_v1(buf)
    }
}

fn parse_v1(buf: &[u8]) -> Result<Header, Invalid> {
    let line = buf.strip_suffix(b"\r\n").ok_or(Invalid)?;
    let line = std::str::from_utf8(line).map_err(|_| Invalid)?;
    let mut w = line.split(' ');
    if w.next() != Some("PROXY") {
        return Err(Invalid);
    }
    let fam = w.next().ok_or(Invalid)?;
    if fam == "UNKNOWN" {
        return Ok(Header::default());
    }
    let v: Vec<&str> = w.collect();
    if v.len() != 4 {
        return Err(Invalid);
    }
    let ip = |s: &str| -> Result<IpAddr, Invalid> {
        match fam {
            "TCP4" => s.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| Invalid),
            "TCP6" => s.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| Invalid),
            _ => Err(Invalid),
        }
    };
    let port = |s: &str| -> Result<u16, Invalid> {
        // No sign, no leading zero (spec: "0" or 1-65535 in decimal).
        if s.is_empty()
            || (s.len() > 1 && s.starts_with('0'))
            || !s.bytes().all(|c| c.is_ascii_digit())
        {
            return Err(Invalid);
        }
        s.parse().map_err(|_| Invalid)
    };
    let src = SocketAddr::new(ip(v[0])?, port(v[2])?);
    let dst = SocketAddr::new(ip(v[1])?, port(v[3])?);
    Ok(Header {
        addrs: Some((src, dst)),
        tlvs: Vec::new(),
    })
}

fn parse_v2(buf: &[u8]) -> Result<Header, Invalid> {
    if buf.len() < 16 || buf[12] >> 4 != 2 {
        return Err(Invalid);
    }
    let cmd = buf[12] & 0x0f;
    let fam = buf[13];
    let body = &buf[16..];
    if usize::from(u16::from_be_bytes([buf[14], buf[15]])) != body.len() {
        return Err(Invalid);
    }
    let (addrs, rest) = match cmd {
        // LOCAL: the connection's own addresses; the body is skipped.
        0 => (None, &body[body.len()..]),
        1 => match fam >> 4 {
            1 => {
                let a = body.get(..12).ok_or(Invalid)?;
                let ip = |o: usize| IpAddr::V4(Ipv4Addr::new(a[o], a[o + 1], a[o + 2], a[o + 3]));
                let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
                (
                    Some((
                        SocketAddr::new(ip(0), port(8)),
                        SocketAddr::new(ip(4), port(10)),
                    )),
                    &body[12..],
                )
            }
            2 => {
                let a = body.get(..36).ok_or(Invalid)?;
                let ip = |o: usize| {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(&a[o..o + 16]);
                    IpAddr::V6(Ipv6Addr::from(b))
                };
                let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
                (
                    Some((
                        SocketAddr::new(ip(0), port(32)),
                        SocketAddr::new(ip(16), port(34)),
                    )),
                    &body[36..],
                )
            }
            // UNIX: two 108-byte paths; not IP addresses, the connection's own are kept.
            3 => (None, body.get(216..).ok_or(Invalid)?),
            // AF_UNSPEC.
            0 => (None, &body[body.len()..]),
            _ => return Err(Invalid),
        },
        _ => return Err(Invalid),
    };
    let mut tlvs = Vec::new();
    let mut r = rest;
    while !r.is_empty() {
        if r.len() < 3 {
            return Err(Invalid);
        }
        let len = usize::from(u16::from_be_bytes([r[1], r[2]]));
        let v = r.get(3..3 + len).ok_or(Invalid)?;
        tlvs.push((r[0], v.to_vec()));
        r = &r[3 + len..];
    }
    Ok(Header { addrs, tlvs })
}

/// Both addresses in one family (an IPv4-mapped IPv6 address counts as IPv4), as HAProxy.
fn same_family(src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
    let v4 = |a: SocketAddr| match a.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(|v4| SocketAddr::new(IpAddr::V4(v4), a.port())),
        IpAddr::V4(_) => Some(a),
    };
    if let (Some(s), Some(d)) = (v4(src), v4(dst)) {
        return (s, d);
    }
    let v6 = |a: SocketAddr| match a.ip() {
        IpAddr::V4(v4) => SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), a.port()),
        IpAddr::V6(_) => a,
    };
    (v6(src), v6(dst))
}

/// A v1 header for a connection from `src` to `dst` (None: `UNKNOWN`, e.g. a unix client).
pub fn v1(addrs: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
    match addrs.map(|(s, d)| same_family(s, d)) {
        Some((s, d)) => {
            let fam = if s.is_ipv4() { "TCP4" } else { "TCP6" };
            format!(
                "PROXY {fam} {} {} {} {}\r\n",
                s.ip(),
                d.ip(),
                s.port(),
                d.port()
            )
            .into_bytes()
        }
        None => b"PROXY UNKNOWN\r\n".to_vec(),
    }
}

/// A v2 header (`PROXY` command over TCP, or `LOCAL` without addresses) with `tlvs`.
pub fn v2(addrs: Option<(SocketAddr, SocketAddr)>, tlvs: &[(u8, &[u8])]) -> Vec<u8> {
    let mut body = Vec::with_capacity(64);
    let (cmd, fam) = match addrs.map(|(s, d)| same_family(s, d)) {
        Some((s, d)) => {
            for a in [s, d] {
                match a.ip() {
                    IpAddr::V4(v) => body.extend_from_slice(&v.octets()),
                    IpAddr::V6(v) => body.extend_from_slice(&v.octets()),
                }
            }
            body.extend_from_slice(&s.port().to_be_bytes());
            body.extend_from_slice(&d.port().to_be_bytes());
            (0x21, if s.is_ipv4() { 0x11 } else { 0x21 })
        }
        None => (0x20, 0x00),
    };
    for (t, v) in tlvs {
        body.push(*t);
        body.extend_from_slice(&(v.len() as u16).to_be_bytes());
        body.extend_from_slice(v);
    }
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(V2_SIG);
    out.push(cmd);
    out.push(fam);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// The header a `send-proxy` (1) or `send-proxy-v2` (2) server connection starts with, for a
/// client connection from `src` to `dst` (None: not an IP client); empty for 0.
pub fn for_server(version: u8, addrs: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
    match version {
        0 => Vec::new(),
        1 => v1(addrs),
        _ => v2(addrs, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("literal")
    }

    fn full(buf: &[u8]) -> Result<Header, Invalid> {
        let n = needed(buf)?.ok_or(Invalid)?;
        parse(&buf[..n])
    }

    #[test]
    fn v1_round_trips_and_keeps_what_follows() {
        let (s, d) = (sa("192.0.2.1:5000"), sa("198.51.100.2:80"));
        let mut b = v1(Some((s, d)));
        assert_eq!(b, b"PROXY TCP4 192.0.2.1 198.51.100.2 5000 80\r\n");
        b.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(needed(&b), Ok(Some(43)));
        assert_eq!(full(&b).expect("v1").addrs, Some((s, d)));
        let (s6, d6) = (sa("[2001:db8::1]:1"), sa("[2001:db8::2]:2"));
        assert_eq!(full(&v1(Some((s6, d6)))).expect("v6").addrs, Some((s6, d6)));
        // An IPv4-mapped pair is written as TCP4.
        let m = v1(Some((sa("[::ffff:10.0.0.1]:1"), sa("[::ffff:10.0.0.2]:2"))));
        assert!(m.starts_with(b"PROXY TCP4 10.0.0.1 10.0.0.2 1 2"));
        assert_eq!(full(b"PROXY UNKNOWN\r\n").expect("unknown").addrs, None);
    }

    #[test]
    fn v1_refusals() {
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4 ::1 ::1 1 2\r\n",
            b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
        ] {
            assert_eq!(
                full(bad),
                Err(Invalid),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(needed(b"GET / HTTP/1.1\r\n"), Err(Invalid));
        assert_eq!(needed(b"PROX"), Ok(None));
        assert_eq!(needed(&[b'P'; 200][..]), Err(Invalid));
        let long = [&b"PROXY "[..], &[b'1'; 120][..]].concat();
        assert_eq!(needed(&long), Err(Invalid));
    }

    #[test]
    fn v2_round_trips_with_tlvs_and_local_and_unix() {
        let (s, d) = (sa("[2001:db8::1]:4444"), sa("[2001:db8::2]:443"));
        let h = v2(Some((s, d)), &[(PP2_TYPE_AUTHORITY, b"example.com")]);
        assert_eq!(needed(&h[..10]), Ok(None));
        let p = full(&h).expect("v2");
        assert_eq!(p.addrs, Some((s, d)));
        assert_eq!(p.tlv(PP2_TYPE_AUTHORITY), Some(&b"example.com"[..]));
        let h4 = v2(Some((sa("10.0.0.1:1"), sa("10.0.0.2:2"))), &[]);
        assert_eq!(h4[13], 0x11);
        assert_eq!(h4.len(), 28);
        let local = v2(None, &[]);
        assert_eq!(full(&local).expect("local"), Header::default());
        // UNIX family: 216 bytes of paths, then TLVs.
        let mut u = V2_SIG.to_vec();
        u.extend_from_slice(&[0x21, 0x31]);
        u.extend_from_slice(&(216u16 + 4).to_be_bytes());
        u.extend_from_slice(&[0u8; 216]);
        u.extend_from_slice(&[PP2_TYPE_UNIQUE_ID, 0, 1, b'x']);
        let p = full(&u).expect("unix");
        assert_eq!(p.addrs, None);
        assert_eq!(p.tlv(PP2_TYPE_UNIQUE_ID), Some(&b"x"[..]));
    }

    #[test]
    fn v2_refusals() {
        let good = v2(Some((sa("10.0.0.1:1"), sa("10.0.0.2:2"))), &[(1, b"h2")]);
        let mut bad_version = good.clone();
        bad_version[12] = 0x11;
        let mut bad_tlv = good.clone();
        let n = bad_tlv.len();
        bad_tlv[n - 3] = 9; // TLV length past the end
        let mut short = good.clone();
        short[15] = 4; // body too short for INET addresses
        short.truncate(20);
        for b in [bad_version, bad_tlv, short] {
            assert_eq!(full(&b), Err(Invalid));
        }
    }
}
