//! Listening sockets for `bind` lines, and the accept loop that hands connections to sessions.
//!
//! Every worker thread owns its own socket per IP address (SO_REUSEPORT; the kernel spreads
//! connections). Unix sockets (`/path`, `unix@`, `abns@`) and inherited ones (`fd@N`, systemd
//! socket activation, see `inherit`) are one socket whose duplicates every worker accepts on.
//! A unix path is bound under a temporary name, given its `mode`/`user`/`group`, then renamed
//! over the path, as HAProxy does, so a process taking over (`-sf`) replaces the old socket
//! file atomically and clients never find the path missing. `abns@NAME` listens on both the
//! name HAProxy uses (padded with NULs to the full `sun_path`, what `server abns@NAME` of an
//! HAProxy connects to) and the plain name (what curl, socat and most tools connect to). `transparent` and `freebind` are honoured, and an address that is not (yet)
//! local — a virtual IP held by another node — is bound with IP_FREEBIND so the proxy can run
//! everywhere and serve as soon as the address moves here. `maxconn` (global and frontend) is
//! enforced before `accept()`, so excess connections wait in the kernel backlog.

use crate::state::Frontend;
use crate::stream::ClientStream;
use fulcrum_config::model::{Bind, BindAddress, Mode};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

const BACKLOG: i32 = 4096;

/// The frontend a listening address currently serves; swapped in place on reload.
pub struct Slot {
    current: RwLock<Arc<Frontend>>,
}

impl Slot {
    pub fn new(fe: Arc<Frontend>) -> Self {
        Slot {
            current: RwLock::new(fe),
        }
    }
    pub fn get(&self) -> Arc<Frontend> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
    pub fn set(&self, fe: Arc<Frontend>) {
        match self.current.write() {
            Ok(mut g) => *g = fe,
            Err(p) => *p.into_inner() = fe,
        }
    }
}

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

/// The sockets of one listener, before they are spread over the workers.
pub enum Opened {
    /// One SO_REUSEPORT socket per worker.
    PerWorker(Vec<Socket>),
    /// One listening socket (unix, abstract) that every worker accepts on.
    Shared(Socket),
    /// The same, inherited (socket activation, `fd@`): its file, if any, is not ours to remove.
    Inherited(Socket),
    /// A unix socket over which connections arrive as descriptors (`sockpair@`).
    Sockpair(Socket),
}

/// Opens the listener `key` of bind `b` for `workers` workers.
pub fn open_key(key: &ListenKey, b: &Bind, workers: usize) -> Result<Opened, String> {
    let err = |e: std::io::Error| format!("{}: cannot bind {key}: {e}", b.span);
    match key {
        ListenKey::Tcp(addr) => {
            // From the process we take over from: all its sockets for this address, topped
            // up to one per worker.
            let mut v = crate::inherit::take_passed(|s| {
                is_listening_on(s, |a| a.as_socket() == Some(*addr))
            });
            if !v.is_empty() {
                while v.len() < workers {
                    v.push(Socket::from(open(*addr, b).map_err(err)?));
                }
                return Ok(Opened::PerWorker(v));
            }
            if let Some(s) = crate::inherit::take_tcp(*addr) {
                let _ = s.set_nonblocking(true);
                return Ok(Opened::Inherited(s));
            }
            let mut v = Vec::with_capacity(workers);
            for _ in 0..workers {
                v.push(Socket::from(open(*addr, b).map_err(err)?));
            }
            Ok(Opened::PerWorker(v))
        }
        ListenKey::Unix(path) => {
            if let Some(s) = crate::inherit::take_passed(|s| {
                is_listening_on(s, |a| a.as_pathname().is_some_and(|p| bound_as(p, path)))
            })
            .pop()
            {
                return Ok(Opened::Shared(s));
            }
            if let Some(s) = crate::inherit::take_unix_path(path) {
                let _ = s.set_nonblocking(true);
                return Ok(Opened::Inherited(s));
            }
            open_unix_path(path, b).map(Opened::Shared).map_err(|e| {
                format!(
                    "{}: cannot bind unix socket '{}': {e}",
                    b.span,
                    path.display()
                )
            })
        }
        ListenKey::Abns { name, padded } => {
            let wire = abns_name(name, *padded);
            if let Some(s) = crate::inherit::take_passed(|s| {
                is_listening_on(s, |a| a.as_abstract_namespace() == Some(&wire[1..]))
            })
            .pop()
            {
                return Ok(Opened::Shared(s));
            }
            if let Some(s) = crate::inherit::take_abns(&wire[1..]) {
                let _ = s.set_nonblocking(true);
                return Ok(Opened::Inherited(s));
            }
            let s = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(err)?;
            let addr = SockAddr::unix(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&wire),
            )
            .map_err(err)?;
            s.bind(&addr).map_err(err)?;
            s.listen(BACKLOG).map_err(err)?;
            s.set_nonblocking(true).map_err(err)?;
            Ok(Opened::Shared(s))
        }
        ListenKey::Fd(n) => {
            let s = crate::inherit::take_listener(*n).map_err(|m| format!("{}: {m}", b.span))?;
            s.set_nonblocking(true).map_err(err)?;
            Ok(Opened::Inherited(s))
        }
        ListenKey::Sockpair(n) => {
            let s = crate::inherit::take_socket(*n).map_err(|m| format!("{}: {m}", b.span))?;
            s.set_nonblocking(true).map_err(err)?;
            Ok(Opened::Sockpair(s))
        }
    }
}

/// Whether a unix socket bound at `bound` serves `path`: fulcrum binds `PATH.PID.tmp` and
/// renames it over `PATH`, and getsockname keeps reporting the name it was bound under.
fn bound_as(bound: &Path, path: &Path) -> bool {
    if bound == path {
        return true;
    }
    let (b, p) = (
        bound.as_os_str().as_encoded_bytes(),
        path.as_os_str().as_encoded_bytes(),
    );
    b.strip_prefix(p)
        .and_then(|rest| rest.strip_prefix(b"."))
        .and_then(|rest| rest.strip_suffix(b".tmp"))
        .is_some_and(|pid| !pid.is_empty() && pid.iter().all(u8::is_ascii_digit))
}

/// Whether an (inherited) socket is a unix one.
pub fn is_unix(fd: &std::os::fd::OwnedFd) -> bool {
    socket2::SockRef::from(fd)
        .domain()
        .is_ok_and(|d| d == Domain::UNIX)
}

fn is_listening_on(s: &Socket, want: impl Fn(&SockAddr) -> bool) -> bool {
    s.is_listener().unwrap_or(false) && s.local_addr().is_ok_and(|a| want(&a))
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

/// Binds a unix stream socket at `path` the way HAProxy does: under `PATH.PID.tmp` first,
/// with the bind's mode and owner, then renamed over `path`.
fn open_unix_path(path: &Path, b: &Bind) -> std::io::Result<Socket> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let s = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    s.bind(&SockAddr::unix(&tmp)?)?;
    let done = (|| {
        apply_owner(&tmp, b)?;
        if let Some(mode) = b.mode {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        }
        s.listen(BACKLOG)?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

fn apply_owner(file: &Path, b: &Bind) -> std::io::Result<()> {
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
    let uid = match (&b.user, b.uid) {
        (Some(name), _) => Some(
            nix::unistd::User::from_name(name)
                .ok()
                .flatten()
                .map(|u| u.uid.as_raw())
                .ok_or_else(|| invalid(format!("unknown user '{name}'")))?,
        ),
        (None, uid) => uid,
    };
    let gid = match (&b.group, b.gid) {
        (Some(name), _) => Some(
            nix::unistd::Group::from_name(name)
                .ok()
                .flatten()
                .map(|g| g.gid.as_raw())
                .ok_or_else(|| invalid(format!("unknown group '{name}'")))?,
        ),
        (None, gid) => gid,
    };
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(file, uid, gid)?;
    }
    Ok(())
}

/// Removes the socket file of a unix listener if it is still ours (`ino`): a process that
/// took over may have renamed its own socket onto the path already.
pub fn remove_unix_path(path: &Path, ino: u64) {
    use std::os::unix::fs::MetadataExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.ino() == ino) {
        let _ = std::fs::remove_file(path);
    }
}

/// The inode of the socket file at `path` right after binding it.
pub fn unix_path_ino(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| m.ino())
}

/// Opens one listening socket for `addr` with the options of `b`.
pub fn open(addr: SocketAddr, b: &Bind) -> std::io::Result<std::net::TcpListener> {
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    if addr.is_ipv6() {
        // `:::PORT` serves IPv4 too unless `v6only`; an explicit address follows `v4v6`.
        let only = b.v6only || (!b.v4v6 && !addr.ip().is_unspecified());
        let _ = s.set_only_v6(only);
    }
    if b.transparent {
        if addr.is_ipv4() {
            s.set_ip_transparent(true)?;
        } else {
            // No IPv6 helper in socket2: freebind covers the common need (non-local VIP).
            s.set_freebind_ipv6(true)?;
        }
    }
    if b.freebind {
        set_freebind(&s, addr)?;
    }
    s.set_nodelay(true)?;
    match s.bind(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(99) => {
            // EADDRNOTAVAIL: the address is not local (yet), e.g. a VIP on another node.
            set_freebind(&s, addr)?;
            s.bind(&addr.into())?;
        }
        Err(e) => return Err(e),
    }
    s.listen(BACKLOG)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

fn set_freebind(s: &Socket, addr: SocketAddr) -> std::io::Result<()> {
    if addr.is_ipv4() {
        s.set_freebind(true)
    } else {
        s.set_freebind_ipv6(true)
    }
}

/// Connections open through this process (log field `ac`).
pub static ACTIVE: AtomicU64 = AtomicU64::new(0);

/// Counts a connection for as long as it lives.
struct Counted {
    fe: Arc<Frontend>,
    tracker: Arc<AtomicU64>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
        self.fe.conns.fetch_sub(1, Ordering::Relaxed);
        self.tracker.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn permit(sem: &Option<Arc<Semaphore>>) -> Option<tokio::sync::OwnedSemaphorePermit> {
    match sem {
        Some(s) => s.clone().acquire_owned().await.ok(),
        None => None,
    }
}

/// A worker's share of a listener.
pub enum Incoming {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
    Sockpair(std::os::unix::net::UnixStream),
}

impl Incoming {
    /// A listening socket as TCP or unix, by its family.
    pub fn listener(s: Socket) -> Incoming {
        match s.domain() {
            Ok(d) if d == Domain::UNIX => Incoming::Unix(std::os::unix::net::UnixListener::from(
                std::os::fd::OwnedFd::from(s),
            )),
            _ => Incoming::Tcp(s.into()),
        }
    }
}

/// A tokio-registered listener.
enum Accepting {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
    Sockpair(tokio::net::UnixStream),
}

/// An accepted connection.
pub(crate) enum Conn {
    Tcp(tokio::net::TcpStream, SocketAddr, SocketAddr),
    Unix(tokio::net::UnixStream),
}

impl Accepting {
    async fn accept(&self) -> std::io::Result<Conn> {
        match self {
            Accepting::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                let _ = s.set_nodelay(true);
                let local = s.local_addr().unwrap_or(peer);
                Ok(Conn::Tcp(s, peer, local))
            }
            Accepting::Unix(l) => Ok(Conn::Unix(l.accept().await?.0)),
            Accepting::Sockpair(s) => {
                loop {
                    match s.async_io(tokio::io::Interest::READABLE, || crate::sockpair::recv_fd(s)).await? {
                    crate::sockpair::Received::Fd(fd) => match crate::sockpair::stream(fd) {
                        Ok(c) => return Ok(c),
                        Err(e) => tracing::warn!("sockpair: a received descriptor is not a usable stream socket: {e}"),
                    },
                    crate::sockpair::Received::Nothing => {}
                    crate::sockpair::Received::Closed => {
                        tracing::info!("sockpair: the sending side closed; no more connections on this listener");
                        std::future::pending::<()>().await;
                    }
                }
                }
            }
        }
    }
}

/// Accepts on `incoming` until `close` turns true; runs inside a worker runtime. `id` is the
/// listener's number in its frontend (unix clients are logged as `unix:ID`).
pub async fn accept_loop(
    incoming: Incoming,
    id: u16,
    slot: Arc<Slot>,
    global: Option<Arc<Semaphore>>,
    tracker: Arc<AtomicU64>,
    mut close: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
) {
    let registered = match incoming {
        Incoming::Tcp(l) => tokio::net::TcpListener::from_std(l).map(Accepting::Tcp),
        Incoming::Unix(l) => tokio::net::UnixListener::from_std(l).map(Accepting::Unix),
        Incoming::Sockpair(s) => tokio::net::UnixStream::from_std(s).map(Accepting::Sockpair),
    };
    let listener = match registered {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot register listener: {e}");
            return;
        }
    };
    loop {
        if *close.borrow() {
            return;
        }
        let fe = slot.get();
        // maxconn: wait for room before accepting, so excess waits in the backlog.
        let permits = tokio::select! {
            g = permit(&global) => {
                let f = tokio::select! {
                    f = permit(&fe.maxconn) => f,
                    _ = close.changed() => return,
                };
                (g, f)
            }
            _ = close.changed() => return,
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = close.changed() => return,
        };
        let conn = match accepted {
            Ok(v) => v,
            Err(e) => {
                // EMFILE/ENFILE/ENOBUFS: back off briefly instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let fe = slot.get();
        ACTIVE.fetch_add(1, Ordering::Relaxed);
        fe.conns.fetch_add(1, Ordering::Relaxed);
        tracker.fetch_add(1, Ordering::AcqRel);
        let counted = Counted {
            fe: fe.clone(),
            tracker: tracker.clone(),
        };
        let stop = stop.clone();
        match conn {
            Conn::Tcp(sock, peer, local) => {
                spawn_session(fe, sock, peer, local, stop, counted, permits)
            }
            Conn::Unix(sock) => {
                let me = crate::net::unix_peer(id);
                spawn_session(fe, sock, me, me, stop, counted, permits)
            }
        }
    }
}

type Permits = (
    Option<tokio::sync::OwnedSemaphorePermit>,
    Option<tokio::sync::OwnedSemaphorePermit>,
);

fn spawn_session<C: ClientStream>(
    fe: Arc<Frontend>,
    sock: C,
    peer: SocketAddr,
    local: SocketAddr,
    stop: watch::Receiver<bool>,
    counted: Counted,
    permits: Permits,
) {
    tokio::spawn(async move {
        let _counted = counted;
        let _permits = permits;
        match fe.mode {
            Mode::Http => crate::http::session::serve(fe, sock, peer, local, stop).await,
            // Boxed: keeps the per-connection task as small as the idle HTTP session.
            Mode::Tcp => Box::pin(crate::tcp::serve(fe, sock, peer, local)).await,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_sockets_are_known_by_their_temporary_name_too() {
        let p = Path::new("/run/a.sock");
        assert!(bound_as(Path::new("/run/a.sock"), p));
        assert!(bound_as(Path::new("/run/a.sock.1234.tmp"), p));
        assert!(!bound_as(Path::new("/run/a.sock.x.tmp"), p));
        assert!(!bound_as(Path::new("/run/a.sock..tmp"), p));
        assert!(!bound_as(Path::new("/run/a.socket"), p));
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
