//! Opening a connection to a server: TCP, bound first to the `source` address when one is set,
//! or a unix stream socket (`unix@PATH`, `/PATH`, `abns@NAME`); and the two kinds of server
//! connection the pools and sessions hold.
//!
//! A session gets a [`ServerConn`] from [`open`] (or from a pool) and matches on it once per
//! request; everything after runs monomorphised over the [`ServerStream`] inside, so neither
//! kind pays a dispatch per read or write, and the TCP path is what it was.
//!
//! `source ADDR` without a port binds with IP_BIND_ADDRESS_NO_PORT, as HAProxy does: the port
//! is chosen at connect time per destination, so one source address does not cap the
//! connections to all servers at its ephemeral port range. No IP_FREEBIND: as with HAProxy, a
//! source address that is not local fails the connection (its answers could not come back).
//! `abns@NAME` is tried under HAProxy's padded name first (what an HAProxy or fulcrum `bind
//! abns@NAME` listens on), then under the plain name most other tools listen on.

pub mod h2;

use crate::server::Target;
use crate::stream::ClientStream;
use std::io;
use std::net::SocketAddr;
use tokio::net::{TcpStream, UnixStream};

/// A connection to a server, of either kind.
#[derive(Debug)]
pub enum ServerConn {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// `server ... ssl` (boxed: the TLS state is large, plain connections stay small).
    Tls(Box<crate::tls::conn::TlsConn<tokio_rustls::client::TlsStream<TcpStream>>>),
    /// HTTP/2 (`proto h2`, or ALPN `h2`): a handle on a multiplexed connection, shared by
    /// the requests of many sessions (`h2.rs`).
    H2(h2::H2Conn),
}

/// A server stream as the sessions use it (the same operations as a client's).
pub trait ServerStream: ClientStream {
    fn into_conn(self) -> ServerConn;
}

impl ServerStream for TcpStream {
    fn into_conn(self) -> ServerConn {
        ServerConn::Tcp(self)
    }
}

impl ServerStream for UnixStream {
    fn into_conn(self) -> ServerConn {
        ServerConn::Unix(self)
    }
}

impl ServerStream for Box<crate::tls::conn::TlsConn<tokio_rustls::client::TlsStream<TcpStream>>> {
    fn into_conn(self) -> ServerConn {
        ServerConn::Tls(self)
    }
}

impl ServerConn {
    /// The connection's own address (`%bi`/`%bp`); `None` for a unix socket or a shared
    /// HTTP/2 connection.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            ServerConn::Tcp(s) => s.local_addr().ok(),
            ServerConn::Tls(s) => s.tcp_local_addr(),
            ServerConn::Unix(_) | ServerConn::H2(_) => None,
        }
    }

    /// What the TLS handshake settled, on a TLS connection (`ssl_bc*`).
    pub fn tls(&self) -> Option<&std::sync::Arc<crate::stream::TlsInfo>> {
        match self {
            ServerConn::Tls(s) => crate::stream::ClientStream::tls(&**s),
            _ => None,
        }
    }

    /// Whether an idle connection is still open: a non-blocking read would block (no EOF, no
    /// unexpected data).
    pub fn alive(&self) -> bool {
        let mut b = [0u8; 1];
        let r = match self {
            ServerConn::Tcp(s) => s.try_read(&mut b),
            ServerConn::Unix(s) => s.try_read(&mut b),
            // Peek, not read: a byte taken from under rustls would break the stream.
            ServerConn::Tls(s) => return s.idle_and_open(),
            ServerConn::H2(h) => return !h.is_closed(),
        };
        matches!(r, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Closes an idle connection to a server the way HAProxy does ([`reset_on_close`]).
    pub fn close_idle(self) {
        if let ServerConn::Tcp(s) = &self {
            reset_on_close(s);
        }
    }
}

/// Makes the close of a TCP connection to a server send a reset, not a FIN (SO_LINGER 0), as
/// HAProxy closes a server connection whose end of stream it has not read (`FD_LINGER_RISK`,
/// set at connect, cleared by the server's end): neither end keeps the connection in
/// TIME_WAIT, and no FIN/ACK exchange follows the close. Only for a connection with nothing
/// left to deliver (an exchange complete, or one given up): a reset drops unsent bytes.
pub fn reset_on_close(s: &TcpStream) {
    let _ = socket2::SockRef::from(s).set_linger(Some(std::time::Duration::ZERO));
}

/// Connects to `target` (`dst`: the client connection's destination, for servers written
/// without a port or an address), from `source` when set.
///
/// `eager`: the caller's first bytes go out without waiting for the runtime to report the
/// socket writable (a `mode tcp` session's opening): a loopback connection, made within
/// `connect()` itself, is then returned as soon as it is made ([`tcp`]).
pub async fn open(
    target: &Target,
    source: Option<SocketAddr>,
    dst: SocketAddr,
    eager: bool,
) -> io::Result<ServerConn> {
    match target {
        Target::Unix(path) => Ok(ServerConn::Unix(UnixStream::connect(&**path).await?)),
        Target::Abns(name) => match abns(name, true).await {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                Ok(ServerConn::Unix(abns(name, false).await?))
            }
            r => r.map(ServerConn::Unix),
        },
        _ => {
            let addr = target
                .resolve(dst)
                .ok_or_else(|| io::Error::other("not an IP target"))?;
            Ok(ServerConn::Tcp(tcp_with(addr, source, eager).await?))
        }
    }
}

/// Connects to `target` through the SOCKS4 proxy `proxy` (`server ... socks4 ADDR:PORT`): a
/// TCP connection to the proxy, then HAProxy's CONNECT request (`socks4.rs`); the stream is
/// the server's once the proxy grants it.
pub async fn open_via_socks4(
    target: &Target,
    source: Option<SocketAddr>,
    proxy: SocketAddr,
    dst: SocketAddr,
) -> io::Result<ServerConn> {
    let addr = target
        .resolve(dst)
        .ok_or_else(|| io::Error::other("a SOCKS4 proxy reaches IP servers only"))?;
    let mut s = tcp(proxy, source).await?;
    crate::socks4::connect(&mut s, addr).await?;
    Ok(ServerConn::Tcp(s))
}

/// What frees descriptors when the process has none left: `pool::reclaimed`, which closes
/// idle server connections. The pool sits above this module (it holds `ServerConn`s), so it
/// hands the function down when it first keeps a connection ([`on_shortage`]); before that
/// there is nothing idle to close.
static RECLAIM: std::sync::OnceLock<fn(&io::Error) -> bool> = std::sync::OnceLock::new();

/// Sets what frees descriptors after `EMFILE`/`ENFILE` (the first call wins; `pool`).
pub fn on_shortage(reclaim: fn(&io::Error) -> bool) {
    let _ = RECLAIM.set(reclaim);
}

/// After `e` from `socket()`: whether descriptors were freed, so that it can be tried again.
fn reclaimed(e: &io::Error) -> bool {
    RECLAIM.get().is_some_and(|reclaim| reclaim(e))
}

/// A TCP connection to `dst` with `TCP_NODELAY`, leaving from `src` when set (port 0: any),
/// in as few system calls as HAProxy's: the socket is made non-blocking and close-on-exec by
/// `socket()` itself, `TCP_NODELAY` is set before `connect()`, and the connection is known to
/// be established by the writable readiness alone: `SO_ERROR` is read only when the runtime
/// reports the socket closed or failed (a refused or unreachable server).
pub async fn tcp(dst: SocketAddr, src: Option<SocketAddr>) -> io::Result<TcpStream> {
    tcp_with(dst, src, false).await
}

/// [`tcp`]; with `eager`, a connection to a loopback address is returned once made without
/// waiting for the runtime's report (a turn of its loop): the kernel runs a loopback
/// handshake before `connect()` returns (`EINPROGRESS` all the same), and a second
/// `connect()` says so (0 or `EISCONN`; `EALREADY`: still under way, waited for as usual; an
/// error: refused). The runtime has not seen the socket writable yet: the caller's first
/// write goes straight to the socket (`opening`), or waits for that report as any write.
/// Not for other addresses: a remote handshake takes a round trip, the second call would
/// only cost a system call.
pub(crate) async fn tcp_with(
    dst: SocketAddr,
    src: Option<SocketAddr>,
    eager: bool,
) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let sock = loop {
        match Socket::new(
            Domain::for_address(dst),
            Type::STREAM.nonblocking().cloexec(),
            None,
        ) {
            Ok(s) => break s,
            // No descriptor left: an idle server connection gives up its own (`pool`).
            Err(e) if reclaimed(&e) => {}
            Err(e) => return Err(e),
        }
    };
    let _ = sock.set_nodelay(true);
    if let Some(src) = src {
        if src.port() == 0 {
            // Best effort: without it the bind reserves a port for this socket alone.
            let _ = nix::sys::socket::setsockopt(
                &sock,
                nix::sys::socket::sockopt::IpBindAddressNoPort,
                &true,
            );
        } else {
            sock.set_reuse_address(true)?;
        }
        sock.bind(&src.into())?;
    }
    // In a block: the address (128 bytes) is not held across the wait below, in every
    // connecting future.
    let made = {
        let to: socket2::SockAddr = dst.into();
        match sock.connect(&to) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        eager
            && dst.ip().is_loopback()
            && match sock.connect(&to) {
                Ok(()) => true,
                Err(e) => match e.raw_os_error() {
                    Some(nix::libc::EISCONN) => true,
                    Some(nix::libc::EALREADY) | Some(nix::libc::EINPROGRESS) => false,
                    _ => return Err(e),
                },
            }
    };
    let s = TcpStream::from_std(std::net::TcpStream::from(sock))?;
    if made {
        return Ok(s);
    }
    let ready = s.ready(tokio::io::Interest::WRITABLE).await?;
    if ready.is_write_closed() {
        if let Some(e) = s.take_error()? {
            return Err(e);
        }
    }
    Ok(s)
}

/// A connection to the abstract unix socket `name`, under HAProxy's padded name or the plain one.
async fn abns(name: &str, padded: bool) -> io::Result<UnixStream> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let wire = crate::addr::abns_name(name, padded);
    let addr =
        SockAddr::unix(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&wire))?;
    let s = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    s.set_nonblocking(true)?;
    let pending = match s.connect(&addr) {
        Ok(()) => false,
        Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => true,
        Err(e) => return Err(e),
    };
    let stream = UnixStream::from_std(std::os::unix::net::UnixStream::from(
        std::os::fd::OwnedFd::from(s),
    ))?;
    if pending {
        stream.writable().await?;
        if let Some(e) = stream.take_error()? {
            return Err(e);
        }
    }
    Ok(stream)
}

/// HTTP/2 to the server (`proto h2`, or `h2` chosen by ALPN): the client preface on the new
/// connection, which then serves the requests of every session (`connect::h2`).
pub async fn h2_start(
    c: ServerConn,
    mode: crate::server::H2Mode,
    id: u64,
    pool: crate::server::H2Pool,
) -> std::io::Result<ServerConn> {
    use crate::connect::h2::{handshake, Limits};
    use crate::server::H2Mode;
    let pool = Limits {
        max_streams: pool.max_streams,
        purge: pool.purge,
        max_idle: pool.max_idle,
    };
    let always = mode == H2Mode::Always;
    // The handshakes are boxed (once per connection): inline, every request's future (an
    // HTTP/2 stream's, in flight by the hundred) would carry room for one.
    Ok(match c {
        _ if mode == H2Mode::Never => c,
        ServerConn::Tls(t) if always || t.info().alpn.as_deref() == Some("h2") => {
            ServerConn::H2(Box::pin(handshake(*t, id, pool)).await?)
        }
        ServerConn::Tcp(s) if always => ServerConn::H2(Box::pin(handshake(s, id, pool)).await?),
        ServerConn::Unix(s) if always => ServerConn::H2(Box::pin(handshake(s, id, pool)).await?),
        c => c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client destination for targets that do not use it.
    const NO_DST: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);
    use std::os::linux::net::SocketAddrExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt")
    }

    #[test]
    fn abns_reaches_padded_and_plain_listeners() {
        rt().block_on(async {
            for padded in [true, false] {
                let name = format!("fulcrum-connect-test-{}-{padded}", std::process::id());
                let wire = crate::addr::abns_name(&name, padded);
                let addr =
                    std::os::unix::net::SocketAddr::from_abstract_name(&wire[1..]).expect("addr");
                let l = std::os::unix::net::UnixListener::bind_addr(&addr).expect("bind");
                let conn = open(&Target::Abns(name.as_str().into()), None, NO_DST, false)
                    .await
                    .expect("connect");
                let ServerConn::Unix(mut c) = conn else {
                    panic!("a unix connection")
                };
                let (mut a, _) = l.accept().expect("accept");
                c.write_all(b"x").await.expect("write");
                let mut got = [0u8; 1];
                std::io::Read::read_exact(&mut a, &mut got).expect("read");
                assert_eq!(&got, b"x");
            }
            let e = open(
                &Target::Abns("fulcrum-connect-test-nobody".into()),
                None,
                NO_DST,
                false,
            )
            .await
            .expect_err("nobody listens");
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        });
    }

    #[test]
    fn a_refused_connection_is_an_error_and_an_accepted_one_has_nodelay() {
        rt().block_on(async {
            // A port nobody listens on: the writable readiness comes with the error.
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let closed = l.local_addr().expect("addr");
            drop(l);
            let e = open(&Target::Fixed(closed), None, NO_DST, false)
                .await
                .expect_err("refused");
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let dst = l.local_addr().expect("addr");
            let conn = open(&Target::Fixed(dst), None, NO_DST, false)
                .await
                .expect("connect");
            let ServerConn::Tcp(c) = conn else {
                panic!("a TCP connection")
            };
            assert!(
                c.nodelay().expect("nodelay"),
                "TCP_NODELAY set before connect()"
            );
            assert_eq!(c.peer_addr().expect("peer"), dst);
        });
    }

    /// Polls `f` once (with the task's waker): its answer then.
    async fn first_poll<F: std::future::Future>(f: F) -> std::task::Poll<F::Output> {
        let mut f = std::pin::pin!(f);
        std::future::poll_fn(|cx| std::task::Poll::Ready(f.as_mut().poll(cx))).await
    }

    #[test]
    fn an_eager_loopback_connection_is_made_without_waiting_for_the_runtime() {
        rt().block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let dst = l.local_addr().expect("addr");
            // Eager: made within the first poll (the kernel ran the loopback handshake).
            let std::task::Poll::Ready(made) = first_poll(tcp_with(dst, None, true)).await else {
                panic!("an eager loopback connection waits for nothing")
            };
            let c = made.expect("connect");
            assert_eq!(c.peer_addr().expect("peer"), dst);
            // Written at once, straight to the socket: the server reads it.
            let sent = socket2::SockRef::from(&c)
                .send_with_flags(b"z", libc::MSG_NOSIGNAL)
                .expect("send");
            assert_eq!(sent, 1);
            let (mut a, _) = l.accept().await.expect("accept");
            assert_eq!(a.read_u8().await.expect("read"), b'z');
            // Not eager: the runtime's report is waited for, as before.
            assert!(first_poll(tcp_with(dst, None, false)).await.is_pending());
            // Refused, eager or not: an error.
            drop(l);
            let e = tcp_with(dst, None, true).await.expect_err("refused");
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        });
    }

    #[test]
    fn source_address_is_the_servers_peer_address() {
        rt().block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let dst = l.local_addr().expect("addr");
            let target = Target::Fixed(dst);
            for src in ["127.0.0.2:0", "127.0.0.3:0"] {
                let src: SocketAddr = src.parse().expect("literal");
                let conn = open(&target, Some(src), NO_DST, false)
                    .await
                    .expect("connect");
                let (mut a, peer) = l.accept().await.expect("accept");
                assert_eq!(peer.ip(), src.ip());
                let ServerConn::Tcp(mut c) = conn else {
                    panic!("a TCP connection")
                };
                c.write_all(b"y").await.expect("write");
                assert_eq!(a.read_u8().await.expect("read"), b'y');
            }
            // A source that is not a local address fails the connection.
            let e = open(
                &target,
                Some("192.0.2.1:0".parse().expect("literal")),
                NO_DST,
                false,
            )
            .await
            .expect_err("not local");
            assert_eq!(e.raw_os_error(), Some(nix::libc::EADDRNOTAVAIL));
        });
    }
}
