//! A connection's timer kept armed from one wait to the next ([`Alarm`]): the wait for a
//! keep-alive request's head (its park delay, `timeout http-keep-alive`) and the wait for a
//! server's answer (`timeout server`) come one after the other, each with a deadline a little
//! later than the previous one of its kind. A tokio timer entered and removed per wait cost
//! more than the rest of the wait; the armed timer is only moved when it fires before the
//! deadline now wanted or the deadline wanted is earlier (a few times per park delay on a busy
//! connection), as HAProxy requeues a task's expiry lazily. Allocated at the connection's
//! first wait that does wait: one allocation per connection instead of a timer per wait.

use std::pin::Pin;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// One timer reused by successive waits; see the module.
#[derive(Default)]
pub(super) struct Alarm(Option<Pin<Box<Sleep>>>);

impl Alarm {
    /// Resolves at `deadline` (never when `None`). Cancel-safe: dropping the wait leaves the
    /// timer armed for the next one (its early firing wakes the task once, to no effect).
    pub(super) async fn until(&mut self, deadline: Option<Instant>) {
        let Some(d) = deadline else {
            return std::future::pending().await;
        };
        let s = match &mut self.0 {
            Some(s) => {
                if s.deadline() > d {
                    s.as_mut().reset(d);
                }
                s
            }
            None => self.0.insert(Box::pin(tokio::time::sleep_until(d))),
        };
        loop {
            s.as_mut().await;
            if Instant::now() >= d {
                return;
            }
            s.as_mut().reset(d);
        }
    }

    /// Resolves `after` from its first poll (never when `None`): the clock is read only when
    /// the wait it bounds did not end at once.
    pub(super) async fn after(&mut self, after: Option<Duration>) {
        let deadline = after.map(|a| Instant::now() + a);
        self.until(deadline).await
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
