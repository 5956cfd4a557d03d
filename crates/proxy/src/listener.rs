//! The accept loop that hands connections to sessions, and the frontend slot behind each
//! listening address (swapped in place on reload). Opening the sockets is `bind`'s job;
//! what a `bind` line stands for is `addr`'s.
//!
//! Every worker thread owns its own socket per IP address (SO_REUSEPORT; the kernel spreads
//! connections). Unix sockets (`/path`, `unix@`, `abns@`) and inherited ones (`fd@N`, systemd
//! socket activation, see `inherit`) are one socket whose duplicates every worker accepts on.
//! `maxconn` (global, frontend, bind) is enforced right after `accept()` (see `accepting`): a
//! worker at the limit stops accepting, so excess connections wait in the kernel backlog.

#[cfg(test)]
mod accept_tests;
mod connection;
pub mod limits;
pub mod sockets;
mod stages;
use crate::state::Frontend;
use crate::stream::{ClientStream, Conn};
use crate::tcp_rules::Verdict;
use crate::track::Tracking;
use connection::connection_rules;
use fulcrum_config::model::{Mode, TuneH2};
use socket2::{Domain, Socket};
use std::net::SocketAddr;

// The binary's runtime socket names these here.
pub use crate::addr::abns_name;
pub use crate::bind::is_unix;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// The frontend a listening address currently serves; swapped in place on reload.
pub struct Slot {
    current: RwLock<Arc<Frontend>>,
    /// The listening address (which bind's TLS settings apply, if any).
    key: Option<crate::addr::ListenKey>,
    /// `proto h2` on the bind: its HTTP/2 settings (swapped with the frontend on reload).
    h2: RwLock<Option<TuneH2>>,
    /// The bind's `name` (`so_name`; swapped with the frontend on reload).
    name: RwLock<Option<Arc<str>>>,
    /// Raised after each change above: the accept loop reads the slot again only then
    /// ([`Seen`]), not per connection.
    version: AtomicU64,
}

/// What an accept loop last read of its slot, and the slot's version then.
struct Seen {
    version: u64,
    fe: Arc<Frontend>,
    h2: Option<TuneH2>,
    name: Option<Arc<str>>,
}

impl Slot {
    pub fn new(fe: Arc<Frontend>) -> Self {
        Slot {
            current: RwLock::new(fe),
            key: None,
            h2: RwLock::new(None),
            name: RwLock::new(None),
            version: AtomicU64::new(0),
        }
    }
    /// A slot for listening address `key`.
    pub fn keyed(fe: Arc<Frontend>, key: crate::addr::ListenKey) -> Self {
        Slot {
            key: Some(key),
            ..Slot::new(fe)
        }
    }
    pub fn h2(&self) -> Option<TuneH2> {
        match self.h2.read() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }
    pub fn set_h2(&self, h2: Option<TuneH2>) {
        match self.h2.write() {
            Ok(mut g) => *g = h2,
            Err(p) => *p.into_inner() = h2,
        }
        self.changed();
    }
    /// The bind's `name`, for `so_name`.
    pub fn set_name(&self, name: Option<&str>) {
        let name = name.map(Arc::from);
        match self.name.write() {
            Ok(mut g) => *g = name,
            Err(p) => *p.into_inner() = name,
        }
        self.changed();
    }
    fn name(&self) -> Option<Arc<str>> {
        match self.name.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
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
        self.changed();
    }
    /// After a change is written: the version an accept loop compares.
    fn changed(&self) {
        self.version.fetch_add(1, Ordering::Release);
    }
    /// Everything the accept loop reads, with the version it was read at (read first: a
    /// change written meanwhile raises it again, so it is seen next time).
    fn seen(&self) -> Seen {
        let version = self.version.load(Ordering::Acquire);
        Seen {
            version,
            fe: self.get(),
            h2: self.h2(),
            name: self.name(),
        }
    }
    /// `seen` read again when the slot changed since (one atomic load otherwise).
    fn refresh(&self, seen: &mut Seen) {
        if self.version.load(Ordering::Acquire) != seen.version {
            *seen = self.seen();
        }
    }
}

/// Counts a connection for as long as it lives.
struct Counted {
    fe: Arc<Frontend>,
    tracker: Arc<AtomicU64>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        crate::counters::ACTIVE.fetch_sub(1, Ordering::Relaxed);
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

/// Waits for every limit an accepted connection is held to, in HAProxy's order (the process,
/// the frontend, the listener); the permits are held for the connection's life.
async fn admit(
    global: &Option<Arc<Semaphore>>,
    fe: &Frontend,
    limits: &limits::AcceptLimits,
) -> Permits {
    let g = permit(global).await;
    let f = permit(&fe.maxconn).await;
    if let Some(rate) = &fe.session_rate {
        crate::rate_limit::wait(rate).await;
    }
    let own = limits.admit().await;
    (g, f, own)
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
    Tcp(tokio::net::TcpListener, TcpAccept),
    Unix(tokio::net::UnixListener),
    Sockpair(tokio::net::UnixStream),
}

/// What an accepted TCP connection needs no system call for: its local address when the
/// listener is bound to one address (not a wildcard, not `transparent`, whose connections
/// keep their original destination), and `TCP_NODELAY` when the kernel passes it from the
/// listening socket to the accepted ones (Linux does; checked on the first connection).
struct TcpAccept {
    local: Option<SocketAddr>,
    /// 0: not known yet, 1: inherited, 2: set on each connection.
    nodelay: std::sync::atomic::AtomicU8,
}

impl TcpAccept {
    fn new(l: &std::net::TcpListener) -> TcpAccept {
        let sock = socket2::SockRef::from(l);
        let local = l
            .local_addr()
            .ok()
            .filter(|a| !a.ip().is_unspecified() && !sock.ip_transparent().unwrap_or(true));
        let inherit = sock.set_nodelay(true).is_ok();
        TcpAccept {
            local,
            nodelay: std::sync::atomic::AtomicU8::new(if inherit { 0 } else { 2 }),
        }
    }

    /// Sets what an accepted connection needs; its local address.
    fn accepted(&self, s: &tokio::net::TcpStream, peer: SocketAddr) -> SocketAddr {
        match self.nodelay.load(Ordering::Relaxed) {
            1 => {}
            0 => {
                let inherited = s.nodelay().unwrap_or(false);
                self.nodelay
                    .store(if inherited { 1 } else { 2 }, Ordering::Relaxed);
                if !inherited {
                    let _ = s.set_nodelay(true);
                }
            }
            _ => {
                let _ = s.set_nodelay(true);
            }
        }
        self.local.unwrap_or_else(|| s.local_addr().unwrap_or(peer))
    }
}

impl Accepting {
    async fn accept(&self) -> std::io::Result<Conn> {
        match self {
            Accepting::Tcp(l, how) => {
                let (s, peer) = l.accept().await?;
                let local = how.accepted(&s, peer);
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
#[allow(clippy::too_many_arguments)]
pub async fn accept_loop(
    incoming: Incoming,
    id: u16,
    slot: Arc<Slot>,
    global: Option<Arc<Semaphore>>,
    tracker: Arc<AtomicU64>,
    close: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
    how: (crate::accept_proxy::Expect, limits::AcceptLimits),
) {
    // Outside tokio's cooperative budget: the loop yields by itself (`ACCEPT_BATCH`).
    let run = accepting(incoming, id, slot, global, tracker, close, stop, how);
    tokio::task::unconstrained(run).await
}

/// Connections an accept loop takes in a row before the worker's other tasks run (HAProxy's
/// `tune.maxaccept`), while clients wait in the backlog.
///
/// Left to tokio's cooperative budget (128 operations a poll; each connection spends two or
/// three: the `maxconn` permits and the `accept()`), the loop went to the back of the worker's
/// run queue after ~40 connections: with 9,000 clients connecting at once beside thousands of
/// busy sessions, one whole pass over those per 40 accepts, ~1,100 accepts a second, the
/// listen queue full for seconds (SYNs dropped, clients' first requests waiting over a second:
/// issue 20's many-connection row). 1,024 a turn took the 9,000 in under half a second there
/// (as fast as no bound at all); a loop with fewer clients waiting takes them all and sleeps.
const ACCEPT_BATCH: u32 = 1024;

#[allow(clippy::too_many_arguments)]
async fn accepting(
    incoming: Incoming,
    id: u16,
    slot: Arc<Slot>,
    global: Option<Arc<Semaphore>>,
    tracker: Arc<AtomicU64>,
    mut close: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
    (expect, limits): (crate::accept_proxy::Expect, limits::AcceptLimits),
) {
    let registered = match incoming {
        Incoming::Tcp(l) => {
            let how = TcpAccept::new(&l);
            tokio::net::TcpListener::from_std(l).map(|l| Accepting::Tcp(l, how))
        }
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
    let mut paused = false;
    let mut seen = slot.seen();
    let mut in_a_row = 0u32;
    loop {
        if *close.borrow() {
            return;
        }
        // Every turn of the loop counts (a failed accept too): the worker's other tasks run
        // at least once per `ACCEPT_BATCH` of them.
        in_a_row += 1;
        if in_a_row > ACCEPT_BATCH {
            in_a_row = 0;
            tokio::task::yield_now().await;
        }
        let accepted = tokio::select! {
            biased;
            r = listener.accept() => r,
            _ = close.changed() => return,
        };
        let conn = match accepted {
            Ok(v) => {
                if paused {
                    tracing::warn!("accepting again after a pause (descriptors available)");
                    paused = false;
                }
                v
            }
            // Out of descriptors while idle server connections hold some: they give way
            // (`pool::reclaimed`), and the connection is accepted at once.
            Err(e) if crate::pool::reclaimed(&e) => continue,
            Err(e) => {
                // EMFILE/ENFILE/ENOBUFS: pause accepting (the connection waits in the
                // backlog) and retry shortly, as HAProxy pauses a listener; said once per
                // pause, not per attempt.
                if !paused {
                    tracing::warn!("accept failed: {e}; pausing accepts until it succeeds again");
                    paused = true;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // The limits, waited for once a connection came: `maxconn` (global, the frontend's,
        // the bind's) and the accept rates (`rate-limit sessions`, `listener/limits.rs`). Each
        // worker accepts on a socket of its own: a permit taken before `accept()` waits on a
        // socket no client may be queued on while clients queued elsewhere wait for it (one
        // permit stranded per idle worker: `maxconn 1` with 4 workers served one client in
        // four). A worker holds at most one accepted connection while it waits; nothing is
        // read from it meanwhile, and the kernel had completed its handshake either way. A
        // stop (reload) while it waits serves it all the same (over `maxconn` by at most one
        // per worker while the old process drains): a reload drops no connection.
        slot.refresh(&mut seen);
        let waited = tokio::select! {
            biased;
            p = admit(&global, &seen.fe, &limits) => Some(p),
            _ = close.changed() => None,
        };
        let permits = waited.unwrap_or_default();
        // A reload while this waited: the connection is the new generation's.
        slot.refresh(&mut seen);
        let fe = seen.fe.clone();
        let h2 = seen.h2;
        crate::counters::ACTIVE.fetch_add(1, Ordering::Relaxed);
        fe.conns.fetch_add(1, Ordering::Relaxed);
        tracker.fetch_add(1, Ordering::AcqRel);
        let counted = Counted {
            fe: fe.clone(),
            tracker: tracker.clone(),
        };
        let stop = stop.clone();
        // `%Th`: the handshakes (PROXY header, TLS) run from here to the session.
        let accepted = std::time::Instant::now();
        // What `so_*`/`fc_*` read of the connection, when the configuration reads them.
        let seed = fe.conn_facts.then(|| crate::front::Seed {
            name: seen.name.clone(),
            fd: match &conn {
                Conn::Tcp(s, ..) => Some(std::os::fd::AsRawFd::as_raw_fd(s)),
                Conn::Unix(_) => None,
            },
            ..Default::default()
        });
        match conn {
            Conn::Tcp(sock, peer, local) => {
                match connection_rules(&fe, peer, local, &sock, (id, &seed)) {
                    (Verdict::Accept, track, (peer, local), asked) => {
                        // `tcp-request connection expect-proxy|expect-netscaler-cip layer4`:
                        // as `accept-proxy`, `accept-netscaler-cip`
                        let expect = expect.and_rules(asked);
                        match slot.key.as_ref().and_then(|k| fe.tls_for(k)).cloned() {
                            Some(tls) => crate::tls::handshake::spawn(
                                fe,
                                tls,
                                sock,
                                peer,
                                local,
                                (expect, id),
                                move |fe, c, addrs, header| {
                                    // The header was read before the handshake: the facts keep
                                    // it and the socket's own addresses.
                                    let seed = seed.map(|s| crate::front::Seed {
                                        pp: header.map(Box::new),
                                        fc: Some((peer, local)),
                                        ..s
                                    });
                                    spawn_session(
                                        fe,
                                        c,
                                        addrs,
                                        stop,
                                        counted,
                                        permits,
                                        (track, Default::default(), accepted, id),
                                        seed,
                                        h2,
                                    )
                                },
                            ),
                            None => spawn_session(
                                fe,
                                sock,
                                (peer, local),
                                stop,
                                counted,
                                permits,
                                (track, expect, accepted, id),
                                seed,
                                h2,
                            ),
                        }
                    }
                    (Verdict::Reject, ..) => drop(sock),
                    (Verdict::SilentDrop, ..) => crate::tcp_rules::silence(&sock),
                }
            }
            Conn::Unix(sock) => {
                let me = crate::net::unix_peer(id);
                if let (Verdict::Accept, track, addrs, asked) =
                    connection_rules(&fe, me, me, &(), (id, &seed))
                {
                    let expect = expect.and_rules(asked);
                    spawn_session(
                        fe,
                        sock,
                        addrs,
                        stop,
                        counted,
                        permits,
                        (track, expect, accepted, id),
                        seed,
                        h2,
                    )
                }
            }
        }
    }
}

/// A connection's permits, held for its life: global `maxconn`, the frontend's, the bind's.
type Permits = (
    Option<tokio::sync::OwnedSemaphorePermit>,
    Option<tokio::sync::OwnedSemaphorePermit>,
    Option<tokio::sync::OwnedSemaphorePermit>,
);

/// What a connection's task knows once its PROXY header and `tcp-request session` rules
/// passed: the session starts from here.
struct Opened<C> {
    fe: Arc<Frontend>,
    sock: C,
    peer: SocketAddr,
    local: SocketAddr,
    track: Option<Arc<Tracking>>,
    /// `%Th`: the handshakes' time.
    handshake: Duration,
}

#[allow(clippy::too_many_arguments)]
fn spawn_session<C: ClientStream>(
    fe: Arc<Frontend>,
    sock: C,
    addrs: (SocketAddr, SocketAddr),
    stop: watch::Receiver<bool>,
    counted: Counted,
    permits: Permits,
    how: (
        Option<Arc<Tracking>>,
        crate::accept_proxy::Expect,
        std::time::Instant,
        u16,
    ),
    seed: Option<crate::front::Seed>,
    h2: Option<TuneH2>,
) {
    // registered with the generation's end signal when the configuration can end it
    let end = fe.end.tracker();
    // The task's future is boxed: tokio copies a task's future by value when it is spawned
    // (three moves into its cell) and writes the whole cell's stage twice more as the task
    // ends, so a session held inline cost ~3k instructions of copying per connection
    // (callgrind, `bench/proxy/newconn_instructions.sh`); boxed, each of those copies is a
    // pointer, for one allocation. Inside, the sessions are inline (one allocation holds the
    // PROXY header wait and the session); the rare upgraded sessions stay boxed apart, so a
    // `mode tcp` connection's allocation does not grow to an HTTP session's size, and so do
    // a TCP session's phases before its exchange (`tcp::serve`: one more allocation per
    // connection, freed once the server answered, for ~4.6 KB less held while it lives).
    // Both built in place (`Box::write`): `Box::pin(future)` makes the future on the stack
    // and then copies all of it into the box.
    if fe.mode == Mode::Tcp {
        let keep = (counted, permits);
        let task = Box::write(
            Box::new_uninit(),
            tcp_task(fe, sock, addrs, stop, keep, how, seed),
        );
        crate::end::spawn(end, Box::into_pin(task));
        return;
    }
    let task = Box::write(Box::new_uninit(), async move {
        // Held for as long as the connection lives (an HTTP/1 session keeps them while parked).
        let keep = (counted, permits);
        let Some(o) = open(fe, sock, addrs, how, seed).await else {
            return;
        };
        // HTTP/2: `proto h2` on the bind, or chosen by the client in the TLS handshake (ALPN).
        let alpn_h2 = o
            .sock
            .tls()
            .is_some_and(|t| t.alpn.as_deref() == Some("h2"));
        let Opened {
            fe,
            sock,
            peer,
            local,
            track,
            handshake,
        } = o;
        if h2.is_some() || alpn_h2 {
            let tune = h2.unwrap_or(fe.tune_h2);
            Box::pin(crate::http::h2::serve(
                fe, sock, peer, local, stop, tune, track,
            ))
            .await
        } else {
            let addrs = (peer, local);
            crate::http::session::serve(fe, sock, addrs, handshake, stop, track, keep).await
        }
    });
    crate::end::spawn(end, Box::into_pin(task));
}

/// A `mode tcp` connection's task (boxed by `spawn_session`: the box is as large as its
/// largest state, held for as long as the connection lives: `tests`).
///
/// Chained in two [`stages::Stages`], not written as an `async fn`: the function's arguments
/// (~320 bytes, used by `open` only) and the opened connection's parts would stay in its
/// future beside the session's for as long as the connection lives, and a future bound to a
/// local before its `.await` is laid out twice; chained, the opening and the session share
/// the room, each held once (and the session is not copied twice on its way in, as `.then`
/// does).
fn tcp_task<C: ClientStream>(
    fe: Arc<Frontend>,
    sock: C,
    addrs: (SocketAddr, SocketAddr),
    stop: watch::Receiver<bool>,
    // Held for as long as the connection lives (a switched session keeps them parked).
    keep: (Counted, Permits),
    how: (
        Option<Arc<Tracking>>,
        crate::accept_proxy::Expect,
        std::time::Instant,
        u16,
    ),
    seed: Option<crate::front::Seed>,
) -> impl std::future::Future<Output = ()> {
    use futures_util::future::Either;
    use futures_util::FutureExt;
    stages::Stages::new(open(fe, sock, addrs, how, seed), move |o| {
        let Some(o) = o else {
            return Either::Left(std::future::ready(()));
        };
        let Opened {
            fe,
            sock,
            peer,
            local,
            track,
            handshake,
        } = o;
        let tcp = crate::tcp::serve(fe.clone(), sock, (peer, local), handshake, track.clone());
        // A stream made HTTP goes on as an HTTP session (boxed: rare, and larger).
        let session = tcp.then(move |up| async move {
            match up {
                Some(up) if up.h2 => {
                    Box::pin(crate::http::h2::serve_upgraded(fe, up, stop, track)).await
                }
                Some(up) => {
                    let http = crate::http::session::serve_upgraded(fe, up, stop, track, keep);
                    Box::pin(http).await
                }
                None => {}
            }
        });
        Either::Right(session)
    })
}

/// A connection's start in its task: the PROXY header (`accept-proxy`: its addresses are the
/// client's everywhere after), the connection's facts, the `tcp-request session` rules;
/// `None` when the connection ends there.
async fn open<C: ClientStream>(
    fe: Arc<Frontend>,
    mut sock: C,
    addrs: (SocketAddr, SocketAddr),
    (track, expect, accepted, bind): (
        Option<Arc<Tracking>>,
        crate::accept_proxy::Expect,
        std::time::Instant,
        u16,
    ),
    seed: Option<crate::front::Seed>,
) -> Option<Opened<C>> {
    let limit = fe.timeouts.client;
    let (peer, local) =
        match crate::accept_proxy::client_header(&mut sock, expect, limit, addrs).await {
            Ok((a, header)) => {
                // The connection's facts (`fc_*`): its own addresses as the connection rules
                // left them (HAProxy 2.6's `fc_src` is not the PROXY header's), its header.
                if let (Some(mut seed), Some(t)) = (seed, track.as_deref()) {
                    let unix = C::UNIX;
                    let read = seed.pp.take();
                    let pp = header.as_ref().or(read.as_deref());
                    let fc = seed.fc.unwrap_or(addrs);
                    let facts = crate::front::ConnFacts::new(bind, seed, fc, unix, pp);
                    t.set_conn(facts);
                }
                a
            }
            Err(m) => {
                let failure = crate::log_error::Failure::from(m);
                let at = std::time::SystemTime::now()
                    .checked_sub(accepted.elapsed())
                    .unwrap_or_else(std::time::SystemTime::now);
                crate::log_error::connection_error(&fe, addrs, at, bind, failure);
                return None;
            }
        };
    // `tcp-request session` rules see the PROXY header's addresses, as HAProxy's.
    let (peer, local) = if fe.tcp_session.is_empty() {
        (peer, local)
    } else {
        let counters = fe.counters(track.as_deref(), fe.own_table.as_ref());
        let place = crate::place::Place {
            conn: track.as_deref().and_then(|t| t.conn()),
            ..crate::place::Place::at(&fe)
        };
        let seen = crate::http::sample_env::Situation::new(peer, local)
            .with_counters(counters)
            .at(Some(&place));
        let ctx = seen.view(None, None);
        let moved = crate::tcp_rules::Moved::default();
        if crate::tcp_rules::content(&fe.tcp_session, &ctx, &sock, false, &moved) {
            return None;
        }
        moved.get(peer, local)
    };
    if let Some(t) = &track {
        t.session();
    }
    Some(Opened {
        fe,
        sock,
        peer,
        local,
        track,
        handshake: accepted.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `f` returns, without calling it.
    fn returned<A, F: std::future::Future>(_: &impl FnOnce(A) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    type How = (
        Option<Arc<Tracking>>,
        crate::accept_proxy::Expect,
        std::time::Instant,
        u16,
    );

    /// A `mode tcp` connection's task box is held for as long as it lives: its largest state
    /// (the PROXY header and session rules, `open`, or the session's, `tcp::serve`) is the
    /// memory of each idle TCP connection, beside its sockets' registrations.
    #[test]
    fn tcp_connection_task_is_small() {
        type Args = (
            Arc<Frontend>,
            tokio::net::TcpStream,
            watch::Receiver<bool>,
            (Counted, Permits),
            How,
        );
        let any: SocketAddr = ([127, 0, 0, 1], 1).into();
        let task = returned(&|(fe, sock, stop, keep, how): Args| {
            tcp_task(fe, sock, (any, any), stop, keep, how, None)
        });
        let open = returned(&|(fe, sock, _, _, how): Args| open(fe, sock, (any, any), how, None));
        let serve = returned(&|(fe, sock, _, _, _): Args| {
            crate::tcp::serve(fe, sock, (any, any), Duration::ZERO, None)
        });
        eprintln!("TCP task {task} bytes: open {open}, session {serve}");
        // Measured (debug build, as tests run): 1944 (open 1288, session 1816); 5696 before
        // the session boxed its phases before the exchange, its tunnel lent its directions
        // and this task was chained (session 4888; as an `async fn` the task was 2624).
        assert!(task <= 2000, "a TCP connection's task is {task} bytes");
    }

    #[test]
    fn accepted_connections_need_no_getsockname_nor_setsockopt() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async {
            // One address: the local address is the listener's; NODELAY comes from it.
            let std_l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            std_l.set_nonblocking(true).expect("nonblocking");
            let how = TcpAccept::new(&std_l);
            let bound = std_l.local_addr().expect("addr");
            assert_eq!(how.local, Some(bound));
            let l = tokio::net::TcpListener::from_std(std_l).expect("register");
            for _ in 0..2 {
                let (c, a) = tokio::join!(tokio::net::TcpStream::connect(bound), l.accept());
                let (s, peer) = a.expect("accept");
                assert_eq!(how.accepted(&s, peer), s.local_addr().expect("local"));
                assert!(
                    s.nodelay().expect("nodelay"),
                    "accepted sockets have TCP_NODELAY"
                );
                assert_eq!(c.expect("connect").peer_addr().expect("peer"), bound);
            }
            // Linux passes TCP_NODELAY on: no setsockopt per connection after the first.
            assert_eq!(how.nodelay.load(Ordering::Relaxed), 1);
            // A wildcard address: each connection's own local address (getsockname).
            let any = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
            assert_eq!(TcpAccept::new(&any).local, None);
        });
    }
}
