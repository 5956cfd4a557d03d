//! Wall-clock time in the form the counters and the stats show it (a leaf).

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the UNIX epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
