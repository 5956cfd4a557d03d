//! Where a server's connections go: a fixed address, the client connection's destination
//! port (+offset) or address (`*:PORT`), or a unix stream socket.

use std::net::{IpAddr, SocketAddr};

/// Where to connect: a fixed address, the client connection's destination port (+offset), or
/// a unix stream socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Fixed(SocketAddr),
    /// No port written: keep the destination port of the client connection.
    SamePort(IpAddr),
    /// `+N`/`-N`: offset from the destination port.
    Offset(IpAddr, i32),
    /// `unix@PATH` / `/PATH`.
    Unix(std::sync::Arc<str>),
    /// `abns@NAME`.
    Abns(std::sync::Arc<str>),
}

impl Target {
    /// The IP address and port to connect to (`dst`: the client connection's destination);
    /// None for a unix socket. A server written `*`, `0.0.0.0` or `::` (or with no host)
    /// connects to the address the client connected to, as HAProxy does for a server
    /// without an address.
    pub fn resolve(&self, dst: SocketAddr) -> Option<SocketAddr> {
        let host = |ip: IpAddr| if ip.is_unspecified() { dst.ip() } else { ip };
        let dst_port = dst.port();
        Some(match *self {
            Target::Fixed(a) => SocketAddr::new(host(a.ip()), a.port()),
            Target::SamePort(ip) => SocketAddr::new(host(ip), dst_port),
            Target::Offset(ip, off) => {
                let port = (i32::from(dst_port) + off).clamp(1, 65535);
                SocketAddr::new(host(ip), u16::try_from(port).unwrap_or(dst_port))
            }
            Target::Unix(_) | Target::Abns(_) => return None,
        })
    }

    /// Whether the address is the client's destination (`*`, `0.0.0.0`, `::`): connections
    /// to it differ per client, so none is kept idle for another.
    pub fn is_client_destination(&self) -> bool {
        match *self {
            Target::Fixed(a) => a.ip().is_unspecified(),
            Target::SamePort(ip) | Target::Offset(ip, _) => ip.is_unspecified(),
            Target::Unix(_) | Target::Abns(_) => false,
        }
    }
}
