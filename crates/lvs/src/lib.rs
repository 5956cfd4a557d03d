//! LVS virtual servers (keepalived's `virtual_server`) forwarded by the kernel's nftables.
//!
//! - `build` (pure): virtual servers + live real-server states → the wanted ruleset in
//!   fulcrum's own tables (`inet fulcrum_lvs` for NAT, `netdev fulcrum_lvs` for DR, built in
//!   `build::dr`).
//! - `ruleset` (pure): the ruleset as data and the minimal transaction between two of them.
//! - `sched` (pure): LVS schedulers as slot tables.
//! - `core` (pure): the state machine — checker results, weights, quorum/hysteresis — that
//!   yields plans.
//! - `conntrack`: active/inactive connections per NAT real server (parser + file read), and
//!   the deletion of a dead server's flows (`expire_nodest_conn`, through `conntrack -D`).
//! - `nft`: the adapter running `nft` (one transaction per plan) and reading the kernel back.
//!
//! IPVS is not used: the kernels fulcrum targets (its own CI machines) have no IPVS, while
//! every current kernel has nf_tables.

pub mod build;
pub mod conntrack;
pub mod core;
pub mod names;
pub mod nft;
pub mod ruleset;
pub mod sched;

pub use crate::core::{Core, Plan};
pub use build::RsLive;
