//! Cluster mode: many service VIPs placed over N nodes through etcd, moved on failure, never
//! held by two nodes at once (Pacemaker's job in the seeds, on etcd's consensus).

pub mod placement;
