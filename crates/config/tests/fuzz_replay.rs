//! The fuzz corpus of fuzz/ (haproxy_config, keepalived_config), replayed on stable: every
//! saved input, seed and crash is parsed by the same calls as the fuzz targets and must not
//! panic. A crash the fuzzer finds is saved under fuzz/artifacts/TARGET/ and stays here as a
//! regression test.
#![allow(clippy::unwrap_used)]

use fulcrum_config::diagnostics::Diagnostics;
use std::path::PathBuf;

fn files(kind: &str) -> Vec<PathBuf> {
    fulcrum_testlab::fuzz_inputs(kind)
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
