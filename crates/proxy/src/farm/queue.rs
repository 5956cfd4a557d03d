//! A backend's queue: the requests waiting for a server slot (every usable server at
//! `maxconn`). Without `set-priority-class|offset` it is first come, first served (tokio's
//! `Notify` wakes its waiters in order). Once a request with a priority waits, the order is
//! HAProxy 2.6's: the lowest `set-priority-class` first, then the earliest arrival time
//! plus `set-priority-offset` (milliseconds); only the first in that order may take a freed
//! slot, and a freed slot wakes every waiter to find it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::Notify;

/// A waiter's place: (class, arrival in ms + offset, arrival number).
pub type Key = (i32, i64, u64);

#[derive(Debug)]
pub struct Queue {
    notify: Notify,
    order: Mutex<BTreeSet<Key>>,
    seq: AtomicU64,
    /// A request with a priority has waited: the order is kept from then on.
    prioritized: AtomicBool,
    epoch: std::time::Instant,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            notify: Notify::new(),
            order: Mutex::new(BTreeSet::new()),
            seq: AtomicU64::new(0),
            prioritized: AtomicBool::new(false),
            epoch: std::time::Instant::now(),
        }
    }
}

impl Queue {
    /// A request starts waiting with its (class, offset), if rules set one.
    pub fn enter(&self, priority: Option<(i32, i32)>) -> Key {
        let (class, offset) = priority.unwrap_or((0, 0));
        if priority.is_some() {
            self.prioritized.store(true, Ordering::Relaxed);
        }
        let now = i64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(i64::MAX);
        let key = (
            class,
            now.saturating_add(i64::from(offset)),
            self.seq.fetch_add(1, Ordering::Relaxed),
        );
        if let Ok(mut o) = self.order.lock() {
            o.insert(key);
        }
        key
    }

    /// The request stopped waiting (served, timed out or gone).
    pub fn leave(&self, key: Key) {
        if let Ok(mut o) = self.order.lock() {
            o.remove(&key);
        }
    }

    /// Whether the waiter may take a free slot now: it is first in the order (always, while
    /// no request with a priority has waited).
    pub fn may_take(&self, key: Key) -> bool {
        if !self.prioritized.load(Ordering::Relaxed) {
            return true;
        }
        self.order.lock().map_or(true, |o| o.first() == Some(&key))
    }

    /// A wake-up to wait for.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// Every waiter looks again (a server's state changed).
    pub fn wake_all(&self) {
        self.notify.notify_waiters();
    }

    /// A slot may be free: wake the next waiter (every one, when an order is kept).
    pub fn wake(&self) {
        if self.prioritized.load(Ordering::Relaxed) {
            self.notify.notify_waiters();
        } else {
            self.notify.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_class_then_arrival_plus_offset() {
        let q = Queue::default();
        let a = q.enter(None);
        assert!(q.may_take(a), "first come, first served without priorities");
        let b = q.enter(Some((5, 0)));
        let c = q.enter(Some((1, 0)));
        let d = q.enter(Some((1, -10_000)));
        assert!(q.may_take(a) && !q.may_take(b) && !q.may_take(c) && !q.may_take(d));
        q.leave(a);
        assert!(q.may_take(d), "class 1 earlier by its offset");
        q.leave(d);
        assert!(q.may_take(c));
        q.leave(c);
        assert!(q.may_take(b));
    }
}
