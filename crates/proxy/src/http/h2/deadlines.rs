//! The deadlines of one HTTP/2 client connection's streams on one timer: a stream waiting
//! for its server (`timeout server`, and the other waits of its session's `alarm`) puts its
//! deadline in the connection's list ([`Deadlines::until`]) instead of entering a tokio timer
//! of its own; the connection's task keeps one timer armed at the earliest deadline and wakes
//! the streams whose deadline passed ([`Deadlines::run`]). A tokio timer entered and removed
//! per stream cost more than the rest of the wait; a deadline here is a slot in a list taken
//! and given back under an uncontended lock. As HAProxy requeues a task's expiry lazily, the
//! timer is only moved when it fires (then to the earliest deadline left) or when a deadline
//! earlier than it comes; a deadline whose wait ended is forgotten at the next firing.
//! The streams read the time through it too: the connection's reading for its task's turn
//! ([`Deadlines::now`], `turn`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use tokio::time::{Instant, Sleep};

/// One connection's list of deadlines; shared (an `Arc`) by the connection and its streams.
#[derive(Default)]
pub struct Deadlines {
    list: Mutex<List>,
    /// The connection's clock for its task's turn.
    turn: super::turn::TurnClock,
}

#[derive(Default)]
struct List {
    slots: Vec<Slot>,
    /// Slots free for the next wait.
    free: Vec<usize>,
    /// No deadline of a waiting stream is earlier (a wait that ended may have been this one).
    next: Option<Instant>,
    /// Where the connection's timer is set, while it has not fired.
    armed: Option<Instant>,
    /// The connection's task, woken when a deadline earlier than `armed` comes.
    conn: Option<Waker>,
}

struct Slot {
    at: Instant,
    /// The stream's task; None once woken, or while the slot is free.
    waker: Option<Waker>,
    /// The deadline passed (seen by the connection's timer).
    fired: bool,
}

impl Deadlines {
    fn list(&self) -> MutexGuard<'_, List> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The time for a stream: the connection's reading for this turn of its task.
    pub fn now(&self) -> std::time::Instant {
        self.turn.now()
    }

    /// The connection's task begins a turn: the next [`Deadlines::now`] reads the clock.
    pub fn next_turn(&self) {
        self.turn.next_turn()
    }

    /// Resolves at `at` (a stream's wait: cancel-safe, dropping it forgets the deadline).
    pub fn until(&self, at: Instant) -> Wait<'_> {
        Wait {
            list: self,
            at,
            slot: None,
        }
    }

    /// The connection's side, polled by its task for as long as it has streams: keeps the
    /// timer `timer` at the earliest deadline and wakes the streams whose deadline passed.
    /// Never resolves.
    pub async fn run(&self, mut timer: Pin<&mut Sleep>) {
        std::future::poll_fn(|cx| {
            let mut l = self.list();
            if !l.conn.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                l.conn = Some(cx.waker().clone());
            }
            loop {
                let Some(next) = l.next else {
                    l.armed = None;
                    return Poll::Pending;
                };
                if l.armed != Some(next) {
                    timer.as_mut().reset(next);
                    l.armed = Some(next);
                }
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                l.armed = None;
                l.fire(Instant::now());
            }
        })
        .await
    }
}

impl List {
    /// Wakes the waits whose deadline is `now` or earlier; `next` becomes the earliest left.
    fn fire(&mut self, now: Instant) {
        let mut next: Option<Instant> = None;
        for s in &mut self.slots {
            if s.fired {
                continue;
            }
            let Some(w) = &s.waker else { continue };
            if s.at <= now {
                s.fired = true;
                w.wake_by_ref();
                s.waker = None;
            } else if next.is_none_or(|n| s.at < n) {
                next = Some(s.at);
            }
        }
        self.next = next;
    }
}

/// A stream's wait for its deadline ([`Deadlines::until`]).
pub struct Wait<'a> {
    list: &'a Deadlines,
    at: Instant,
    slot: Option<usize>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let at = self.at;
        let mut l = self.list.list();
        let Some(i) = self.slot else {
            let slot = Slot {
                at,
                waker: Some(cx.waker().clone()),
                fired: false,
            };
            let i = match l.free.pop() {
                Some(i) => {
                    l.slots[i] = slot;
                    i
                }
                None => {
                    l.slots.push(slot);
                    l.slots.len() - 1
                }
            };
            if l.next.is_none_or(|n| at < n) {
                l.next = Some(at);
            }
            if l.armed.is_none_or(|a| at < a) {
                // The timer must move earlier: the connection's task does it.
                if let Some(w) = &l.conn {
                    w.wake_by_ref();
                }
            }
            drop(l);
            self.slot = Some(i);
            return Poll::Pending;
        };
        let s = &mut l.slots[i];
        if s.fired {
            return Poll::Ready(());
        }
        if !s.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            s.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            let mut l = self.list.list();
            l.slots[i].waker = None;
            l.slots[i].fired = true;
            l.free.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    /// Each wait ends at its own deadline, never before, whatever order they came in; an
    /// ended or dropped wait gives its slot back.
    #[tokio::test]
    async fn waits_end_at_their_deadlines() {
        let d = Arc::new(Deadlines::default());
        let conn = d.clone();
        let timer = tokio::time::sleep(Duration::from_secs(3600));
        let driver = tokio::spawn(async move {
            tokio::pin!(timer);
            conn.run(timer).await
        });
        let t0 = Instant::now();
        let ends = [60u64, 20, 40, 20, 80];
        let waits = ends.map(|ms| {
            let d = d.clone();
            tokio::spawn(async move {
                d.until(t0 + Duration::from_millis(ms)).await;
                Instant::now() - t0
            })
        });
        // One more, dropped before its deadline: it wakes nobody and frees its slot.
        tokio::select! {
            () = d.until(t0 + Duration::from_millis(10)) => panic!("dropped wait ended"),
            () = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
        for (w, ms) in waits.into_iter().zip(ends) {
            // Bounded: a wait the timer never ends fails here instead of hanging.
            let took = tokio::time::timeout(Duration::from_secs(20), w)
                .await
                .expect("the wait ended")
                .expect("wait");
            assert!(took >= Duration::from_millis(ms), "{took:?} < {ms} ms");
        }
        // Every slot free again: a later wait reuses one.
        let late = Instant::now() + Duration::from_millis(7);
        tokio::time::timeout(Duration::from_secs(20), d.until(late))
            .await
            .expect("the wait ended");
        assert!(Instant::now() >= late);
        let l = d.list();
        assert!(l.slots.len() <= 6, "{} slots", l.slots.len());
        assert_eq!(l.free.len(), l.slots.len());
        drop(l);
        driver.abort();
    }
}
