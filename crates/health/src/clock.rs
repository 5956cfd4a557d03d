//! The one clock of the health checks: tokio's. Every "now" the driver feeds the pure machines,
//! and every probe duration, is read here, so a test with tokio's paused time
//! (`#[tokio::test(start_paused = true)]`, `tokio::time::advance`) drives the whole monitor
//! deterministically. The machines take plain `std::time::Instant`s and never read a clock.

use std::time::Instant;

/// The current time as tokio sees it (frozen or advanced by hand under paused time).
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Sleeps until `deadline` on tokio's clock.
pub async fn sleep_until(deadline: Instant) {
    tokio::time::sleep_until(deadline.into()).await
}

/// Time passed since `start` on the same clock (zero if the clock was moved back).
pub fn since(start: Instant) -> std::time::Duration {
    now().saturating_duration_since(start)
}
