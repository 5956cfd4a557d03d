//! Addresses and networks in an index: parsing as HAProxy's `str2net`/`str62net`, and the
//! lookup order of its `pat_match_ip`.

use super::ids::{put, Ids};
use super::HashMap;
use super::{Index, Listed, Slot, Uid};
use std::net::{IpAddr, Ipv6Addr};

fn mask4(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask6(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

/// An address or network: IPv4 with a prefix length or a dotted mask (which may be
/// non-contiguous), IPv6 with a prefix length. The address is returned masked.
enum Net {
    V4(u32, u32),
    V6(u128, u8),
}

fn parse_net(s: &str) -> Option<Net> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    match a.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => {
            let mask = match len {
                None => u32::MAX,
                Some(l) => match l.parse::<u8>() {
                    Ok(n) if n <= 32 => mask4(n),
                    Ok(_) => return None,
                    Err(_) => u32::from(l.parse::<std::net::Ipv4Addr>().ok()?),
                },
            };
            Some(Net::V4(u32::from(a) & mask, mask))
        }
        IpAddr::V6(a) => {
            let len = match len {
                None => 128,
                Some(l) => l.parse::<u8>().ok().filter(|n| *n <= 128)?,
            };
            Some(Net::V6(u128::from(a) & mask6(len), len))
        }
    }
}

/// The IPv4 address an IPv6 one carries, in the forms HAProxy reads (`::ffff:a.b.c.d`,
/// `::a.b.c.d`, 6to4 `2002:AABB:CCDD::`).
fn embedded_v4(a: Ipv6Addr) -> Option<u32> {
    let o = a.octets();
    let word = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
    if o[..8] == [0; 8] && (word(8) == 0 || word(8) == 0xffff) {
        Some(word(12))
    } else if o[..2] == [0x20, 0x02] {
        Some(word(2))
    } else {
        None
    }
}

impl Index {
    /// Adds an address or network: a contiguous IPv4 mask or an IPv6 prefix to the hash of its
    /// length, a non-contiguous IPv4 mask to the list.
    pub(super) fn insert_net(&mut self, uid: Uid, text: &str) -> Result<Slot, String> {
        let net = parse_net(text).ok_or_else(|| {
            format!("'{text}' is not an IP address or network (fulcrum does not resolve host names in patterns)")
        })?;
        if self.v4.is_empty() {
            self.v4 = vec![HashMap::default(); 33];
            self.v6 = vec![HashMap::default(); 129];
        }
        Ok(match net {
            Net::V4(a, m) if m.leading_ones() + m.trailing_zeros() == 32 => {
                let len = m.leading_ones() as u8;
                put(&mut self.v4[usize::from(len)], a, uid);
                Slot::V4(len, a)
            }
            Net::V4(a, m) => {
                self.list.insert(uid, Listed::Net4(a, m));
                Slot::List
            }
            Net::V6(a, len) => {
                put(&mut self.v6[usize::from(len)], a, uid);
                Slot::V6(len, a)
            }
        })
    }

    fn longest4(&self, a: u32) -> Option<Uid> {
        (0..self.v4.len()).rev().find_map(|len| {
            let m = &self.v4[len];
            if m.is_empty() {
                return None;
            }
            m.get(&(a & mask4(len as u8))).map(Ids::first)
        })
    }

    fn longest6(&self, a: u128) -> Option<Uid> {
        (0..self.v6.len()).rev().find_map(|len| {
            let m = &self.v6[len];
            if m.is_empty() {
                return None;
            }
            m.get(&(a & mask6(len as u8))).map(Ids::first)
        })
    }

    fn list4(&self, a: u32) -> Option<Uid> {
        self.list
            .iter()
            .find(|(_, l)| matches!(l, Listed::Net4(n, m) if a & m == *n))
            .map(|(u, _)| *u)
    }

    pub(super) fn find_ip(&self, ip: IpAddr) -> Option<Uid> {
        match ip {
            IpAddr::V4(a) => {
                let v4 = u32::from(a);
                self.longest4(v4)
                    .or_else(|| self.longest6(u128::from(a.to_ipv6_mapped())))
                    .or_else(|| self.list4(v4))
            }
            IpAddr::V6(a) => self.longest6(u128::from(a)).or_else(|| {
                let v4 = embedded_v4(a)?;
                self.longest4(v4).or_else(|| self.list4(v4))
            }),
        }
    }
}
