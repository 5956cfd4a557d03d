//! Run-time state of one `server` line: where it is, whether it is usable, how busy it is.
//!
//! Health checks (a later subsystem) flip `up`; the balancer reads it through the backend's
//! state version, so a change is seen at the next pick. Counters are atomics because every
//! worker thread serves the same backends. This module holds state only: no I/O.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Orders load changes across all servers (leastconn's tie-break: longest unchanged first).
static CHANGE_SEQ: AtomicU64 = AtomicU64::new(1);

/// Where to connect: a fixed address, or the client connection's destination port (+offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Fixed(SocketAddr),
    /// No port written: keep the destination port of the client connection.
    SamePort(IpAddr),
    /// `+N`/`-N`: offset from the destination port.
    Offset(IpAddr, i32),
}

impl Target {
    pub fn resolve(&self, dst_port: u16) -> SocketAddr {
        match *self {
            Target::Fixed(a) => a,
            Target::SamePort(ip) => SocketAddr::new(ip, dst_port),
            Target::Offset(ip, off) => {
                let port = (i32::from(dst_port) + off).clamp(1, 65535);
                SocketAddr::new(ip, u16::try_from(port).unwrap_or(dst_port))
            }
        }
    }
}

#[derive(Debug)]
pub struct ServerRt {
    /// Unique in the process: keys the per-thread connection pools across reloads.
    pub id: u64,
    pub name: String,
    pub target: Target,
    pub weight: u32,
    pub maxconn: Option<u32>,
    pub backup: bool,
    /// Usable for balancing: not `disabled`, and (later) passing its health checks.
    up: AtomicBool,
    /// Requests/connections currently assigned (HAProxy's `served`).
    served: AtomicU32,
    /// Total connections assigned since start (logs, tests).
    total: AtomicU64,
    /// When `served` last changed (from `CHANGE_SEQ`).
    changed: AtomicU64,
    /// The server line has `observe`: the data plane reports what it sees (passive health).
    observed: AtomicBool,
}

impl ServerRt {
    pub fn new(name: String, target: Target, weight: u32, maxconn: Option<u32>, backup: bool, up: bool) -> Self {
        ServerRt {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name,
            target,
            weight,
            maxconn: maxconn.filter(|m| *m > 0),
            backup,
            up: AtomicBool::new(up),
            served: AtomicU32::new(0),
            total: AtomicU64::new(0),
            changed: AtomicU64::new(CHANGE_SEQ.fetch_add(1, Ordering::Relaxed)),
            observed: AtomicBool::new(false),
        }
    }
    /// Whether passive health wants this server's observations (`observe`).
    pub fn observed(&self) -> bool {
        self.observed.load(Ordering::Relaxed)
    }
    pub fn set_observed(&self, on: bool) {
        self.observed.store(on, Ordering::Relaxed)
    }
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }
    /// Returns true when the state changed (the caller bumps the backend's state version).
    pub fn set_up(&self, up: bool) -> bool {
        self.up.swap(up, Ordering::AcqRel) != up
    }
    pub fn served(&self) -> u32 {
        self.served.load(Ordering::Relaxed)
    }
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
    /// Whether one more request may be sent now (`maxconn`).
    pub fn has_room(&self) -> bool {
        match self.maxconn {
            Some(m) => self.served() < m,
            None => true,
        }
    }
    pub fn changed_at(&self) -> u64 {
        self.changed.load(Ordering::Relaxed)
    }
    pub fn take(&self) {
        self.served.fetch_add(1, Ordering::AcqRel);
        self.total.fetch_add(1, Ordering::Relaxed);
        self.changed.store(CHANGE_SEQ.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
    }
    pub fn release(&self) {
        self.served.fetch_sub(1, Ordering::AcqRel);
        self.changed.store(CHANGE_SEQ.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
    }
    /// Same server line across a reload: same name, address and role keep the id and pools.
    pub fn same_definition(&self, other: &ServerRt) -> bool {
        self.name == other.name && self.target == other.target
    }
}
