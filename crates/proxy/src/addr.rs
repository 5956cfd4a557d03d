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

/// A `bind` line's address as HAProxy users write it: `127.0.0.1:8080`, `*:80`, `:::443`,
/// `[::1]:8080-8081`, `/run/lb.sock`, `abns@name`, `fd@3` (for logs and messages).
pub fn bind_text(b: &Bind) -> String {
    let ports = if b.port_last > b.port_first {
        format!("{}-{}", b.port_first, b.port_last)
    } else {
        b.port_first.to_string()
    };
    match &b.address {
        BindAddress::AnyV4 => format!("*:{ports}"),
        BindAddress::AnyV6 => format!(":::{ports}"),
        BindAddress::Ip(IpAddr::V4(ip)) => format!("{ip}:{ports}"),
        BindAddress::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{ports}"),
        BindAddress::Unix(p) => p.clone(),
        BindAddress::Abns(n) => format!("abns@{n}"),
        BindAddress::Fd(n) => format!("fd@{n}"),
        BindAddress::Sockpair(n) => format!("sockpair@{n}"),
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
    fn binds_are_shown_as_written() {
        let cfg = fulcrum_config::load_sources(&[fulcrum_config::Source {
            name: "t",
            text: "frontend f\n  mode tcp\n  bind 127.0.0.1:8080\n  bind :80\n  bind :::443\n  bind ::1:9000-9001\n  bind /run/x.sock\n  bind abns@n\n  bind fd@3\n",
        }])
        .config;
        let shown: Vec<String> = cfg.proxies[0].binds.iter().map(bind_text).collect();
        assert_eq!(
            shown,
            [
                "127.0.0.1:8080",
                "*:80",
                ":::443",
                "[::1]:9000-9001",
                "/run/x.sock",
                "abns@n",
                "fd@3"
            ]
        );
    }

    #[test]
    fn abns_names_as_haproxy_and_as_tools_write_them() {
        assert_eq!(abns_name("x", false), b"\0x".to_vec());
        let padded = abns_name("x", true);
        assert_eq!(padded.len(), 108);
        assert_eq!(&padded[..2], b"\0x");
        assert!(padded[2..].iter().all(|b| *b == 0));
    }
}
