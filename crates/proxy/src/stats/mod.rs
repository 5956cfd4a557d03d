//! Statistics: activity counters, the snapshot of every frontend, backend and server, the forms
//! HAProxy users read it in (CSV, JSON, the HTML stats page) and the page's admin actions.
//!
//! # API for other parts (runtime socket `show stat`, Prometheus exporter, `fulcrum status`)
//!
//! ```text
//! stats::snapshot::snapshot(gen: &state::Generation) -> Vec<snapshot::StatRow>
//!     typed rows, HAProxy's order: per proxy (by `iid`) FRONTEND, servers, BACKEND
//! stats::csv::render(rows: &[StatRow]) -> String      HAProxy 2.6 `show stat` CSV (header + lines)
//! stats::csv::{header() -> String, line(&StatRow) -> String, field(&StatRow, col) -> Field, COLUMNS}
//! stats::json::render(rows: &[StatRow]) -> String     the `;json` typed form
//! server::ServerRt::{set_admin, admin, set_weight, uweight, effective_weight}   admin API
//! backend::Backend::{set_server_admin, set_server_weight, server_index}        (wakes the queue)
//! ```
//!
//! Files: `counters` (per-thread sharded counters, summed on read), `record` (what a finished
//! request adds to them), `snapshot` (typed rows), `csv`, `json`, `page` (HTML), `admin` (the
//! page's POST form), `serve` (answering a proxy's `stats uri`: auth, options, dispatch).

pub mod admin;
pub mod counters;
pub mod csv;
pub mod json;
pub mod page;
pub mod record;
pub mod serve;
pub mod snapshot;
