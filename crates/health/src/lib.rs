//! fulcrum's health checks: HAProxy `check` servers and keepalived real-server checkers.
//!
//! Pure machines decide (`state` for HAProxy's rise/fall, `keepalived` for retry/delay_loop,
//! `observe` for passive health); `probe` holds the thin async adapters that do one check;
//! `scheduler` runs them for a whole config and reports every change on a channel.

pub mod keepalived;
pub mod log;
pub mod observe;
pub mod probe;
pub mod scheduler;
pub mod spec;
pub mod state;
pub mod status;

pub use observe::Observed;
pub use scheduler::{HealthEvent, HealthHandle, HealthMonitor};
pub use state::{CheckTiming, HaproxyCheck, PassiveHealth, StateChange};
pub use status::{CheckOutcome, CheckStatus};

/// Errors at the crate's boundary.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("invalid check configuration for {what}: {detail}")]
    Config { what: String, detail: String },
}
