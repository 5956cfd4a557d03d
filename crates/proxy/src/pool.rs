//! Idle server connections kept for reuse (HAProxy's `http-reuse safe`), one pool per worker
//! thread and server (TCP or unix stream connections, whichever kind the server is).
//!
//! A socket belongs to the worker runtime that registered it, so pools are thread-local: no
//! lock on the request path. A pooled connection that the server closed meanwhile is noticed
//! when taken (a non-blocking read sees EOF) and dropped.

use crate::connect::ServerConn;
use std::cell::RefCell;
use std::collections::HashMap;

/// Idle connections kept per server and thread.
const MAX_IDLE_PER_SERVER: usize = 128;

thread_local! {
    static POOL: RefCell<HashMap<u64, Vec<ServerConn>>> = RefCell::new(HashMap::new());
}

/// An idle connection to server `id`, most recently used first.
pub fn take(id: u64) -> Option<ServerConn> {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let list = p.get_mut(&id)?;
        while let Some(s) = list.pop() {
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
            list.push(s);
        }
    });
}

/// Drops idle connections to servers that no longer exist (after a reload).
pub fn retain(keep: &dyn Fn(u64) -> bool) {
    POOL.with(|p| p.borrow_mut().retain(|id, _| keep(*id)));
}
