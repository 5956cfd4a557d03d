//! Address patterns as HAProxy writes them: `10.0.0.0/8`, `192.168.1.1`, `::1`, `fe80::/10`;
//! and this host's name (`hostname`).

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (a, p) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                // A dotted netmask: 255.255.255.0
                _ => {
                    let m: std::net::Ipv4Addr = p.parse().ok()?;
                    u32::from(m).count_ones() as u8
                }
            },
        };
        Some(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            _ => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The client address as HAProxy shows it: IPv4-mapped IPv6 addresses as plain IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The peer address given to sessions for a unix-socket client: `[::]:ID`, where ID is the
/// listener's number in its frontend (no TCP peer is ever `::`, and IPv4 networks never match it).
pub fn unix_peer(listener_id: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), listener_id)
}

/// Whether `ip` is the unix-client marker of [`unix_peer`].
pub fn is_unix_peer(ip: IpAddr) -> bool {
    ip == IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
}

/// The client address in log lines: canonical IP, or `unix` for unix-socket clients, so that
/// `%ci:%cp` reads `unix:1` as HAProxy writes it.
pub fn shown(ip: IpAddr) -> Shown {
    Shown(ip)
}

pub struct Shown(IpAddr);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if is_unix_peer(self.0) {
            f.write_str("unix")
        } else {
            canonical(self.0).fmt(f)
        }
    }
}

/// The host name (`%H`, `log-send-hostname`, the `hostname` fetch), as HAProxy's (read once).
pub fn hostname() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_networks() {
        let n = Cidr::parse("10.0.0.0/8").unwrap_or(Cidr {
            addr: [0, 0, 0, 0].into(),
            prefix: 32,
        });
        assert!(n.contains("10.1.2.3".parse().unwrap_or([0, 0, 0, 0].into())));
        assert!(!n.contains("11.1.2.3".parse().unwrap_or([0, 0, 0, 0].into())));
        assert!(Cidr::parse("127.0.0.1").is_some_and(|c| c.contains([127, 0, 0, 1].into())));
        assert!(Cidr::parse("::1")
            .is_some_and(|c| c.contains("::1".parse().unwrap_or([0, 0, 0, 0].into()))));
        assert!(Cidr::parse("10.0.0.0/255.0.0.0").is_some_and(|c| c.contains([10, 9, 9, 9].into())));
        assert!(Cidr::parse("nonsense").is_none());
        let u = unix_peer(2);
        assert_eq!(format!("{}:{}", shown(u.ip()), u.port()), "unix:2");
        assert!(!Cidr::parse("0.0.0.0/0").is_some_and(|c| c.contains(u.ip())));
        assert_eq!(shown([10, 0, 0, 1].into()).to_string(), "10.0.0.1");
    }
}
