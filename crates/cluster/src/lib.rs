//! Cluster mode: many service VIPs placed over N nodes through etcd, moved on failure, never
//! held by two nodes at once (Pacemaker's job in the seeds, on etcd's consensus).
//!
//! Layers: `placement` (pure: where VIPs should run) ← `agent` (pure: one node's round,
//! actions out) ← `keys` (the etcd key layout, pure decode); adapters: `session` (etcd lease
//! and deadline on CLOCK_BOOTTIME), `address` (netlink + gratuitous ARP/NA, reusing
//! fulcrum-vrrp's), `runner` (the task that ties them together).

pub mod agent;
pub mod keys;
pub mod placement;
