//! Sockets with fulcrum's options (crates/proxy/src/bind.rs, connect.rs): a listener with
//! SO_REUSEADDR + SO_REUSEPORT, TCP_NODELAY (inherited by accepted sockets), backlog 4096,
//! non-blocking; backend connections get TCP_NODELAY each.

use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;

pub const BACKLOG: i32 = 4096;
/// Per direction and connection, as fulcrum's tunnel (tunnel.rs `TUNNEL_BUF`).
pub const BUF: usize = 16 * 1024;

pub fn listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nodelay(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}
