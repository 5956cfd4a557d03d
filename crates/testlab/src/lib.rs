//! Test-only helpers: network-namespace topologies and child processes that never outlive a test.
//!
//! `netns` builds a hub namespace holding a bridge and one namespace per node joined to it by a
//! veth, addresses in 10.99.0.0/16, and removes everything on drop. `process` wraps child
//! processes so they are killed on drop. This crate may shell out to `ip`: it is test-only.
#![allow(clippy::unwrap_used)]

pub mod http;
pub mod netns;
pub mod process;
pub mod smtp;
pub mod wait;
