//! A backend's queue: the requests waiting for a server slot (every usable server at
//! `maxconn`), in HAProxy 2.6's order: the lowest `set-priority-class` first, then the
//! earliest arrival time plus `set-priority-offset` (milliseconds), then arrival; without
//! priorities, first in, first out. Only the first in that order may take a freed slot: a
//! freed slot wakes it alone, it keeps its place until it gets one (a request that lost a race
//! to a slot does not go to the back), and a new request does not take a slot while others
//! wait.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// A waiter's place: (class, arrival in ms + offset, arrival number).
pub type Key = (i32, i64, u64);

/// One queued request's wake-up (a permit is kept if it comes before the wait).
#[derive(Debug, Default)]
pub struct Waiter {
    pub wake: Notify,
}

#[derive(Debug)]
pub struct Queue {
    order: Mutex<BTreeMap<Key, Arc<Waiter>>>,
    /// `order.len()`, read without the lock (`qcur`, the fast path's "anyone waiting?").
    len: AtomicUsize,
    seq: AtomicU64,
    epoch: std::time::Instant,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            order: Mutex::new(BTreeMap::new()),
            len: AtomicUsize::new(0),
            seq: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
        }
    }
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<Key, Arc<Waiter>>> {
        self.order.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// A request starts waiting with its (class, offset), if rules set one: its place, its
    /// wake-up and the queue's new length.
    pub fn enter(&self, priority: Option<(i32, i32)>) -> (Key, Arc<Waiter>, usize) {
        let (class, offset) = priority.unwrap_or((0, 0));
        let now = i64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(i64::MAX);
        let key = (
            class,
            now.saturating_add(i64::from(offset)),
            self.seq.fetch_add(1, Ordering::Relaxed),
        );
        let w = Arc::new(Waiter::default());
        let mut o = self.lock();
        o.insert(key, w.clone());
        self.len.store(o.len(), Ordering::Release);
        (key, w, o.len())
    }

    /// The request stopped waiting (served, timed out or gone); the first one left is woken:
    /// a slot may be free for it (the next one after a dequeue, or the one not taken).
    pub fn leave(&self, key: Key) {
        let mut o = self.lock();
        o.remove(&key);
        self.len.store(o.len(), Ordering::Release);
        if let Some((_, w)) = o.first_key_value() {
            w.wake.notify_one();
        }
    }

    /// Whether the waiter is first in the order (the only one that may take a free slot).
    pub fn may_take(&self, key: Key) -> bool {
        self.lock()
            .first_key_value()
            .is_some_and(|(k, _)| *k == key)
    }

    /// A slot may be free: the first waiter looks.
    pub fn wake(&self) {
        if self.len() == 0 {
            return;
        }
        if let Some((_, w)) = self.lock().first_key_value() {
            w.wake.notify_one();
        }
    }

    /// The servers changed (up, down, weight, limits): every waiter looks again (only the
    /// first takes a slot; the others see they are not and wait).
    pub fn wake_all(&self) {
        if self.len() == 0 {
            return;
        }
        for w in self.lock().values() {
            w.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_class_then_arrival_plus_offset() {
        let q = Queue::default();
        let (a, ..) = q.enter(None);
        assert!(q.may_take(a), "first come, first served without priorities");
        let (b, ..) = q.enter(Some((5, 0)));
        let (c, ..) = q.enter(Some((1, 0)));
        let (d, ..) = q.enter(Some((1, -10_000)));
        assert!(q.may_take(a) && !q.may_take(b) && !q.may_take(c) && !q.may_take(d));
        q.leave(a);
        assert!(q.may_take(d), "class 1 earlier by its offset");
        q.leave(d);
        assert!(q.may_take(c));
        q.leave(c);
        assert!(q.may_take(b));
    }

    #[test]
    fn the_first_keeps_its_place_and_the_next_is_woken_when_it_leaves() {
        let q = Queue::default();
        let (a, _, n) = q.enter(None);
        assert_eq!(n, 1);
        let (b, wb, n) = q.enter(None);
        assert_eq!(n, 2);
        assert!(q.may_take(a) && !q.may_take(b));
        q.leave(a);
        assert!(q.may_take(b));
        assert_eq!(q.len(), 1);
        // `b` was woken by `a`'s leaving: the permit is there before it waits.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("rt");
        rt.block_on(async {
            let woken =
                tokio::time::timeout(std::time::Duration::from_secs(1), wb.wake.notified()).await;
            assert!(woken.is_ok());
        });
        q.leave(b);
        assert_eq!(q.len(), 0);
    }
}
