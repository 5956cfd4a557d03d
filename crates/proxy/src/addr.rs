//! Addresses as the configuration names them: what a `bind` line stands for ([`ListenKey`]:
//! an IP address and port, a unix path, an `abns@` name, an inherited fd), and the wire form
//! of abstract unix names. Pure; shared by the listeners and by connecting to servers.

use fulcrum_config::model::{Bind, BindAddress};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// What a listener is known by across reloads: a listener whose key stays keeps its sockets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenKey {
    Tcp(SocketAddr),
    Unix(PathBuf),
    /// `abns@NAME`; `padded`: HAProxy's form (NUL-padded to the whole `sun_path`).
    Abns {
        name: String,
        padded: bool,
    },
    Fd(i32),
    Sockpair(i32),
}

impl std::fmt::Display for ListenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenKey::Tcp(a) => write!(f, "{a}"),
            ListenKey::Unix(p) => write!(f, "unix@{}", p.display()),
            ListenKey::Abns { name, padded: true } => write!(f, "abns@{name} (padded)"),
            ListenKey::Abns {
                name,
                padded: false,
            } => write!(f, "abns@{name}"),
            ListenKey::Fd(n) => write!(f, "fd@{n}"),
            ListenKey::Sockpair(n) => write!(f, "sockpair@{n}"),
        }
    }
}

/// Every listener a `bind` line stands for.
pub fn keys(b: &Bind) -> Result<Vec<ListenKey>, String> {
    let ip: IpAddr = match &b.address {
        BindAddress::AnyV4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        BindAddress::AnyV6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        BindAddress::Ip(ip) => *ip,
        BindAddress::Unix(p) => return Ok(vec![ListenKey::Unix(PathBuf::from(p))]),
        BindAddress::Abns(n) => {
            return Ok(vec![
                ListenKey::Abns {
                    name: n.clone(),
                    padded: true,
                },
                ListenKey::Abns {
                    name: n.clone(),
                    padded: false,
                },
            ])
        }
        BindAddress::Fd(n) => return Ok(vec![ListenKey::Fd(*n)]),
        BindAddress::Sockpair(n) => return Ok(vec![ListenKey::Sockpair(*n)]),
    };
    if b.port_last < b.port_first {
        return Err(format!(
            "{}: port range {}-{} is empty",
            b.span, b.port_first, b.port_last
        ));
    }
    Ok((b.port_first..=b.port_last)
        .map(|p| ListenKey::Tcp(SocketAddr::new(ip, p)))
        .collect())
}

/// Every address:port a `bind` line stands for (IP binds only).
pub fn addresses(b: &Bind) -> Result<Vec<SocketAddr>, String> {
    Ok(keys(b)?
        .into_iter()
        .filter_map(|k| {
            if let ListenKey::Tcp(a) = k {
                Some(a)
            } else {
                None
            }
        })
        .collect())
}

/// The `sun_path` bytes of `abns@NAME`: a NUL, the name, and for HAProxy's form NULs up to
/// the full 108 bytes.
pub fn abns_name(name: &str, padded: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(108);
    v.push(0);
    v.extend_from_slice(name.as_bytes());
    if padded && v.len() < 108 {
        v.resize(108, 0);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abns_names_as_haproxy_and_as_tools_write_them() {
        assert_eq!(abns_name("x", false), b"\0x".to_vec());
        let padded = abns_name("x", true);
        assert_eq!(padded.len(), 108);
        assert_eq!(&padded[..2], b"\0x");
        assert!(padded[2..].iter().all(|b| *b == 0));
    }
}
