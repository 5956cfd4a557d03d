//! Listening sockets for `bind` lines, and the accept loop that hands connections to sessions.
//!
//! Every worker thread owns its own socket per address (SO_REUSEPORT; the kernel spreads
//! connections). `transparent` and `freebind` are honoured, and an address that is not (yet)
//! local — a virtual IP held by another node — is bound with IP_FREEBIND so the proxy can run
//! everywhere and serve as soon as the address moves here. `maxconn` (global and frontend) is
//! enforced before `accept()`, so excess connections wait in the kernel backlog.

use crate::state::Frontend;
use fulcrum_config::model::{Bind, BindAddress, Mode};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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
        Slot { current: RwLock::new(fe) }
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

/// Every address:port a `bind` line stands for.
pub fn addresses(b: &Bind) -> Result<Vec<SocketAddr>, String> {
    let ip: IpAddr = match &b.address {
        BindAddress::AnyV4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        BindAddress::AnyV6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        BindAddress::Ip(ip) => *ip,
        BindAddress::Unix(p) => return Err(format!("{}: unix socket bind '{p}' is not supported by fulcrum yet", b.span)),
    };
    if b.port_last < b.port_first {
        return Err(format!("{}: port range {}-{} is empty", b.span, b.port_first, b.port_last));
    }
    Ok((b.port_first..=b.port_last).map(|p| SocketAddr::new(ip, p)).collect())
}

/// Opens one listening socket for `addr` with the options of `b`.
pub fn open(addr: SocketAddr, b: &Bind) -> std::io::Result<std::net::TcpListener> {
    let domain = if addr.is_ipv4() { Domain::IPV4 } else { Domain::IPV6 };
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

/// Accepts on `std_listener` until `close` turns true; runs inside a worker runtime.
pub async fn accept_loop(
    std_listener: std::net::TcpListener,
    slot: Arc<Slot>,
    global: Option<Arc<Semaphore>>,
    tracker: Arc<AtomicU64>,
    mut close: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(std_listener) {
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
        let (sock, peer) = match accepted {
            Ok(v) => v,
            Err(e) => {
                // EMFILE/ENFILE/ENOBUFS: back off briefly instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let local = sock.local_addr().unwrap_or(peer);
        let fe = slot.get();
        ACTIVE.fetch_add(1, Ordering::Relaxed);
        fe.conns.fetch_add(1, Ordering::Relaxed);
        tracker.fetch_add(1, Ordering::AcqRel);
        let counted = Counted { fe: fe.clone(), tracker: tracker.clone() };
        let stop = stop.clone();
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
}
