//! The fuzz corpus of fuzz/ (haproxy_config, keepalived_config), replayed on stable: every
//! saved input, seed and crash is parsed by the same calls as the fuzz targets and must not
//! panic. A crash the fuzzer finds is saved under fuzz/artifacts/TARGET/ and stays here as a
//! regression test.
#![allow(clippy::unwrap_used)]

use fulcrum_config::diagnostics::Diagnostics;
use std::path::{Path, PathBuf};

fn files(kind: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "corpus", "artifacts"] {
        if let Ok(rd) = std::fs::read_dir(root.join(dir).join(kind)) {
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

#[test]
fn haproxy_corpus_replays_without_panic() {
    let all = files("haproxy_config");
    assert!(all.len() >= 3, "the seeds at least: {all:?}");
    for f in &all {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        let mut d = Diagnostics::new();
        let mut p = fulcrum_config::haproxy::Parser::new();
        p.parse_file("fuzz.cfg", &text, &mut d);
        let _ = p.finish(&mut d);
    }
}

#[test]
fn keepalived_corpus_replays_without_panic() {
    let all = files("keepalived_config");
    assert!(all.len() >= 20, "the seeds at least: {all:?}");
    for f in &all {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        if text.contains("include") {
            continue; // as the fuzz target: no file-system reads
        }
        let mut d = Diagnostics::new();
        let mut p = fulcrum_config::keepalived::Parser::with_config_id("fuzz");
        p.parse_file("fuzz.conf", &text, &mut d);
        let _ = p.finish(&mut d);
    }
}
