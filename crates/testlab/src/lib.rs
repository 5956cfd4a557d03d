//! Test-only helpers: network-namespace topologies and child processes that never outlive a test.
//!
//! `netns` builds a hub namespace holding a bridge and one namespace per node joined to it by a
//! veth, addresses in 10.99.0.0/16, and removes everything on drop. `process` wraps child
//! processes so they are killed on drop. This crate may shell out to `ip`: it is test-only.
#![allow(clippy::unwrap_used)]

pub mod alloc_count;
pub mod etcd;
pub mod http;
pub mod keepalived;
pub mod load;
pub mod netns;
pub mod ports;
pub mod process;
pub mod require;
pub mod smtp;
pub mod wait;

/// Every saved fuzz input of `target` (fuzz/seeds, fuzz/corpus, fuzz/artifacts), sorted: the
/// crates' fuzz_replay tests run them on stable.
pub fn fuzz_inputs(target: &str) -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "corpus", "artifacts"] {
        if let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) {
            out.extend(
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_file()),
            );
        }
    }
    out.sort();
    out
}
