//! A backend's server farm: its servers, the balancing state, the queue, connecting to a
//! server with `retries` and `option redispatch`, the persistence hooks (stick table, server
//! cookies), and the backend's UP/DOWN history. Protocol-neutral: the farm never imports
//! HTTP; the backend's HTTP policy rides beside it as `policy` (see `backend`).
//!
//! Phases of getting a server for a request: pick (balance over the usable group, skipping
//! servers at `maxconn`) → wait in the backend queue when all are full (bounded by `timeout
//! queue`, then 503) → connect (bounded by `timeout connect`). A refused connection moves at
//! once to another server that can take the request (nothing listens on the refused one);
//! otherwise the same server is retried after HAProxy's turn-around delay, and with `option
//! redispatch` the last retry moves to another server. Only connection failures are retried
//! here: nothing was sent yet (the HTTP session replays an idempotent request whose fresh
//! connection closed without answering through `Farm::connect_avoiding`, in `farm/retry.rs`).
//! A request that persistence (a `cookie`, `stick on src`) sends to a known server skips the
//! pick (`Hints::prefer`); a redispatch still moves it elsewhere.

use crate::balance::{self, Algorithm, PickInput};
use crate::clock::unix_now;
use crate::connect::ServerConn;
use crate::counters::{Counters, Ctr};
use crate::observe::{ServerEvent, SinkSlot};
use crate::persist::stick::StickTable;
use crate::server::{AdminState, ServerRt};
use fulcrum_config::model::{Balance, Mode, ProxyOptions, Timeouts};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

mod admin;
mod group;
mod history;
mod limits;
pub(crate) mod outcome;
mod persistence;
mod queue;
mod retry;

use history::History;
pub use outcome::{ConnectFailure, NoServer, Retries};
pub use retry::{NoConnection, Settled};

/// A server farm; `P` is the protocol policy beside it (the backend's HTTP rules and pages).
pub struct Farm<P> {
    pub name: String,
    pub mode: Mode,
    pub servers: Vec<Arc<ServerRt>>,
    pub balance: Balance,
    /// Lower-cased header name of `balance hdr(NAME)`.
    pub hash_header: Option<Vec<u8>>,
    lb: Mutex<Lb>,
    /// Bumped whenever a server's usability changes, so the balancer rebuilds its group
    /// (shared with the servers, which bump it themselves when changed directly).
    version: Arc<AtomicU64>,
    pub timeouts: Timeouts,
    pub retries: u32,
    pub options: ProxyOptions,
    /// Requests waiting for a server slot, oldest first.
    queue: queue::Queue,
    /// Requests that left the queue with a server so far (HAProxy's `queue.idx`): a request's
    /// queue position (`%bq`) is how many left from its arrival to its own departure.
    dequeued: AtomicU64,
    /// Each server's `cookie VALUE`, index-aligned with `servers`.
    pub server_cookies: Vec<Option<String>>,
    /// `dispatch ADDR:PORT` beside servers (index of its `<NOSRV>` server): balancing picks
    /// it alone; the servers take only what persistence sends them (HAProxy's backend
    /// without a `balance` algorithm).
    dispatch: Option<usize>,
    /// `stick-table type ip` + `stick on src`: client address → server name, shared by all
    /// worker threads.
    stick: Option<Arc<Mutex<StickTable<IpAddr, String>>>>,
    /// Passive health's sink (`observe`).
    sink: Arc<SinkSlot>,
    /// The proxy's number (declaration order, from 1): stats `iid`.
    pub id: u32,
    /// Activity counters (`stot` counts requests assigned here); carried over on reload.
    pub counters: Arc<Counters>,
    /// UP/DOWN history of the backend as a whole (stats `lastchg`, `downtime`, `chkdown`).
    history: Mutex<History>,
    /// What the protocol above does with requests routed here (rules, error pages, ...).
    pub policy: P,
    /// A server has `slowstart`: the balancer also rebuilds when a ramp moves (`farm/limits`).
    slowstart: bool,
    /// A server has `redir PREFIX` (read once per HTTP request: kept as a flag).
    redir: bool,
}

struct Lb {
    version: u64,
    alg: Option<Box<dyn Algorithm>>,
    /// The servers' slow-start scales the algorithm was built with.
    ramp: u64,
}

/// Where a server connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Opened for this request.
    Fresh,
    /// An idle connection reused (`http-reuse`).
    Reused,
}

/// Hash inputs of the request being balanced.
pub struct Hints<'a> {
    pub src: Option<IpAddr>,
    pub uri: &'a [u8],
    pub header: Option<&'a [u8]>,
    /// A server persistence chose (index in `servers`): used without balancing.
    pub prefer: Option<usize>,
    /// `force-persist`: `prefer` is used even when it is DOWN (not in maintenance).
    pub force: bool,
    /// `set-priority-class|offset`: the request's place in the queue (`farm::queue`).
    pub priority: Option<(i32, i32)>,
    /// A server's `sni EXPR` evaluated on the request (None: no request to evaluate it on).
    pub sni: Option<&'a SniEval<'a>>,
    /// An HTTP GET or HEAD request: a server with `redir PREFIX` answers it with a 302
    /// instead of being connected to ([`NoServer::Redirect`]).
    pub redirect: bool,
}

/// Evaluates a server's `sni EXPR` on the request being connected (None: no value).
pub type SniEval<'a> = dyn Fn(&fulcrum_sample::expr::Expr) -> Option<String> + Send + Sync + 'a;

impl Hints<'_> {
    /// The SNI a new connection to `server` sends for this request (its `sni EXPR`'s value).
    pub fn sni_for(&self, server: &ServerRt) -> Option<String> {
        let tls = server.tls()?;
        (self.sni?)(tls.sni.as_deref()?)
    }
}

/// A server assigned to a request: counts in `served` until dropped.
pub struct Assigned<P> {
    backend: Arc<Farm<P>>,
    pub index: usize,
    /// Its position in the backend's queue (`%bq`): 0 when it did not wait.
    pub queue_pos: u32,
    /// The connection retries it took to reach this server (`%rc`).
    pub retries: Retries,
    /// The task noted as serving the server (`on-marked-down shutdown-sessions`).
    session: Option<tokio::task::Id>,
}

impl<P> Assigned<P> {
    pub fn server(&self) -> &Arc<ServerRt> {
        &self.backend.servers[self.index]
    }
}

/// One request waiting in a backend's queue (`qcur`), until dropped (a slot, a timeout, or
/// the request dropped while queued).
struct Waiting<'a, P>(&'a Farm<P>, queue::Key);

impl<P> Drop for Waiting<'_, P> {
    fn drop(&mut self) {
        self.0.queue.leave(self.1);
    }
}

impl<P> Drop for Assigned<P> {
    fn drop(&mut self) {
        let s = &self.backend.servers[self.index];
        s.release();
        if let Some(id) = self.session {
            s.limits.session_end(id);
        }
        if s.limits.maxqueue().is_some() {
            s.limits.freed.notify_one();
        }
        self.backend.counters.end();
        self.backend.queue.wake();
    }
}

pub struct FarmParts {
    pub name: String,
    pub mode: Mode,
    pub servers: Vec<Arc<ServerRt>>,
    pub balance: Balance,
    pub timeouts: Timeouts,
    pub retries: u32,
    pub options: ProxyOptions,
    pub server_cookies: Vec<Option<String>>,
    pub stick: Option<StickTable<IpAddr, String>>,
    pub sink: Arc<SinkSlot>,
    pub id: u32,
    pub counters: Arc<Counters>,
}

impl<P> Farm<P> {
    pub fn new(p: FarmParts, policy: P) -> Self {
        let hash_header = match &p.balance {
            Balance::Hdr { name, .. } => Some(name.to_ascii_lowercase().into_bytes()),
            _ => None,
        };
        let version = Arc::new(AtomicU64::new(0));
        let dispatch = p
            .servers
            .iter()
            .position(|s| s.name == fulcrum_config::model_keywords::DISPATCH_SERVER)
            .filter(|_| p.servers.len() > 1);
        for s in &p.servers {
            s.set_owner(version.clone());
        }
        let slowstart = p.servers.iter().any(|s| s.limits.has_slowstart());
        let redir = p.servers.iter().any(|s| s.limits.redir().is_some());
        Farm {
            name: p.name,
            mode: p.mode,
            servers: p.servers,
            balance: p.balance,
            hash_header,
            lb: Mutex::new(Lb {
                version: u64::MAX,
                alg: None,
                ramp: 0,
            }),
            version,
            timeouts: p.timeouts,
            // `retry-on none`: a failed connection is neither retried nor redispatched
            retries: if p.options.retry_on_none {
                0
            } else {
                p.retries
            },
            options: p.options,
            dequeued: AtomicU64::new(0),
            queue: queue::Queue::default(),
            server_cookies: p.server_cookies,
            dispatch,
            stick: p.stick.map(|t| Arc::new(Mutex::new(t))),
            sink: p.sink,
            id: p.id,
            counters: p.counters,
            policy,
            history: Mutex::new(History::new(unix_now())),
            slowstart,
            redir,
        }
        .with_history()
    }

    fn with_history(self) -> Self {
        self.note_state();
        self
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        match self.history.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Whether server `index` may take a request persistence sends it (`use-server`): not in
    /// maintenance, and UP unless `force` (`option persist`, `force-persist`).
    pub fn server_usable(&self, index: usize, force: bool) -> bool {
        self.servers
            .get(index)
            .is_some_and(|s| s.admin() != AdminState::Maint && (force || s.is_up()))
    }

    /// Whether the backend as a whole is UP (stats `status`).
    pub fn is_up(&self) -> bool {
        self.note_state();
        self.history().up()
    }

    /// Records a change between "some server usable" and "none" (called after every server
    /// state change made through the backend, and when stats are read).
    pub fn note_state(&self) {
        // HAProxy: UP while the usable servers' total weight is above 0, or without servers.
        let up = self.servers.is_empty() || self.servers.iter().any(|s| s.balanceable());
        self.history().note(up, unix_now());
    }

    /// Seconds since the backend last went UP or DOWN.
    pub fn last_change_secs(&self) -> u64 {
        self.note_state();
        self.history().last_change_secs(unix_now())
    }

    /// Seconds without any usable server.
    pub fn downtime_secs(&self) -> u64 {
        self.note_state();
        self.history().downtime_secs(unix_now())
    }

    /// Times the backend lost its last usable server.
    pub fn down_transitions(&self) -> u64 {
        self.note_state();
        self.history().downs()
    }

    /// Requests waiting in the backend queue (`qcur`).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Passive health: reports what was seen on `server` when it has `observe` (cheap check
    /// first) and a sink is set.
    pub fn observe(&self, server: &ServerRt, event: ServerEvent) {
        if !server.observed() {
            return;
        }
        if let Some(sink) = self.sink.get() {
            sink.observe(&self.name, &server.name, event);
        }
    }

    fn try_pick(&self, hints: &Hints<'_>, avoid: Option<usize>) -> Result<Option<usize>, NoServer> {
        let mut lb = match self.lb.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let v = self.version.load(Ordering::Acquire);
        let ramp = self.ramp_signature();
        if lb.version != v || lb.alg.is_none() || lb.ramp != ramp {
            lb.ramp = ramp;
            let g = self.group();
            lb.alg = if g.is_empty() {
                None
            } else {
                Some(balance::build(&self.balance, &g))
            };
            lb.version = v;
        }
        let Some(alg) = lb.alg.as_mut() else {
            return Err(NoServer::Unavailable);
        };
        let servers = &self.servers;
        let room = |i: usize| servers[i].has_room();
        let served = |i: usize| servers[i].served();
        let changed = |i: usize| servers[i].changed_at();
        let input = PickInput {
            src: hints.src,
            uri: hints.uri,
            header: hints.header,
            avoid,
            has_room: &room,
            served: &served,
            changed_at: &changed,
        };
        let picked = alg.pick(&input);
        if let Some(i) = picked {
            servers[i].take();
        }
        Ok(picked)
    }

    /// A server taken for a request: counted in the backend's current sessions until dropped,
    /// and in its total unless it is the same request moving on (redispatch).
    fn assigned(self: &Arc<Self>, index: usize, new_session: bool) -> Assigned<P> {
        if new_session {
            self.counters.start();
        } else {
            self.counters.begin();
        }
        Assigned {
            backend: self.clone(),
            index,
            queue_pos: 0,
            retries: Retries::default(),
            session: self.servers[index].limits.session_start(),
        }
    }

    /// Picks a server, waiting in the queue while every usable server is at `maxconn`.
    pub async fn assign(
        self: &Arc<Self>,
        hints: &Hints<'_>,
        avoid: Option<usize>,
    ) -> Result<Assigned<P>, NoServer> {
        self.assign_for(hints, avoid, true).await
    }

    async fn assign_for(
        self: &Arc<Self>,
        hints: &Hints<'_>,
        avoid: Option<usize>,
        new_session: bool,
    ) -> Result<Assigned<P>, NoServer> {
        // MAINT takes nothing; a DOWN server only with `option persist`.
        let persistable = |i: &usize| {
            self.servers.get(*i).is_some_and(|s| {
                s.admin() != AdminState::Maint && (s.is_up() || self.options.persist || hints.force)
            })
        };
        if let Some(index) = hints.prefer.filter(|i| persistable(i) && avoid != Some(*i)) {
            // Persistence: HAProxy queues on the server itself when it is full. fulcrum does
            // so for a server with `maxqueue` (`farm/limits`); without one it sends the
            // request anyway (the server's maxconn is not enforced for persistent requests).
            match self.wait_for_server(index, hints.force).await {
                limits::Wait::Taken => return Ok(self.assigned(index, new_session)),
                limits::Wait::Full => {}
                limits::Wait::Failed(e) => return Err(e),
            }
        }
        // A new request takes a free slot only when nobody waits (HAProxy: the queue is
        // served first, oldest first).
        if self.queue.len() == 0 {
            if let Some(index) = self.try_pick(hints, avoid)? {
                return Ok(self.assigned(index, new_session));
            }
        }
        // HAProxy: `timeout queue` when set, else `timeout connect`.
        let limit = self.timeouts.queue.or(self.timeouts.connect);
        let deadline = limit.map(|d| tokio::time::Instant::now() + d);
        let arrived = self.dequeued.load(Ordering::Acquire);
        let (key, me, queued) = self.queue.enter(hints.priority);
        self.counters.queued(queued as u64);
        // Leaves the queue however the wait ends, also when the request is dropped while
        // queued (`option abortonclose`), waking the next one.
        let _waiting = Waiting(self, key);
        loop {
            if self.queue.may_take(key) {
                match self.try_pick(hints, avoid) {
                    Ok(Some(index)) => {
                        let left = self.dequeued.fetch_add(1, Ordering::AcqRel) + 1;
                        let mut a = self.assigned(index, new_session);
                        a.queue_pos = u32::try_from(left - arrived).unwrap_or(u32::MAX);
                        return Ok(a);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(e),
                }
            }
            match deadline {
                Some(d) => {
                    if tokio::time::timeout_at(d, me.wake.notified())
                        .await
                        .is_err()
                    {
                        return Err(NoServer::QueueTimeout);
                    }
                }
                None => me.wake.notified().await,
            }
        }
    }

    /// One connection attempt to `server` within `timeout connect`, reported to passive health
    /// and counted (`connect`, or `econ`: every failed attempt, as HAProxy counts them).
    pub async fn attempt(
        &self,
        server: &ServerRt,
        dst: SocketAddr,
        sni: Option<&str>,
    ) -> Result<ServerConn, ConnectFailure> {
        let open = async {
            let c = match server.socks4 {
                // A `mode tcp` session's opening writes its first bytes without waiting
                // for the runtime's report of the connection (`connect::tcp_with`).
                None => {
                    let eager = self.mode == Mode::Tcp && server.tls().is_none();
                    crate::connect::open(&server.target, server.source, dst, eager).await?
                }
                Some(proxy) => {
                    crate::connect::open_via_socks4(&server.target, server.source, proxy, dst)
                        .await?
                }
            };
            let c = match server.tls() {
                // `server ... ssl`: the handshake counts within `timeout connect`.
                Some(tls) => {
                    let counters = [&*server.counters, &*self.counters];
                    // Boxed, as HTTP/2's handshake (`connect::h2_start`): a request's future
                    // carries no room for a TLS handshake (a plain connection allocates
                    // nothing more for it).
                    Box::pin(crate::tls::connector::wrap(c, &tls, counters, sni)).await?
                }
                None => c,
            };
            crate::connect::h2_start(c, server.h2_mode(), server.id, server.h2_pool()).await
        };
        let r = match self.timeouts.connect {
            // Its timer armed at the worker's next tick (`lazy_timer`): most connections are
            // made before.
            Some(t) => {
                let open = std::pin::pin!(open);
                let at = tokio::time::Instant::now() + t;
                crate::lazy_timer::timeout_at(at, open)
                    .await
                    .map_err(|()| true)
            }
            None => Ok(open.await),
        };
        match r {
            Ok(Ok(s)) => {
                self.observe(server, ServerEvent::ConnectOk);
                server.counters.inc(Ctr::Connect);
                self.counters.inc(Ctr::Connect);
                Ok(s)
            }
            Ok(Err(_)) | Err(_) => {
                let timed_out = r.is_err();
                self.observe(server, ServerEvent::ConnectFailed { timeout: timed_out });
                server.counters.inc(Ctr::ErrConn);
                self.counters.inc(Ctr::ErrConn);
                Err(if timed_out {
                    ConnectFailure::TimedOut
                } else {
                    ConnectFailure::Refused
                })
            }
        }
    }
}
