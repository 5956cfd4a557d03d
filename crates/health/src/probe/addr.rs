//! Where a check connects: an IP address and port, left from the server's `source` address
//! when one is set, or a unix stream socket (`unix@PATH`, `/PATH`, `abns@NAME` servers).
//!
//! `abns@NAME` is tried under HAProxy's padded name first (what an HAProxy or fulcrum `bind
//! abns@NAME` listens on), then under the plain name other tools listen on, as the proxy does.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::net::{TcpSocket, TcpStream, UnixStream};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    Ip(SocketAddr),
    Unix(PathBuf),
    Abns(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckAddr {
    pub dest: Dest,
    /// The local address to bind before connecting (port 0: any); IP destinations only.
    pub source: Option<SocketAddr>,
}

impl From<SocketAddr> for CheckAddr {
    fn from(a: SocketAddr) -> Self {
        CheckAddr {
            dest: Dest::Ip(a),
            source: None,
        }
    }
}

impl std::fmt::Display for CheckAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.dest {
            Dest::Ip(a) => a.fmt(f),
            Dest::Unix(p) => write!(f, "unix@{}", p.display()),
            Dest::Abns(n) => write!(f, "abns@{n}"),
        }
    }
}

/// A connected check stream of either kind.
pub enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

pub async fn connect(addr: &CheckAddr) -> io::Result<Conn> {
    connect_with(addr, false).await
}

/// [`connect`]; `delayed_ack`: TCP_QUICKACK off before the connect, as HAProxy does for a
/// check that only connects: the handshake's last ACK waits (for data that never comes), the
/// check ends with its RST first, and the server never accepts a connection (nor wakes up
/// for one: HAProxy's half-open layer-4 check).
pub async fn connect_with(addr: &CheckAddr, delayed_ack: bool) -> io::Result<Conn> {
    match &addr.dest {
        Dest::Ip(dst) => match addr.source {
            None if !delayed_ack => TcpStream::connect(dst).await.map(Conn::Tcp),
            source => {
                let sock = if dst.is_ipv4() {
                    TcpSocket::new_v4()?
                } else {
                    TcpSocket::new_v6()?
                };
                if delayed_ack {
                    let _ = socket2::SockRef::from(&sock).set_quickack(false);
                }
                if let Some(src) = source {
                    if src.port() != 0 {
                        sock.set_reuseaddr(true)?;
                    }
                    sock.bind(src)?;
                }
                sock.connect(*dst).await.map(Conn::Tcp)
            }
        },
        Dest::Unix(path) => UnixStream::connect(path).await.map(Conn::Unix),
        Dest::Abns(name) => match abns(name, true) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                abns(name, false).map(Conn::Unix)
            }
            r => r.map(Conn::Unix),
        },
    }
}

/// A unix stream connected to the abstract name `name` (NUL-padded to the whole `sun_path`
/// when `padded`). A unix connect completes at once or fails (EAGAIN when the backlog is full).
fn abns(name: &str, padded: bool) -> io::Result<UnixStream> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let mut wire = vec![0u8];
    wire.extend_from_slice(name.as_bytes());
    if padded && wire.len() < 108 {
        wire.resize(108, 0);
    }
    let addr =
        SockAddr::unix(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&wire))?;
    let s = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    s.set_nonblocking(true)?;
    s.connect(&addr)?;
    UnixStream::from_std(std::os::unix::net::UnixStream::from(
        std::os::fd::OwnedFd::from(s),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::tcp;
    use crate::status::CheckStatus;
    use std::time::Duration;

    #[test]
    fn checks_reach_unix_paths_abstract_names_and_leave_from_source() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async {
            let t = Duration::from_secs(2);
            let path = std::env::temp_dir()
                .join(format!("fulcrum-check-addr-{}.sock", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let unix = CheckAddr {
                dest: Dest::Unix(path.clone()),
                source: None,
            };
            let down = tcp::check(&unix, t, true).await;
            assert_eq!(
                (down.status, down.info.as_deref()),
                (CheckStatus::L4Connection, Some("No such file or directory"))
            );
            let l = tokio::net::UnixListener::bind(&path).expect("bind");
            assert_eq!(tcp::check(&unix, t, true).await.status, CheckStatus::L4Ok);
            drop(l);
            let _ = std::fs::remove_file(&path);

            // An abstract name as HAProxy binds it (padded) and as other tools do (plain).
            use std::os::linux::net::SocketAddrExt;
            let name = format!("fulcrum-check-addr-{}", std::process::id());
            let abns = CheckAddr {
                dest: Dest::Abns(name.clone()),
                source: None,
            };
            assert_eq!(
                tcp::check(&abns, t, true).await.status,
                CheckStatus::L4Connection
            );
            let mut padded = name.as_bytes().to_vec();
            padded.resize(107, 0);
            for wire in [padded, name.as_bytes().to_vec()] {
                let a = std::os::unix::net::SocketAddr::from_abstract_name(&wire).expect("addr");
                let l = std::os::unix::net::UnixListener::bind_addr(&a).expect("bind");
                assert_eq!(tcp::check(&abns, t, true).await.status, CheckStatus::L4Ok);
                drop(l);
            }

            // `source`: the server sees the check come from that address (a check that
            // completes its handshake: an HAProxy-style one is never accepted).
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let ip = CheckAddr {
                dest: Dest::Ip(l.local_addr().expect("addr")),
                source: Some("127.0.0.2:0".parse().expect("literal")),
            };
            assert_eq!(tcp::check(&ip, t, false).await.status, CheckStatus::L4Ok);
            let (_, peer) = l.accept().await.expect("accept");
            assert_eq!(peer.ip().to_string(), "127.0.0.2");
        });
    }
}
