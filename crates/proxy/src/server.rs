//! Run-time state of one `server` line: where it is, whether it is usable, how busy it is.
//!
//! Health checks flip `up`; the operator (stats page, runtime socket) sets the administrative
//! state (READY, DRAIN, MAINT) and the runtime weight. Every such change bumps the state
//! version of the backend the server belongs to (installed by the backend), so its balancer
//! rebuilds the group at the next request whoever made the change. Counters are atomics because every worker thread serves
//! the same backends. This module holds state only: no I/O.
//!
//! # Admin API (stats page, runtime socket `set server B/S state|weight`, `disable server`)
//!
//! - [`ServerRt::set_admin`]`(AdminState::Ready | Drain | Maint)`: DRAIN takes no new session
//!   from balancing but keeps clients bound to it by a `cookie` or a stick table; MAINT takes
//!   nothing (persistence to it is ignored, clients are balanced elsewhere).
//! - [`ServerRt::set_weight`]`(0..=256)`: the runtime weight (HAProxy's `uweight`); 0 acts like
//!   DRAIN for balancing; read it with [`ServerRt::uweight`] (the field `weight` is the
//!   configured one).
//! - [`ServerRt::effective_weight`]: what balancing uses (0 when DOWN, DRAIN or MAINT).
//! - Prefer [`crate::backend::Backend::set_server_admin`] / `set_server_weight` when you hold the
//!   backend: they also wake requests waiting in the backend's queue.

use crate::counters::Counters;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Duration;

mod h2_pool;
mod health_state;
pub mod limits;
mod target;
pub use h2_pool::H2Pool;
pub use target::Target;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Orders load changes across all servers (leastconn's tie-break: longest unchanged first).
static CHANGE_SEQ: AtomicU64 = AtomicU64::new(1);

/// HAProxy's administrative state of a server, set by the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminState {
    /// Normal operation.
    #[default]
    Ready,
    /// No new sessions from balancing; clients persisting to it (cookie, stick table) stay.
    Drain,
    /// No traffic at all.
    Maint,
}

impl AdminState {
    /// The word HAProxy uses (`set server ... state ready|drain|maint`, stats page actions).
    pub fn as_str(self) -> &'static str {
        match self {
            AdminState::Ready => "ready",
            AdminState::Drain => "drain",
            AdminState::Maint => "maint",
        }
    }
    pub fn parse(s: &str) -> Option<AdminState> {
        match s.to_ascii_lowercase().as_str() {
            "ready" => Some(AdminState::Ready),
            "drain" => Some(AdminState::Drain),
            "maint" => Some(AdminState::Maint),
            _ => None,
        }
    }
    fn from_u8(v: u8) -> AdminState {
        match v {
            1 => AdminState::Drain,
            2 => AdminState::Maint,
            _ => AdminState::Ready,
        }
    }
}

/// The last health check result shown on the stats page (`check_status` and friends).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckInfo {
    /// HAProxy's short status: `L4OK`, `L7OK`, `L4CON`, `L7STS`, ... (static words: a check
    /// result is recorded without allocating)
    pub status: &'static str,
    /// HTTP status of the check, when there was one.
    pub code: Option<u16>,
    pub duration: Option<Duration>,
    /// The status in words (HAProxy's `check_desc`), e.g. "Layer4 connection problem".
    pub desc: &'static str,
    /// What the check saw (HAProxy's `last_chk`), e.g. "Connection refused".
    pub info: String,
}

/// The maximum weight HAProxy accepts.
pub const MAX_WEIGHT: u32 = 256;

#[derive(Debug)]
pub struct ServerRt {
    /// Unique in the process: keys the per-thread connection pools across reloads.
    pub id: u64,
    pub name: String,
    pub target: Target,
    /// `source`: the local address connections (and health checks) leave from.
    pub source: Option<SocketAddr>,
    /// `socks4 ADDR:PORT`: connections go through this SOCKS4 proxy (`socks4.rs`).
    pub socks4: Option<SocketAddr>,
    /// `send-proxy` (1) / `send-proxy-v2` (2): the PROXY header version each new connection
    /// starts with; 0: none.
    pub send_proxy: u8,
    pub weight: u32,
    pub maxconn: Option<u32>,
    pub backup: bool,
    /// Usable for balancing: not `disabled`, and (later) passing its health checks.
    up: AtomicBool,
    /// Requests/connections currently assigned (HAProxy's `served`).
    served: AtomicU32,
    /// Total connections assigned since start (logs, tests).
    total: AtomicU64,
    /// When `served` last changed (from `CHANGE_SEQ`).
    changed: AtomicU64,
    /// The server line has `observe`: the data plane reports what it sees (passive health).
    observed: AtomicBool,
    /// [`AdminState`] as a number.
    admin: AtomicU8,
    /// `maxconn:N` from the server's agent (0: none; the configured `maxconn` applies).
    agent_maxconn: AtomicU32,
    /// The last agent check result (`agent-check`): stats' agent columns.
    agent: Mutex<Option<CheckInfo>>,
    /// NOLB (`http-check disable-on-404` saw a 404): UP, but balancing no longer picks it;
    /// clients bound to it by a cookie or a stick table still reach it.
    stopping: AtomicBool,
    /// `pool-max-conn` (`u32::MAX`: unlimited, HAProxy's -1 default; 0: no idle connections).
    pool_max: AtomicU32,
    /// `pool-low-conn`: idle connections kept per thread beyond the estimated need.
    pool_low: AtomicU32,
    /// Idle connections to this server in every thread's pool (HAProxy's `curr_idle_conns`).
    pub(crate) idle: AtomicU32,
    /// Runtime weight (HAProxy's `uweight`), starts at `weight`.
    uweight: AtomicU32,
    /// The server line has `check` (the stats page says "no check" otherwise).
    checked: AtomicBool,
    /// `rise` and `fall` of the server line (stats page).
    rise_fall: AtomicU64,
    /// Unix time of the last UP/DOWN/MAINT change (`lastchg`).
    last_change: AtomicU64,
    /// Unix time the server stopped (DOWN or MAINT), 0 while running.
    down_since: AtomicU64,
    /// Seconds spent stopped before `down_since` (`downtime`).
    downtime: AtomicU64,
    /// UP → DOWN transitions (`chkdown`).
    chkdown: AtomicU64,
    /// Checks failed while the server was UP (`chkfail`).
    chkfail: AtomicU64,
    /// Last health check result (written on every state change the checks report).
    check: Mutex<CheckInfo>,
    /// Activity counters; carried over with the server across reloads.
    pub counters: std::sync::Arc<Counters>,
    /// The state version of the backend this server is in (bumped on every change).
    owner: Mutex<Option<std::sync::Arc<AtomicU64>>>,
    /// `ssl`: how connections to it are wrapped in TLS (replaced at every reload, so new
    /// CA files and certificates apply to new connections of a kept server).
    tls: std::sync::RwLock<Option<std::sync::Arc<ServerTls>>>,
    /// [`H2Mode`] as a number (set at every reload, as `tls`).
    h2: AtomicU8,
    /// How its HTTP/2 connections are reused and kept (set at every reload, as `tls`).
    h2_pool: Mutex<H2Pool>,
    /// `slowstart`, `maxqueue`, `redir`, `on-marked-down|up` (set at every reload).
    pub limits: limits::Limits,
}

/// When requests go to a server in HTTP/2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H2Mode {
    /// HTTP/1.1 (and every `mode tcp` server).
    Never = 0,
    /// `proto h2`: always (h2c with prior knowledge, or over TLS).
    Always = 1,
    /// `ssl alpn ...h2...`: when the TLS handshake chooses `h2`.
    Alpn = 2,
}

/// `server ... ssl`: the rustls client settings for one server (built by `tls::connector`).
pub struct ServerTls {
    pub config: std::sync::Arc<rustls::ClientConfig>,
    /// The name sent as SNI (when `sni` is set) and checked in the certificate.
    pub name: rustls::pki_types::ServerName<'static>,
    /// `sni EXPR` other than a constant: the SNI of each new connection, evaluated on the
    /// request that opens it.
    pub sni: Option<std::sync::Arc<fulcrum_sample::expr::Expr>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerTls({:?})", self.name)
    }
}

impl ServerRt {
    /// The server's address when it is written as a fixed IP:port (logs' `%si`/`%sp`).
    pub fn fixed_addr(&self) -> Option<SocketAddr> {
        match self.target {
            Target::Fixed(a) if !a.ip().is_unspecified() => Some(a),
            _ => None,
        }
    }

    pub fn new(
        name: String,
        target: Target,
        weight: u32,
        maxconn: Option<u32>,
        backup: bool,
        up: bool,
    ) -> Self {
        ServerRt {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name,
            target,
            source: None,
            socks4: None,
            send_proxy: 0,
            weight,
            maxconn: maxconn.filter(|m| *m > 0),
            backup,
            up: AtomicBool::new(up),
            served: AtomicU32::new(0),
            total: AtomicU64::new(0),
            changed: AtomicU64::new(CHANGE_SEQ.fetch_add(1, Ordering::Relaxed)),
            observed: AtomicBool::new(false),
            admin: AtomicU8::new(AdminState::Ready as u8),
            stopping: AtomicBool::new(false),
            pool_max: AtomicU32::new(u32::MAX),
            pool_low: AtomicU32::new(0),
            idle: AtomicU32::new(0),
            agent_maxconn: AtomicU32::new(0),
            agent: Mutex::new(None),
            uweight: AtomicU32::new(weight),
            checked: AtomicBool::new(false),
            rise_fall: AtomicU64::new(0),
            last_change: AtomicU64::new(crate::clock::unix_now()),
            down_since: AtomicU64::new(if up { 0 } else { crate::clock::unix_now() }),
            downtime: AtomicU64::new(0),
            chkdown: AtomicU64::new(0),
            h2: AtomicU8::new(H2Mode::Never as u8),
            h2_pool: Mutex::new(H2Pool::default()),
            chkfail: AtomicU64::new(0),
            check: Mutex::new(CheckInfo::default()),
            counters: std::sync::Arc::new(Counters::new()),
            owner: Mutex::new(None),
            tls: std::sync::RwLock::new(None),
            limits: limits::Limits::default(),
        }
    }

    /// `pool-max-conn` (`None`: unlimited) and `pool-low-conn` (applied by `pool::offer`).
    pub fn set_pool_limits(&self, max: Option<u32>, low: u32) {
        self.pool_max
            .store(max.unwrap_or(u32::MAX), Ordering::Relaxed);
        self.pool_low.store(low, Ordering::Relaxed);
    }

    /// `pool-max-conn` (`u32::MAX`: unlimited) and `pool-low-conn`.
    pub fn pool_limits(&self) -> (u32, u32) {
        (
            self.pool_max.load(Ordering::Relaxed),
            self.pool_low.load(Ordering::Relaxed),
        )
    }

    /// Sets the `source` address (before the server is shared).
    /// The TLS settings of connections to this server (`None`: plain).
    pub fn tls(&self) -> Option<std::sync::Arc<ServerTls>> {
        match self.tls.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn h2_mode(&self) -> H2Mode {
        match self.h2.load(Ordering::Relaxed) {
            1 => H2Mode::Always,
            2 => H2Mode::Alpn,
            _ => H2Mode::Never,
        }
    }

    pub fn set_h2_mode(&self, m: H2Mode) {
        self.h2.store(m as u8, Ordering::Relaxed);
    }

    /// How new HTTP/2 connections to this server are reused and kept.
    pub fn h2_pool(&self) -> H2Pool {
        *self.h2_pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_h2_pool(&self, p: H2Pool) {
        *self.h2_pool.lock().unwrap_or_else(|p| p.into_inner()) = p;
    }

    pub fn set_tls(&self, tls: Option<std::sync::Arc<ServerTls>>) {
        match self.tls.write() {
            Ok(mut g) => *g = tls,
            Err(p) => *p.into_inner() = tls,
        }
    }

    pub fn with_source(mut self, source: Option<SocketAddr>) -> Self {
        self.source = source;
        self
    }

    /// Connections go through the SOCKS4 proxy `socks4` (None: directly).
    pub fn with_socks4(mut self, socks4: Option<SocketAddr>) -> Self {
        self.socks4 = socks4;
        self
    }

    /// Sets the PROXY protocol version sent first on each connection (0: none).
    pub fn with_send_proxy(mut self, version: u8) -> Self {
        self.send_proxy = version;
        self
    }

    /// Called by the backend that holds this server (again after a reload): changes to this
    /// server bump `version`.
    pub fn set_owner(&self, version: std::sync::Arc<AtomicU64>) {
        match self.owner.lock() {
            Ok(mut g) => *g = Some(version),
            Err(p) => *p.into_inner() = Some(version),
        }
    }

    fn bump_owner(&self) {
        let g = match self.owner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(v) = g.as_ref() {
            v.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The administrative state (READY, DRAIN, MAINT).
    pub fn admin(&self) -> AdminState {
        AdminState::from_u8(self.admin.load(Ordering::Acquire))
    }

    /// Sets the administrative state; returns true when it changed. Balancing sees it at the
    /// next pick; requests already sent finish normally.
    /// Leaving MAINT on a server without health checks brings it UP, as HAProxy does (nothing
    /// else would); a checked server stays DOWN until its checks pass.
    pub fn set_admin(&self, state: AdminState) -> bool {
        let was_stopped = self.stopped();
        let changed = self.admin.swap(state as u8, Ordering::AcqRel) != state as u8;
        if changed {
            // a tracking server keeps the state its tracked server gave it
            if state != AdminState::Maint && !self.checked() && !self.limits.tracks() {
                self.up.store(true, Ordering::Release);
            }
            self.note_change(was_stopped);
        }
        changed
    }

    /// The runtime weight (HAProxy's `uweight`).
    pub fn uweight(&self) -> u32 {
        self.uweight.load(Ordering::Acquire)
    }

    /// Sets the runtime weight; more than [`MAX_WEIGHT`] is refused with HAProxy's words.
    /// Returns whether it changed.
    pub fn set_weight(&self, weight: u32) -> Result<bool, String> {
        if weight > MAX_WEIGHT {
            return Err(format!(
                "weight {weight} is out of range: it must be between 0 and {MAX_WEIGHT}"
            ));
        }
        let changed = self.uweight.swap(weight, Ordering::AcqRel) != weight;
        if changed {
            self.bump_owner();
        }
        Ok(changed)
    }

    /// The weight balancing uses: the runtime weight when UP and READY, else 0.
    pub fn effective_weight(&self) -> u32 {
        if self.is_up() && self.admin() == AdminState::Ready && !self.is_stopping() {
            self.uweight()
        } else {
            0
        }
    }

    /// Whether balancing may choose this server (UP, READY, weight above 0).
    pub fn balanceable(&self) -> bool {
        self.effective_weight() > 0
    }

    /// Whether a client persisting to this server (cookie, stick table) may still be sent to
    /// it: UP and not in MAINT (DRAIN keeps them).
    pub fn persistable(&self) -> bool {
        self.is_up() && self.admin() != AdminState::Maint
    }

    /// DOWN or in MAINT: HAProxy's "stopped" for `downtime` and `lastchg`.
    pub fn stopped(&self) -> bool {
        !self.is_up() || self.admin() == AdminState::Maint
    }

    fn note_change(&self, was_stopped: bool) {
        self.bump_owner();
        let now = crate::clock::unix_now();
        self.last_change.store(now, Ordering::Relaxed);
        let stopped = self.stopped();
        if stopped != was_stopped {
            self.limits.note_running(!stopped);
        }
        if stopped && !was_stopped {
            self.down_since.store(now, Ordering::Relaxed);
        } else if !stopped && was_stopped {
            let since = self.down_since.swap(0, Ordering::Relaxed);
            if since > 0 {
                self.downtime
                    .fetch_add(now.saturating_sub(since), Ordering::Relaxed);
            }
        }
    }

    pub fn take(&self) {
        let now = self.served.fetch_add(1, Ordering::AcqRel) + 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        // `served` is the server's `scur`: the counters only record the session and `smax`.
        self.counters.start_counted(u64::from(now));
        self.changed.store(
            CHANGE_SEQ.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
    }
    pub fn release(&self) {
        self.served.fetch_sub(1, Ordering::AcqRel);
        self.changed.store(
            CHANGE_SEQ.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
    }
    /// Same server line across a reload: same name, address and role keep the id and pools.
    pub fn same_definition(&self, other: &ServerRt) -> bool {
        self.name == other.name
            && self.target == other.target
            && self.source == other.source
            && self.send_proxy == other.send_proxy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv() -> ServerRt {
        ServerRt::new(
            "s".into(),
            Target::Fixed("127.0.0.1:1".parse().expect("addr")),
            3,
            None,
            false,
            true,
        )
    }

    #[test]
    fn admin_states_and_weights_decide_balancing_and_persistence() {
        let s = srv();
        assert_eq!(
            (s.admin(), s.uweight(), s.effective_weight()),
            (AdminState::Ready, 3, 3)
        );
        let v = std::sync::Arc::new(AtomicU64::new(0));
        s.set_owner(v.clone());
        assert!(s.set_admin(AdminState::Drain));
        assert_eq!(v.load(Ordering::Relaxed), 1);
        assert!(!s.set_admin(AdminState::Drain));
        assert!(!s.balanceable() && s.persistable() && !s.stopped());
        assert!(s.set_admin(AdminState::Maint));
        assert!(!s.balanceable() && !s.persistable() && s.stopped());
        s.set_admin(AdminState::Ready);
        assert_eq!(s.set_weight(0), Ok(true));
        assert!(!s.balanceable() && s.persistable());
        assert!(s.set_weight(257).is_err());
        assert_eq!(s.set_weight(7), Ok(true));
        assert_eq!((s.uweight(), s.weight, s.effective_weight()), (7, 3, 7));
        s.set_up(false);
        assert_eq!((s.effective_weight(), s.down_transitions()), (0, 1));
        assert!(!s.persistable());
        assert_eq!(AdminState::parse("DRAIN"), Some(AdminState::Drain));
        assert_eq!(AdminState::parse("x"), None);
    }
}
