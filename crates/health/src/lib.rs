//! fulcrum's health checks: HAProxy `check` servers and keepalived real-server checkers.
//!
//! Pure machines decide (`state` for HAProxy's rise/fall, `keepalived` for retry/delay_loop,
//! `observe` for passive health); `probe` holds the thin async adapters that do one check;
//! `scheduler` runs them for a whole config and reports every change on a channel.
//!
//! Wiring (data plane side):
//! ```text
//! let (mut health, mut events) = HealthMonitor::start(&config);   // inside the runtime
//! // one task: apply changes to the run-time servers
//! while let Some(ev) = events.recv().await {
//!     // ev.backend / ev.server name the `server` line; ev.up is the new state;
//!     // ev.log_line is HAProxy's line (empty for ev.replay after a reload);
//!     // ev.no_server_line is set when the backend has nothing left;
//!     // keepalived: ev.inhibit_on_failure → weight 0 instead of removal.
//! }
//! // forward path (workers get a cloneable `health.observer()`; a no-op without `observe`):
//! observer.report(backend, server, Observed::HttpStatus(502));
//! health.reload(&new_config);  health.shutdown().await;
//! ```
//! Servers with `check` start UP (HAProxy), so the data plane builds them up and only
//! applies events.

pub mod keepalived;
pub mod log;
pub mod observe;
pub mod probe;
pub mod scheduler;
pub mod spec;
pub mod state;
pub mod status;

pub use observe::Observed;
pub use scheduler::{CheckResult, HealthEvent, HealthHandle, HealthMonitor, Observer};
pub use state::{CheckTiming, HaproxyCheck, PassiveHealth, StateChange};
pub use status::{CheckOutcome, CheckStatus};

/// Errors at the crate's boundary.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("invalid check configuration for {what}: {detail}")]
    Config { what: String, detail: String },
}
