//! Clock reads (a leaf): wall-clock time in the form the counters and the stats show it,
//! and a monotonic timestamp cheap enough to take per forwarded chunk.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds since the UNIX epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Nanoseconds of the monotonic clock (`CLOCK_MONOTONIC`, that of `Instant` and of tokio's
/// timers) since an arbitrary origin: a timestamp cheap enough to take per forwarded chunk
/// (the tunnel's idle watchdog), without `Instant`'s checked arithmetic.
#[allow(unsafe_code)]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The time from `from` to `to` (both [`monotonic_ns`] readings; zero if `to` is earlier).
pub fn between(from: u64, to: u64) -> Duration {
    Duration::from_nanos(to.saturating_sub(from))
}

/// One `Instant` and the [`monotonic_ns`] read right after it: the pair that converts
/// between the two (readings of the same clock, so the pair's offset, the time between its
/// two reads, is the same for every conversion).
fn epoch() -> (Instant, u64) {
    static EPOCH: OnceLock<(Instant, u64)> = OnceLock::new();
    *EPOCH.get_or_init(|| (Instant::now(), monotonic_ns()))
}

/// The `Instant` of a [`monotonic_ns`] reading (a timer's deadline from a reading in
/// nanoseconds).
pub fn instant_of(ns: u64) -> Instant {
    let (at, base) = epoch();
    if ns >= base {
        at + Duration::from_nanos(ns - base)
    } else {
        at.checked_sub(Duration::from_nanos(base - ns))
            .unwrap_or(at)
    }
}

/// The [`monotonic_ns`] reading of an `Instant` (the inverse of [`instant_of`]).
pub fn ns_of(i: Instant) -> u64 {
    let (at, base) = epoch();
    match i.checked_duration_since(at) {
        Some(d) => base.saturating_add(d.as_nanos() as u64),
        None => base.saturating_sub(at.duration_since(i).as_nanos() as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn instants_and_nanoseconds_convert_both_ways() {
        let i = Instant::now();
        for d in [0, 1, 999, 1_000_000_007, 86_400_000_000_000] {
            let later = i + Duration::from_nanos(d);
            assert_eq!(instant_of(ns_of(later)), later);
            assert_eq!(ns_of(later) - ns_of(i), d);
        }
        // An instant before the pair was read (the pair is read at the first conversion).
        let early = i.checked_sub(Duration::from_secs(1)).unwrap_or(i);
        assert_eq!(instant_of(ns_of(early)), early);
        // A reading converts to an instant within the pair's offset of `Instant::now`'s.
        let (n, now) = (monotonic_ns(), Instant::now());
        assert!(instant_of(n) <= now + Duration::from_millis(100));
        assert_eq!(between(5, 3), Duration::ZERO);
        assert_eq!(
            between(3, 1_000_000_008),
            Duration::from_nanos(1_000_000_005)
        );
    }

    #[test]
    fn the_monotonic_clock_counts_nanoseconds_as_instant_does() {
        let (a, i) = (monotonic_ns(), Instant::now());
        // Bounded: the loop ends once `Instant` saw 3 ms go by.
        while i.elapsed() < Duration::from_millis(3) {
            std::hint::spin_loop();
        }
        let (b, e) = (monotonic_ns(), i.elapsed());
        assert!(b - a >= 3_000_000, "{} ns", b - a);
        // Read right after `Instant`'s figure, never before it: not more than it plus slack.
        assert!(
            b - a < e.as_nanos() as u64 + 1_000_000_000,
            "{} vs {e:?}",
            b - a
        );
    }
}
