//! A connection's timer kept armed from one wait to the next ([`Alarm`]): the wait for a
//! keep-alive request's head (its park delay, `timeout http-keep-alive`) and the wait for a
//! server's answer (`timeout server`) come one after the other, each with a deadline a little
//! later than the previous one of its kind. A tokio timer entered and removed per wait cost
//! more than the rest of the wait; the armed timer is only moved when it fires before the
//! deadline now wanted or the deadline wanted is earlier (a few times per park delay on a busy
//! connection), as HAProxy requeues a task's expiry lazily. Allocated at the connection's
//! first wait that does wait: one allocation per connection instead of a timer per wait.
//! An HTTP/2 stream's session waits on its connection's list of deadlines instead
//! (`h2::deadlines`: one timer for all the connection's streams).

use crate::http::h2::deadlines::Deadlines;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// One timer reused by successive waits; see the module.
pub(super) enum Alarm {
    /// The session's own timer (made at its first wait).
    Own(Option<Pin<Box<Sleep>>>),
    /// An HTTP/2 stream's: its connection's deadlines.
    Conn(Arc<Deadlines>),
}

impl Default for Alarm {
    fn default() -> Alarm {
        Alarm::Own(None)
    }
}

impl Alarm {
    /// Resolves at `deadline` (never when `None`). Cancel-safe: dropping the wait leaves the
    /// timer armed for the next one (its early firing wakes the task once, to no effect).
    pub(super) async fn until(&mut self, deadline: Option<Instant>) {
        let Some(d) = deadline else {
            return std::future::pending().await;
        };
        let own = match self {
            Alarm::Own(own) => own,
            Alarm::Conn(list) => return list.until(d).await,
        };
        let s = match own {
            Some(s) => {
                if s.deadline() > d {
                    s.as_mut().reset(d);
                }
                s
            }
            None => own.insert(Box::pin(tokio::time::sleep_until(d))),
        };
        loop {
            s.as_mut().await;
            if Instant::now() >= d {
                return;
            }
            s.as_mut().reset(d);
        }
    }

    /// The time now (`clock::monotonic_ns`); an HTTP/2 stream's is its connection's
    /// reading for this turn of its task (`h2::turn`), shared by the streams that run in it.
    pub(super) fn now_ns(&self) -> u64 {
        match self {
            Alarm::Own(_) => crate::clock::monotonic_ns(),
            Alarm::Conn(list) => crate::clock::ns_of(list.now()),
        }
    }

    /// Resolves `after` from its first poll (never when `None`): the clock is read only when
    /// the wait it bounds did not end at once.
    pub(super) async fn after(&mut self, after: Option<Duration>) {
        let deadline = after.map(|a| Instant::now() + a);
        self.until(deadline).await
    }

    /// `f`, unless `t` passes first (None); the alarm is not touched when `f` is ready at
    /// once.
    pub(super) async fn within<F: Future>(
        &mut self,
        t: Option<Duration>,
        f: F,
    ) -> Option<F::Output> {
        let mut f = std::pin::pin!(f);
        if let Poll::Ready(v) = std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await {
            return Some(v);
        }
        tokio::select! {
            biased;
            v = f => Some(v),
            () = self.after(t) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each wait ends at its own deadline, never before (the timer armed for an earlier or
    /// a cut-short wait is moved, not obeyed); `None` never ends.
    #[tokio::test]
    async fn ends_at_each_deadline_never_before() {
        let ms = Duration::from_millis;
        let mut a = Alarm::default();
        let d = Instant::now() + ms(30);
        a.until(Some(d)).await;
        assert!(Instant::now() >= d);
        // A later deadline: the fired timer is moved to it.
        let d = Instant::now() + ms(40);
        a.until(Some(d)).await;
        assert!(Instant::now() >= d);
        // Armed far ahead, then an earlier deadline: moved back, so it does end.
        tokio::select! {
            biased;
            _ = a.until(Some(Instant::now() + Duration::from_secs(3600))) => panic!("ended early"),
            _ = tokio::time::sleep(ms(1)) => {}
        }
        let d = Instant::now() + ms(20);
        a.until(Some(d)).await;
        assert!(Instant::now() >= d);
        // A wait cut short leaves its timer armed; the next, later wait outlives its firing.
        tokio::select! {
            _ = a.after(Some(ms(30))) => {}
            _ = tokio::time::sleep(ms(1)) => {}
        }
        let t = Instant::now();
        a.after(Some(ms(120))).await;
        assert!(Instant::now() >= t + ms(120));
        tokio::select! {
            biased;
            _ = a.until(None) => panic!("ended"),
            _ = tokio::time::sleep(ms(50)) => {}
        }
    }
}
