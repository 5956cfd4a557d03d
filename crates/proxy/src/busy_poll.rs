//! HAProxy's `busy-polling` (global): a worker that never lets its CPU sleep between events.
//!
//! Without it, a worker with nothing to do blocks in `epoll_wait` and its CPU goes idle; the
//! next packet for it must wake the CPU (an interrupt between processors, inside a virtual
//! machine a trip through the hypervisor) and the thread, and the peer that sent the packet
//! pays for much of that wakeup. HAProxy's answer, for latency-sensitive setups on CPUs of
//! variable frequency or in virtual machines: poll with a null timeout, always. Here each
//! one-thread worker runs a task ([`run`]) that yields whenever it runs: tokio then polls the
//! I/O driver without waiting (the `epoll_wait` with a zero timeout that `yield_now` defers
//! to), runs what it found, and the task yields again. The CPU stays busy (100% of it, as
//! HAProxy's), the thread never sleeps.
//!
//! The setting is the process's: [`set`] at start and at each reload (the configuration
//! loaded last decides, as a reloaded HAProxy's new process does), off when the process stops
//! (HAProxy turns it off in an old process finishing its connections).
//!
//! Tested against a real process (`crates/fulcrum/tests/busy_polling.rs`, beside haproxy):
//! what it does is seen only in a thread's CPU time and sleep state.

use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

static ON: AtomicBool = AtomicBool::new(false);
static TURNED_ON: Notify = Notify::const_new();

/// Turns busy polling on or off for every worker.
pub fn set(on: bool) {
    if ON.swap(on, Ordering::AcqRel) != on && on {
        TURNED_ON.notify_waiters();
    }
}

/// Whether workers busy-poll now (`show info`'s `BusyPolling`).
pub fn on() -> bool {
    ON.load(Ordering::Acquire)
}

/// A worker's busy-polling task: while on, yields at every turn (the worker's driver is then
/// polled without a timeout); while off, waits to be turned on, costing nothing.
pub async fn run() {
    loop {
        if !on() {
            let turned_on = TURNED_ON.notified();
            tokio::pin!(turned_on);
            // Registered before the second look: a `set(true)` in between is not missed.
            turned_on.as_mut().enable();
            if !on() {
                turned_on.await;
            }
            continue;
        }
        tokio::task::yield_now().await;
    }
}
