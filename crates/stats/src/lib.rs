//! fulcrum's administrative pages, above the data plane: the snapshot of every frontend,
//! backend and server, the forms HAProxy users read it in (CSV, JSON, the HTML stats page),
//! the page's admin actions, and the `prometheus-exporter` service. They are applets
//! (`fulcrum_proxy::applet`): the proxy calls them from one phase of a session and never
//! imports this crate.
//!
//! # API for other parts (runtime socket `show stat`, the binary, `fulcrum status`)
//!
//! ```text
//! Stats::new() -> Stats                         the services the binary hands to the proxy
//!     Stats::set_source(Option<Arc<dyn MetricsSource>>)   fulcrum's own Prometheus families
//! snapshot::snapshot(gen: &state::Generation) -> Vec<snapshot::StatRow>
//!     typed rows, HAProxy's order: per proxy (by `iid`) FRONTEND, servers, BACKEND
//! csv::render(rows: &[StatRow]) -> String      HAProxy 2.6 `show stat` CSV (header + lines)
//! csv::{header() -> String, line(&StatRow) -> String, field(&StatRow, col) -> Field, COLUMNS}
//! json::render(rows: &[StatRow]) -> String     the `;json` typed form
//! ```
//!
//! The counters themselves and what a finished request adds to them belong to the data plane
//! (`fulcrum_proxy::counters`, `fulcrum_proxy::record`); this crate only reads them.
//!
//! Files: `snapshot` (typed rows), `csv`, `json`, `page` (HTML), `lvs` (the page's LVS
//! table), `admin` (the page's POST form), `serve` (answering a proxy's `stats uri`: auth, options, dispatch), `prometheus/`
//! (the exporter service), `services` (name resolution for the proxy, process facts).

pub mod admin;
pub mod csv;
pub mod fuzzing;
pub mod json;
pub mod lvs;
pub mod page;
pub mod prometheus;
pub mod row;
pub mod serve;
pub mod services;
pub mod snapshot;

pub use services::Stats;
