//! fulcrum's health checks: HAProxy `check` servers and keepalived real-server checkers.
//!
//! Layers, bottom up:
//! - data: `status` (HAProxy's check statuses), `spec` (the plan: which checks, how, how often);
//! - pure machines that decide: `state` (HAProxy's rise/fall), `keepalived` (retry/delay_loop),
//!   `observe` (passive health), all behind the one `machine::CheckMachine` trait;
//!   `reconcile` (plan + old checks + now → checks + replayed events), also pure;
//! - `probe`: the thin async adapters that run one check (`probe::script` is the one engine
//!   of tcp-check sequences and HAProxy's protocol checks);
//! - `clock` (tokio's time, so paused time drives everything), `driver` (the task that feeds
//!   the machines) and `handle` (start, reload, pause, read states).
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

pub mod clock;
mod connect_poll;
mod connect_spare;
mod driver;
mod driver_ctx;
mod driver_feed;
mod driver_publish;
pub mod events;
pub mod handle;
pub mod keepalived;
mod last_checks;
pub mod log;
pub mod machine;
pub mod observe;
pub mod probe;
pub mod reconcile;
pub mod send_state;
pub mod spec;
mod spec_keepalived;
pub mod state;
pub mod status;

pub use driver::RESULT_BATCH;
pub use events::{CheckResult, HealthEvent};
pub use handle::{CheckResults, HealthHandle, HealthMonitor, Observer};
pub use observe::Observed;
pub use state::{CheckTiming, HaproxyCheck, PassiveHealth, StateChange};
pub use status::{CheckOutcome, CheckStatus};

/// Errors at the crate's boundary.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("invalid check configuration for {what}: {detail}")]
    Config { what: String, detail: String },
}
