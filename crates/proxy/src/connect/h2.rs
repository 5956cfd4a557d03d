//! HTTP/2 connections to servers (`server ... proto h2`, or `h2` chosen by ALPN over TLS) and
//! the registry that multiplexes them: as HAProxy's "available" server connections, one
//! connection carries the streams of many client requests at once, from any session, up to
//! the server's `SETTINGS_MAX_CONCURRENT_STREAMS`; a new one opens when every open one is full.
//!
//! A connection's driver runs in its own task; it ends when the server closes the connection,
//! after the server's `pool-purge-delay` without a stream (5 s by default, as HAProxy's),
//! as soon as it is left without a stream when it has carried its `max-reuse` + 1 streams
//! or when the server already has its `pool-max-conn` connections without a stream (HAProxy
//! closes a connection it cannot put in the idle list); it leaves the registry as it goes.

use bytes::Bytes;
use h2::client::SendRequest;
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// The window a stream (and the whole connection) opens to the server's DATA: as HAProxy's
/// `tune.h2.initial-window-size` default for streams, larger for the connection so that one
/// slow client does not stall the other streams.
const STREAM_WINDOW: u32 = 65_535;
const CONNECTION_WINDOW: u32 = 16 * 65_535;

/// How a server's connections are reused and kept (its `max-reuse`, `pool-purge-delay`,
/// `pool-max-conn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Streams one connection carries in all; None: no limit.
    pub max_streams: Option<u64>,
    /// How long a connection without streams stays open (zero: as long as the server keeps
    /// it).
    pub purge: Duration,
    /// Connections without streams kept for the server; None: no limit.
    pub max_idle: Option<u32>,
}

/// One connection in the registry.
#[derive(Clone)]
struct Entry {
    send: SendRequest<Bytes>,
    closed: Arc<AtomicBool>,
    /// Streams the sessions hold on it (a handle each).
    active: Arc<AtomicUsize>,
    /// Streams it was given in all (`max-reuse`).
    opened: Arc<AtomicU64>,
    /// Told when the last stream ends: the driver decides whether the connection stays.
    emptied: Arc<tokio::sync::Notify>,
    limits: Limits,
}

impl Entry {
    /// Whether another stream may open now without waiting for one to end.
    fn has_room(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
            && !self.worn()
            && self.active.load(Ordering::Acquire) < self.send.current_max_send_streams()
    }

    /// It carried its `max-reuse` + 1 streams: no new one.
    fn worn(&self) -> bool {
        self.limits
            .max_streams
            .is_some_and(|m| self.opened.load(Ordering::Acquire) >= m)
    }

    /// Without a stream (an idle connection, in HAProxy's words).
    fn idle(&self) -> bool {
        !self.closed.load(Ordering::Acquire) && self.active.load(Ordering::Acquire) == 0
    }

    fn handle(&self) -> H2Conn {
        self.active.fetch_add(1, Ordering::AcqRel);
        self.opened.fetch_add(1, Ordering::AcqRel);
        H2Conn {
            send: self.send.clone(),
            closed: self.closed.clone(),
            active: self.active.clone(),
            emptied: self.emptied.clone(),
        }
    }
}

/// A session's handle on an HTTP/2 server connection, for one request's stream (counted
/// while it lives).
pub struct H2Conn {
    pub send: SendRequest<Bytes>,
    closed: Arc<AtomicBool>,
    active: Arc<AtomicUsize>,
    emptied: Arc<tokio::sync::Notify>,
}

impl Drop for H2Conn {
    fn drop(&mut self) {
        if self.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.emptied.notify_one();
        }
    }
}

impl std::fmt::Debug for H2Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "H2Conn(streams {}, closed {})",
            self.active.load(Ordering::Relaxed),
            self.is_closed()
        )
    }
}

impl H2Conn {
    /// The connection ended (closed by the server, an error, or purged).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// Server ids are the keys: mixed by one multiplication (Fibonacci hashing), not SipHash's
/// rounds (looked up once per request sent to an HTTP/2 server: ~140 instructions).
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; any other input is still mixed in, byte by byte.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type ById<V> = HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;

type Registry = Mutex<ById<Vec<Entry>>>;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Default::default)
}

fn lock() -> std::sync::MutexGuard<'static, ById<Vec<Entry>>> {
    registry().lock().unwrap_or_else(|p| p.into_inner())
}

/// An open connection to server `id` with room for one more stream, if any.
pub fn shared(id: u64) -> Option<H2Conn> {
    let mut reg = lock();
    let list = reg.get_mut(&id)?;
    list.retain(|c| !c.closed.load(Ordering::Acquire));
    let found = list.iter().find(|c| c.has_room()).map(Entry::handle);
    if list.is_empty() {
        reg.remove(&id);
    }
    found
}

/// Per server: whether it ever spoke HTTP/2, and the turn to open a connection to it.
type Turns = Mutex<ById<Arc<tokio::sync::Mutex<()>>>>;

fn turns() -> &'static Turns {
    static T: OnceLock<Turns> = OnceLock::new();
    T.get_or_init(Default::default)
}

/// Whether server `id` has spoken HTTP/2 (ALPN chose `h2` once).
pub fn spoke_h2(id: u64) -> bool {
    turns()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains_key(&id)
}

/// Waits for the turn to open a connection to server `id`: requests that arrive together
/// while none is open wait for the first connection instead of opening one each (then
/// [`shared`] finds it).
pub async fn open_turn(id: u64) -> tokio::sync::OwnedMutexGuard<()> {
    let m = turns()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(id)
        .or_default()
        .clone();
    m.lock_owned().await
}

/// Open HTTP/2 connections to server `id` (stats, tests).
pub fn open_count(id: u64) -> usize {
    lock().get(&id).map_or(0, |l| {
        l.iter()
            .filter(|c| !c.closed.load(Ordering::Acquire))
            .count()
    })
}

/// Whether server `id` keeps more connections without a stream than its `pool-max-conn`
/// (`entry` being one of them): then `entry` is marked closed, under the registry's lock, so
/// that two connections left idle together do not both go.
fn surplus(entry: &Entry, id: u64) -> bool {
    let Some(max) = entry.limits.max_idle else {
        return false;
    };
    let reg = lock();
    let idle = reg
        .get(&id)
        .map_or(0, |l| l.iter().filter(|c| c.idle()).count());
    if idle > max as usize {
        entry.closed.store(true, Ordering::Release);
        return true;
    }
    false
}

/// Starts HTTP/2 (the client preface) on a freshly opened connection to server `id` and
/// offers it to later requests.
pub async fn handshake<T>(io: T, id: u64, limits: Limits) -> io::Result<H2Conn>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = h2::client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .enable_push(false)
        .handshake::<T, Bytes>(io)
        .await
        .map_err(io::Error::other)?;
    let entry = Entry {
        send: send.clone(),
        closed: Arc::new(AtomicBool::new(false)),
        active: Arc::new(AtomicUsize::new(0)),
        opened: Arc::new(AtomicU64::new(0)),
        emptied: Arc::new(tokio::sync::Notify::new()),
        limits,
    };
    let handle = entry.handle();
    lock().entry(id).or_default().push(entry.clone());
    turns()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(id)
        .or_default();
    tokio::spawn(drive(conn, entry, id));
    Ok(handle)
}

/// Runs the connection until the server ends it or the server's pool settings retire it
/// (see the module's comment); then takes it out of the registry.
async fn drive<T>(mut conn: h2::client::Connection<T, Bytes>, entry: Entry, id: u64)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let purge = entry.limits.purge;
    // Zero: never closed for being idle (the tick never comes).
    let tick = (!purge.is_zero()).then(|| (purge / 5).min(Duration::from_secs(1)));
    let mut idle = Duration::ZERO;
    // The tick's timer and the "emptied" waiter are made once and renewed only when they
    // fire: the connection wakes this task for every batch of frames, and a timer (or a
    // waiter) made per wake-up is registered and removed again each time.
    let far = Duration::from_secs(86_400 * 365);
    let mut sleep = std::pin::pin!(tokio::time::sleep(tick.unwrap_or(far)));
    let emptied = entry.emptied.clone();
    let mut notified = std::pin::pin!(emptied.notified());
    loop {
        tokio::select! {
            r = &mut conn => {
                if let Err(e) = r {
                    tracing::debug!("h2 server connection ended: {e}");
                }
                break;
            }
            () = &mut notified => {
                notified.set(emptied.notified());
                if entry.idle() && (entry.worn() || surplus(&entry, id)) {
                    break;
                }
            }
            () = &mut sleep, if tick.is_some() => {
                let t = tick.unwrap_or_default();
                sleep.as_mut().reset(tokio::time::Instant::now() + t);
                idle = if entry.active.load(Ordering::Acquire) == 0 {
                    idle + t
                } else {
                    Duration::ZERO
                };
                if idle >= purge {
                    break;
                }
            }
        }
    }
    entry.closed.store(true, Ordering::Release);
    {
        let mut reg = lock();
        if let Some(list) = reg.get_mut(&id) {
            list.retain(|c| !Arc::ptr_eq(&c.closed, &entry.closed));
            if list.is_empty() {
                reg.remove(&id);
            }
        }
    }
    // Every request handle gone (ours, the registry's): the connection sends GOAWAY and ends.
    drop(entry);
    let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
}
