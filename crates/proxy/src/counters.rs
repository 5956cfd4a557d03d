//! Activity counters of a frontend, backend or server, kept off the data plane's hot path.
//!
//! Every counter lives in one shard per thread (cache-line aligned atomics): the first threads
//! that count (the proxy's workers) each own a shard and add to it with a plain load and store
//! (a single writer needs no locked instruction), so counting costs a few cycles and no cache
//! line bounces between cores; any further thread adds with `fetch_add` to one shared shard.
//! Readers (the stats page, CSV, the runtime socket) sum the shards. Gauges that must be exact across threads (current sessions, their maximum) are
//! single atomics. Session and request rates are HAProxy's "events over the last second",
//! estimated from the current and the previous second as HAProxy's `read_freq_ctr` does.
//! This module owns counting only: what an event means is decided by the callers.
//! Files: `counters/shard.rs` (per-thread shards, the coarse clock), `counters/rate.rs`
//! (HAProxy's rate estimate).

mod rate;
mod shard;
#[cfg(test)]
mod tests;

use shard::{bump, now_ms, owned_shards, slot, Padded, Shard};
use std::sync::atomic::{AtomicU64, Ordering};

/// Connections open through this process (log field `ac`), counted by the listeners.
pub static ACTIVE: AtomicU64 = AtomicU64::new(0);

/// Connections open through this process now.
pub fn active_connections() -> u64 {
    ACTIVE.load(Ordering::Relaxed)
}

/// One cumulative counter. The names are HAProxy's CSV columns where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Ctr {
    /// `stot`: sessions (frontend: connections accepted; backend/server: streams assigned).
    Sessions,
    /// `bin`: bytes received from clients.
    BytesIn,
    /// `bout`: bytes sent to clients.
    BytesOut,
    /// `dreq`: requests denied by rules.
    DeniedReq,
    /// `dresp`: responses denied by rules.
    DeniedResp,
    /// `ereq`: request errors (bad requests, client timeouts before a request).
    ErrReq,
    /// `econ`: failed connections to a server.
    ErrConn,
    /// `eresp`: response errors (invalid, closed, timed out responses).
    ErrResp,
    /// `wretr`: connection retries.
    Retries,
    /// `wredis`: redispatches to another server.
    Redispatches,
    /// `hrsp_1xx` .. `hrsp_5xx`, `hrsp_other`.
    Http1xx,
    Http2xx,
    Http3xx,
    Http4xx,
    Http5xx,
    HttpOther,
    /// `req_tot`: HTTP requests.
    Requests,
    /// `cli_abrt`, `srv_abrt`: transfers aborted by the client / the server.
    CliAbort,
    SrvAbort,
    /// `intercepted`: requests answered by the proxy itself (stats page, `http-request return`).
    Intercepted,
    /// `connect`, `reuse`: new server connections, and requests sent on an idle one.
    Connect,
    Reuse,
    /// `comp_in`, `comp_out`, `comp_byp`, `comp_rsp`: bytes fed to the compressor, bytes it
    /// sent, bytes passed through uncompressed (`identity`), compressed responses.
    CompIn,
    CompOut,
    CompByp,
    CompRsp,
    /// `cache_lookups`, `cache_hits`: `http-request cache-use` lookups and hits, counted on
    /// the proxy whose rule ran.
    CacheLookups,
    CacheHits,
    /// `ssl_sess`, `ssl_reused_sess`, `ssl_failed_handshake`: full TLS handshakes, resumed
    /// ones, and failed ones (frontends: with clients; backends and servers: with servers).
    SslSess,
    SslReused,
    SslFailed,
    /// Sums for the average times (`qtime ctime rtime ttime`, in ms) and how many were summed.
    QtimeSum,
    CtimeSum,
    RtimeSum,
    TtimeSum,
    Timed,
}

const N: usize = Ctr::Timed as usize + 1;

impl Ctr {
    /// The `hrsp_*` counter for a status code.
    pub fn for_status(status: u16) -> Ctr {
        match status {
            100..=199 => Ctr::Http1xx,
            200..=299 => Ctr::Http2xx,
            300..=399 => Ctr::Http3xx,
            400..=499 => Ctr::Http4xx,
            500..=599 => Ctr::Http5xx,
            _ => Ctr::HttpOther,
        }
    }
}

/// The counters of one frontend, backend or server.
pub struct Counters {
    shards: Box<[Shard]>,
    /// `scur`: sessions in progress.
    cur: Padded,
    /// `smax`: the highest `scur` seen.
    max: AtomicU64,
    rate_max: AtomicU64,
    req_rate_max: AtomicU64,
    /// `qmax`: the longest queue seen.
    qmax: AtomicU64,
    /// `qtime_max ctime_max rtime_max ttime_max` (ms).
    tmax: [AtomicU64; 4],
    /// When the last session started (ms since the process epoch + 1; 0: never).
    last_sess: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters::new()
    }
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counters")
            .field("sessions", &self.get(Ctr::Sessions))
            .field("cur", &self.current())
            .finish()
    }
}

impl Counters {
    pub fn new() -> Self {
        Counters {
            shards: (0..=owned_shards()).map(|_| Shard::default()).collect(),
            cur: Padded::default(),
            max: AtomicU64::new(0),
            rate_max: AtomicU64::new(0),
            req_rate_max: AtomicU64::new(0),
            qmax: AtomicU64::new(0),
            tmax: std::array::from_fn(|_| AtomicU64::new(0)),
            last_sess: AtomicU64::new(0),
        }
    }

    #[inline]
    fn shard(&self) -> (&Shard, bool) {
        let (i, owned) = slot();
        (&self.shards[i], owned)
    }

    #[inline]
    pub fn add(&self, c: Ctr, n: u64) {
        let (s, owned) = self.shard();
        bump(&s.c[c as usize], n, owned);
    }

    #[inline]
    pub fn inc(&self, c: Ctr) {
        self.add(c, 1)
    }

    /// The total of a counter over every thread.
    pub fn get(&self, c: Ctr) -> u64 {
        self.shards
            .iter()
            .map(|s| s.c[c as usize].load(Ordering::Relaxed))
            .sum()
    }

    /// A session starts: `stot`, `scur`/`smax` and the session rate. Pair with [`Self::end`]
    /// (or hold a [`SessionGuard`]).
    pub fn start(&self) {
        self.inc(Ctr::Sessions);
        self.begin();
        let now = self.tick(rate::Rate::Sessions);
        self.stamp(now);
    }

    /// `lastsess`: seconds since the last session started, `None` before the first.
    pub fn last_session_secs(&self) -> Option<u64> {
        match self.last_sess.load(Ordering::Relaxed) {
            0 => None,
            t => Some(now_ms().saturating_sub(t - 1) / 1000),
        }
    }

    /// A session starts on an object that keeps its own current count (a server's `served`):
    /// `stot`, `smax` from `current`, the rate; `scur` here is not touched.
    pub fn start_counted(&self, current: u64) {
        self.inc(Ctr::Sessions);
        if current > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(current, Ordering::Relaxed);
        }
        self.stamp(self.tick(rate::Rate::Sessions));
    }

    fn stamp(&self, now: u64) {
        // Written once per second at most: readers only need seconds.
        let last = self.last_sess.load(Ordering::Relaxed);
        if last == 0 || (last - 1) / 1000 != now / 1000 {
            self.last_sess.store(now + 1, Ordering::Relaxed);
        }
    }

    /// `scur` up (and `smax`), without counting a new session (a connection carried over).
    pub fn begin(&self) {
        let cur = self.cur.0.fetch_add(1, Ordering::Relaxed) + 1;
        if cur > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(cur, Ordering::Relaxed);
        }
    }

    /// `scur` down; always paired with [`Self::start`]/[`Self::begin`] (guards, `Assigned`).
    pub fn end(&self) {
        self.cur.0.fetch_sub(1, Ordering::Relaxed);
    }

    /// An HTTP request: `req_tot` and the request rate (one look-up of the thread's shard).
    #[inline]
    pub fn request(&self) {
        let (s, owned) = self.shard();
        bump(&s.c[Ctr::Requests as usize], 1, owned);
        let _ = self.tick_in(s, owned, rate::Rate::Requests);
    }

    /// Records a queue length (`qmax`).
    pub fn queued(&self, len: u64) {
        if len > self.qmax.load(Ordering::Relaxed) {
            self.qmax.fetch_max(len, Ordering::Relaxed);
        }
    }

    /// Adds the times of one finished transfer (ms) to the averages.
    pub fn times(&self, q: u64, c: u64, r: u64, t: u64) {
        self.transfer(0, 0, [q, c, r, t]);
    }

    /// A finished transfer's bytes in and out and its times (ms: queue, connect, response,
    /// total), with one look-up of this thread's shard (as `add` twice and `times`).
    #[inline]
    pub fn transfer(&self, bytes_in: u64, bytes_out: u64, [q, c, r, t]: [u64; 4]) {
        let (s, owned) = self.shard();
        bump(&s.c[Ctr::BytesIn as usize], bytes_in, owned);
        bump(&s.c[Ctr::BytesOut as usize], bytes_out, owned);
        bump(&s.c[Ctr::QtimeSum as usize], q, owned);
        bump(&s.c[Ctr::CtimeSum as usize], c, owned);
        bump(&s.c[Ctr::RtimeSum as usize], r, owned);
        bump(&s.c[Ctr::TtimeSum as usize], t, owned);
        bump(&s.c[Ctr::Timed as usize], 1, owned);
        for (m, v) in self.tmax.iter().zip([q, c, r, t]) {
            if v > m.load(Ordering::Relaxed) {
                m.fetch_max(v, Ordering::Relaxed);
            }
        }
    }

    /// The longest `qtime ctime rtime ttime` seen (ms).
    pub fn time_max(&self) -> [u64; 4] {
        std::array::from_fn(|i| self.tmax[i].load(Ordering::Relaxed))
    }
}

impl Counters {
    /// `scur`.
    pub fn current(&self) -> u64 {
        self.cur.0.load(Ordering::Relaxed)
    }
    /// `smax`.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }
    /// `qmax`.
    pub fn qmax(&self) -> u64 {
        self.qmax.load(Ordering::Relaxed)
    }
    /// Average of one of the time sums (`QtimeSum`..`TtimeSum`) in ms, 0 before any.
    pub fn avg(&self, sum: Ctr) -> u64 {
        let n = self.get(Ctr::Timed);
        self.get(sum).checked_div(n).unwrap_or(0)
    }
}

/// Keeps a session counted in `scur` until dropped.
pub struct SessionGuard(std::sync::Arc<Counters>);

impl SessionGuard {
    /// Counts a new session on `c` (`stot`, `scur`, rate).
    pub fn start(c: &std::sync::Arc<Counters>) -> Self {
        c.start();
        SessionGuard(c.clone())
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.end();
    }
}
