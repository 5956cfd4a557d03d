//! A backend's queue: requests waiting for a server slot, served first in, first out, as
//! HAProxy's pending connections are. A slot that frees wakes only the oldest waiter, which
//! keeps its place until it gets one (a request that tried and lost a race to a slot does not
//! go to the back), and a new request does not take a slot while older ones wait.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// One queued request's wake-up (a permit is kept if it comes before the wait).
#[derive(Default)]
pub(super) struct Waiter {
    pub(super) wake: Notify,
}

#[derive(Default)]
pub(super) struct Queue {
    waiting: Mutex<VecDeque<Arc<Waiter>>>,
    /// `waiting.len()`, read without the lock (`qcur`, the fast path's "anyone waiting?").
    len: AtomicUsize,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<Waiter>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Queues a request at the back: its waiter and the queue's new length.
    pub(super) fn join(&self) -> (Arc<Waiter>, usize) {
        let w = Arc::new(Waiter::default());
        let mut q = self.lock();
        q.push_back(w.clone());
        self.len.store(q.len(), Ordering::Release);
        (w, q.len())
    }

    /// Takes `w` out (it got a slot or gave up) and wakes the oldest one left: a slot may be
    /// free for it (the next one after a dequeue, or the one `w` did not take).
    pub(super) fn leave(&self, w: &Arc<Waiter>) {
        let mut q = self.lock();
        if let Some(at) = q.iter().position(|x| Arc::ptr_eq(x, w)) {
            q.remove(at);
        }
        self.len.store(q.len(), Ordering::Release);
        if let Some(front) = q.front() {
            front.wake.notify_one();
        }
    }

    /// Whether `w` is the oldest waiter (the only one that may take a slot).
    pub(super) fn is_front(&self, w: &Arc<Waiter>) -> bool {
        self.lock().front().is_some_and(|x| Arc::ptr_eq(x, w))
    }

    /// A slot freed: the oldest waiter looks.
    pub(super) fn wake_front(&self) {
        if self.len() == 0 {
            return;
        }
        if let Some(front) = self.lock().front() {
            front.wake.notify_one();
        }
    }

    /// The servers changed (up, down, weight, limits): every waiter looks again (only the
    /// oldest takes a slot; the others see they are not and wait).
    pub(super) fn wake_all(&self) {
        if self.len() == 0 {
            return;
        }
        for w in self.lock().iter() {
            w.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_is_front_until_it_leaves_and_the_next_is_woken() {
        let q = Queue::default();
        let (a, n) = q.join();
        assert_eq!(n, 1);
        let (b, n) = q.join();
        assert_eq!(n, 2);
        assert!(q.is_front(&a) && !q.is_front(&b));
        q.leave(&a);
        assert!(q.is_front(&b));
        assert_eq!(q.len(), 1);
        // `b` was woken by `a`'s leaving: the permit is there before it waits.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("rt");
        rt.block_on(async {
            let woken =
                tokio::time::timeout(std::time::Duration::from_secs(1), b.wake.notified()).await;
            assert!(woken.is_ok());
        });
        q.leave(&b);
        assert_eq!(q.len(), 0);
    }
}
