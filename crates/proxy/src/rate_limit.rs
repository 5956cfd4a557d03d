//! `rate-limit sessions N`: a frontend accepts at most N new connections per second, as
//! HAProxy 2.6 does with its `fe_sess_per_sec` counter: the rate is the count of the current
//! one-second period plus the previous period's count weighted by what remains of the
//! current one; while it is at N, the accept loops wait (connections stay in the backlog).
//! The counter is sans-IO (`SessionRate::admit` takes the time); [`wait`] is the adapter.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One frontend's new-session counter (shared by its accept loops).
#[derive(Debug)]
pub struct SessionRate {
    limit: u32,
    state: Mutex<Periods>,
}

#[derive(Debug, Clone, Copy)]
struct Periods {
    start: Option<Instant>,
    curr: u32,
    prev: u32,
}

const PERIOD: Duration = Duration::from_secs(1);

impl SessionRate {
    pub fn new(limit: u32) -> SessionRate {
        SessionRate {
            limit: limit.max(1),
            state: Mutex::new(Periods {
                start: None,
                curr: 0,
                prev: 0,
            }),
        }
    }

    /// Counts a new session at `now` and returns `None`, or, at the limit, how long to wait
    /// before asking again.
    pub fn admit(&self, now: Instant) -> Option<Duration> {
        let mut p = match self.state.lock() {
            Ok(g) => g,
            Err(e) => e.into_inner(),
        };
        let start = *p.start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= PERIOD {
            let periods = elapsed.as_nanos() / PERIOD.as_nanos();
            p.prev = if periods == 1 { p.curr } else { 0 };
            p.curr = 0;
            p.start = Some(start + PERIOD * periods as u32);
        }
        let start = p.start.unwrap_or(now);
        let into = now.saturating_duration_since(start);
        let left = PERIOD.saturating_sub(into);
        // the previous period counts for the part of it still inside the last second
        let weighted = u64::from(p.prev) * left.as_nanos() as u64 / PERIOD.as_nanos() as u64;
        let rate = u64::from(p.curr) + weighted;
        if rate < u64::from(self.limit) {
            p.curr += 1;
            return None;
        }
        // wait until enough of the previous period has slid out, or the next period
        let wait = if p.prev > 0 && u64::from(p.curr) < u64::from(self.limit) {
            let excess = rate + 1 - u64::from(self.limit);
            Duration::from_nanos(excess * PERIOD.as_nanos() as u64 / u64::from(p.prev))
        } else {
            left
        };
        Some(wait.max(Duration::from_millis(1)))
    }
}

/// Waits until `rate` admits one more session (counted).
pub async fn wait(rate: &SessionRate) {
    // bounded: each round waits at least 1 ms and the window slides by itself
    for _ in 0..10_000 {
        match rate.admit(Instant::now()) {
            None => return,
            Some(d) => tokio::time::sleep(d).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_n_per_second() {
        let r = SessionRate::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(r.admit(t0), None);
        }
        let w = r.admit(t0).expect("the 4th waits");
        assert!(w > Duration::from_millis(900), "{w:?}");
        // next period, 100 ms in: the previous 3 weigh 3 * 0.9 = 2 (rounded down, as
        // haproxy's freq_ctr) → one more fits
        let t1 = t0 + Duration::from_millis(1100);
        assert_eq!(r.admit(t1), None);
        assert!(r.admit(t1).is_some());
        // at 1.5 s: 1 + 3 * 0.5 = 2 → one more
        let t2 = t0 + Duration::from_millis(1500);
        assert_eq!(r.admit(t2), None);
        assert!(r.admit(t2).is_some());
        // after two idle seconds everything is forgotten
        let t3 = t0 + Duration::from_millis(4000);
        for _ in 0..3 {
            assert_eq!(r.admit(t3), None);
        }
        // under constant demand the admitted count stays at or a little under N per second
        // (the previous period's weight is rounded down, as haproxy's freq_ctr does)
        let r = SessionRate::new(5);
        let mut t = t0;
        let mut admitted = 0;
        while t < t0 + Duration::from_secs(10) {
            match r.admit(t) {
                None => admitted += 1,
                Some(d) => t += d,
            }
        }
        assert!((38..=51).contains(&admitted), "{admitted} in 10 s at 5/s");
    }
}
