//! Idle server connections kept for reuse (HAProxy's `http-reuse safe`), one pool per worker
//! thread and server (TCP or unix stream connections, whichever kind the server is).
//!
//! A socket belongs to the worker runtime that registered it, so pools are thread-local: no
//! lock on the request path. A pooled connection that the server closed meanwhile is noticed
//! when taken (a non-blocking read sees EOF) and dropped. A connection idle for longer than
//! [`PURGE_DELAY`] (HAProxy's default `pool-purge-delay`, 5 s) is closed: when a later `take`
//! meets it, and by the worker's periodic [`purge`], so servers nobody sends to any more are not
//! left holding idle connections (HAProxy closes part of them per period; fulcrum closes those
//! idle for a whole period).

use crate::connect::ServerConn;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Idle connections kept per server and thread. HAProxy's `pool-max-conn` is unlimited by
/// default (bounded by `tune.pool-high-fd-ratio`, 25% of the fd limit): HTTP/2 clients with
/// 1,000 streams in flight need as many HTTP/1 server connections, and a cap of 128 closed
/// and reopened most of them for every wave of streams (`bench/h2`: 0.19x haproxy). Idle
/// ones still close after [`PURGE_DELAY`].
const MAX_IDLE_PER_SERVER: usize = 4096;

/// How long an idle server connection is kept.
pub const PURGE_DELAY: Duration = Duration::from_secs(5);

thread_local! {
    /// Per server: idle connections with the time each became idle, oldest first.
    static POOL: RefCell<HashMap<u64, Vec<(ServerConn, Instant)>>> = RefCell::new(HashMap::new());
}

/// An idle connection to server `id`, most recently used first.
pub fn take(id: u64) -> Option<ServerConn> {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let list = p.get_mut(&id)?;
        let now = Instant::now();
        while let Some((s, since)) = list.pop() {
            if now.duration_since(since) >= PURGE_DELAY {
                // The rest of the list is older still.
                list.clear();
                return None;
            }
            if s.alive() {
                return Some(s);
            }
        }
        None
    })
}

/// Keeps `s` for a later request to server `id`.
pub fn put(id: u64, s: ServerConn) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let list = p.entry(id).or_default();
        if list.len() < MAX_IDLE_PER_SERVER {
            list.push((s, Instant::now()));
        }
    });
}

/// Drops idle connections to servers that no longer exist (after a reload).
pub fn retain(keep: &dyn Fn(u64) -> bool) {
    POOL.with(|p| p.borrow_mut().retain(|id, _| keep(*id)));
}

/// Closes this thread's connections idle for [`PURGE_DELAY`] or more (run periodically by each
/// worker).
pub fn purge(now: Instant) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        for list in p.values_mut() {
            // Oldest first: drop the leading run of expired ones.
            let expired = list
                .iter()
                .take_while(|(_, since)| now.duration_since(*since) >= PURGE_DELAY)
                .count();
            list.drain(..expired);
        }
        p.retain(|_, list| !list.is_empty());
    });
}

/// Idle connections this thread holds (tests).
pub fn idle_count() -> usize {
    POOL.with(|p| p.borrow().values().map(Vec::len).sum())
}
