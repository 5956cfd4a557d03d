//! The clock leases are measured on: CLOCK_BOOTTIME, monotonic and counting time spent in
//! suspend. A node that slept through its lease finds its deadline passed on waking and drops
//! its addresses before anything else, where CLOCK_MONOTONIC (tokio's) would not have moved.

use nix::time::{clock_gettime, ClockId};
use std::time::Duration;

/// Time since boot, suspend included.
pub fn boottime() -> Duration {
    match clock_gettime(ClockId::CLOCK_BOOTTIME) {
        Ok(ts) => Duration::new(
            u64::try_from(ts.tv_sec()).unwrap_or(0),
            u32::try_from(ts.tv_nsec()).unwrap_or(0),
        ),
        // Every Linux since 2.6.39 has it; should it fail, never let a deadline look far away.
        Err(_) => Duration::MAX,
    }
}

/// Unix time in milliseconds (for "since when" in `fulcrum status`; never for deadlines).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn boottime_moves_forward() {
        let a = super::boottime();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(super::boottime() > a);
    }
}
