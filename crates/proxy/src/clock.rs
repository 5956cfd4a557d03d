//! Clock reads (a leaf): wall-clock time in the form the counters and the stats show it,
//! and a monotonic timestamp cheap enough to take per forwarded chunk.

use std::time::{SystemTime, UNIX_EPOCH};

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

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
