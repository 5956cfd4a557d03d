//! The clock of one turn of an HTTP/2 client connection's task ([`TurnClock`]): the streams
//! that begin or end in the same turn (the connection's task polled once, its streams run in
//! it) share one reading, taken by the first that asks, as HAProxy reads its `now` once per
//! turn of its loop. The connection starts a new turn each time its task is polled
//! (`http::h2::serve_io`); a stream's session reads it for its times (`%TR`, `%Tt`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// No reading yet in this turn.
const UNSET: u64 = u64::MAX;

/// One connection's reading of the clock for its task's current turn; see the module.
pub struct TurnClock {
    /// What the readings count from (nanoseconds after it are kept).
    base: Instant,
    /// The turn's reading, in nanoseconds after `base`; `UNSET` until one is taken.
    read: AtomicU64,
}

impl Default for TurnClock {
    fn default() -> TurnClock {
        TurnClock {
            base: Instant::now(),
            read: AtomicU64::new(UNSET),
        }
    }
}

impl TurnClock {
    /// The turn's reading (taken now if it is the turn's first).
    pub fn now(&self) -> Instant {
        let read = self.read.load(Ordering::Relaxed);
        if read != UNSET {
            return self.base + Duration::from_nanos(read);
        }
        let now = Instant::now();
        let since = now.saturating_duration_since(self.base).as_nanos();
        // 584 years after the connection began before it would not fit: then read each time.
        if let Ok(n) = u64::try_from(since) {
            if n != UNSET {
                self.read.store(n, Ordering::Relaxed);
            }
        }
        now
    }

    /// A new turn: the next reading is taken anew.
    pub fn next_turn(&self) {
        self.read.store(UNSET, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One reading per turn: the same until the next turn, then a later one.
    #[test]
    fn one_reading_per_turn() {
        let c = TurnClock::default();
        let a = c.now();
        // The clock moves on; the turn's reading does not.
        while Instant::now() == a {}
        assert_eq!(c.now(), a, "same turn, same reading");
        c.next_turn();
        let b = c.now();
        assert!(b > a, "{b:?} after {a:?}");
        assert_eq!(c.now(), b);
    }
}
