//! The process's TLS figures, as HAProxy 2.6 keeps them in `global` for `show info` and the
//! Prometheus exporter's `haproxy_process_*ssl*` families: TLS connections open and in all
//! (clients' and servers', counted from the start of the handshake as HAProxy's
//! `sslconns`/`totalsslconns`), their rate, the rate of full handshakes (frontends and
//! backends apart), and the session-id cache's lookups and misses.

use crate::counters::{Counters, SessionGuard};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

struct Totals {
    /// One session per TLS connection: `scur` is CurrSslConns, `stot` CumSslConns.
    conns: Arc<Counters>,
    fe_keys: Counters,
    be_keys: Counters,
    cache_lookups: AtomicU64,
    cache_misses: AtomicU64,
}

fn totals() -> &'static Totals {
    static T: OnceLock<Totals> = OnceLock::new();
    T.get_or_init(|| Totals {
        conns: Arc::new(Counters::new()),
        fe_keys: Counters::new(),
        be_keys: Counters::new(),
        cache_lookups: AtomicU64::new(0),
        cache_misses: AtomicU64::new(0),
    })
}

/// A TLS connection counted open from its handshake's start until dropped.
pub fn connection() -> SessionGuard {
    SessionGuard::start(&totals().conns)
}

/// A full (not resumed) handshake, with a client (`frontend`) or a server.
pub fn full_handshake(frontend: bool) {
    let t = totals();
    if frontend {
        t.fe_keys.start_counted(0);
    } else {
        t.be_keys.start_counted(0);
    }
}

/// A session-id cache lookup, and whether it missed.
pub fn cache_lookup(hit: bool) {
    let t = totals();
    t.cache_lookups.fetch_add(1, Ordering::Relaxed);
    if !hit {
        t.cache_misses.fetch_add(1, Ordering::Relaxed);
    }
}

/// The figures now, with HAProxy's names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub curr_ssl_conns: u64,
    pub cum_ssl_conns: u64,
    pub ssl_rate: u64,
    pub max_ssl_rate: u64,
    pub fe_key_rate: u64,
    pub fe_max_key_rate: u64,
    /// `SslFrontendSessionReuse_pct`, HAProxy's formula on the current rates.
    pub fe_reuse_pct: u64,
    pub be_key_rate: u64,
    pub be_max_key_rate: u64,
    pub cache_lookups: u64,
    pub cache_misses: u64,
}

pub fn figures() -> Figures {
    let t = totals();
    let ssl_rate = t.conns.rate();
    let fe_key_rate = t.fe_keys.rate();
    Figures {
        curr_ssl_conns: t.conns.current(),
        cum_ssl_conns: t.conns.get(crate::counters::Ctr::Sessions),
        ssl_rate,
        max_ssl_rate: t.conns.rate_max(),
        fe_key_rate,
        fe_max_key_rate: t.fe_keys.rate_max(),
        fe_reuse_pct: reuse_pct(fe_key_rate, ssl_rate),
        be_key_rate: t.be_keys.rate(),
        be_max_key_rate: t.be_keys.rate_max(),
        cache_lookups: t.cache_lookups.load(Ordering::Relaxed),
        cache_misses: t.cache_misses.load(Ordering::Relaxed),
    }
}

/// HAProxy 2.6's `ssl_reuse`: `100 - ceil(100 * key_rate / sess_rate)` when fewer keys than
/// sessions were computed, else 0.
fn reuse_pct(key_rate: u64, sess_rate: u64) -> u64 {
    if key_rate < sess_rate {
        100 - (100 * key_rate).div_ceil(sess_rate)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_as_haproxy_computes_it() {
        assert_eq!(reuse_pct(0, 0), 0);
        assert_eq!(reuse_pct(5, 5), 0);
        assert_eq!(reuse_pct(0, 10), 100);
        assert_eq!(reuse_pct(1, 3), 66);
        assert_eq!(reuse_pct(1, 2), 50);
    }
}
