//! Stick-table replication between fulcrum nodes (HAProxy's `peers` role, fulcrum's own
//! protocol: it does not talk to HAProxy peers).
//!
//! Layers, lowest first: `wire` (the line protocol, pure), `machine` (one node's sync state
//! machine, pure: hello, resync on connect, updates out and in, heartbeats, redial),
//! `net` (the tokio adapter: listener, dialers, one reader and one writer task per
//! connection). The tables live in the proxy; the adapter reaches them through [`Tables`].

pub mod machine;
pub mod net;
pub mod wire;

pub use machine::{Config, Entry};
pub use net::{start, Replicator, Tables};
