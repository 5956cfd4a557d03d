//! Statistics: activity counters, the snapshot of every frontend, backend and server, and the
//! forms HAProxy users read it in (CSV, JSON, the HTML stats page), plus the page's admin
//! actions.
//!
//! Files: `counters` (sharded per-thread counters, summed on read), `snapshot` (typed rows from
//! a running generation), `csv` (HAProxy 2.6's `show stat` CSV, same columns in the same
//! order), `json`, `page` (HTML), `admin` (the page's POST actions), `serve` (answering the
//! `stats uri`).

pub mod counters;
pub mod csv;
pub mod serve;
pub mod snapshot;
