//! Issue 19 item 8: nothing is parsed and silently dropped. Every field of the config model
//! (`crates/config/src/model*.rs`, `pub` fields of `pub struct`s) must be read by a subsystem:
//! some source file outside the config crate accesses it (`.field`). A field no subsystem reads
//! must be on [`COSMETIC`] (with why ignoring it changes nothing a client or log reader sees)
//! or on [`NOT_YET`] (with who owns the gap); the test fails on any other, and on a listed
//! field that has since become read (so the lists only shrink).
//!
//! The check is by name: a field whose name another struct also has and reads passes even if
//! its own value is never read. It catches the common case: a keyword parsed into a new field
//! that no subsystem looks at.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Read by no subsystem, and rightly so.
const COSMETIC: &[(&str, &str, &str)] = &[
    (
        "BootLimit",
        "soft",
        "not parsed: the descriptor limit at start, an input of `model_fds::budget` (read there)",
    ),
    (
        "BootLimit",
        "hard",
        "not parsed: the descriptor limit at start, an input of `model_fds::budget` (read there)",
    ),
    (
        "SourceFile",
        "dialect",
        "which parser read a file: `fulcrum check`'s summary (config crate), no runtime effect",
    ),
    (
        "Proxy",
        "defaults",
        "name of the defaults section inherited from: its values are already copied by the parser",
    ),
    (
        "HttpCheck",
        "inherited",
        "parser bookkeeping: whether the http-check rules came from a defaults section",
    ),
    (
        "GlobalDefs",
        "vrrp_version",
        "resolved by the parser into each vrrp_instance's `version`, which the vrrp crate reads",
    ),
    (
        "Acl",
        "ignore_case",
        "a summary of `words` for tooling (the model's JSON); the data plane compiles `words` with the sample engine",
    ),
    (
        "Acl",
        "match_method",
        "a summary of `words` for tooling (the model's JSON); the data plane compiles `words` with the sample engine",
    ),
    (
        "ProxyKeywords",
        "balance_set",
        "applied by the config crate itself: with a `balance` line HAProxy ignores `dispatch` (the parser drops it with HAProxy's warning)",
    ),
    (
        "Global",
        "zero_warning",
        "applied by the config crate itself: loading refuses a configuration with any warning",
    ),
    (
        "Global",
        "tune_comp_maxlevel",
        "resolved by the parser into each proxy's compression level (`Compression.maxlevel`)",
    ),
    (
        "Proxy",
        "fullconn",
        "only scales servers' `minconn`, which fulcrum refuses (so fullconn has nothing to act on)",
    ),
    (
        "UniqueId",
        "format_at",
        "where `unique-id-format` was written: the config crate's warnings (`l6_http.rs`) point at it",
    ),
];

/// Read by no subsystem yet: real gaps, each owned elsewhere.
const NOT_YET: &[(&str, &str, &str)] = &[];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// (struct, field) for every `pub` field of every `pub struct` with named fields.
fn model_fields() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let dir = root().join("crates/config/src");
    // `model.rs`, `model_*.rs`, and the section files under `model/`.
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .expect("config src")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .is_some_and(|n| n.starts_with("model") && n.ends_with(".rs"))
        })
        .collect();
    files.extend(
        std::fs::read_dir(dir.join("model"))
            .expect("config src/model")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs")),
    );
    for path in files {
        let text = std::fs::read_to_string(&path).expect("model file");
        let mut current: Option<String> = None;
        for line in text.lines() {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix("pub struct ") {
                let n: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                current = rest.contains('{').then_some(n);
                continue;
            }
            if line.starts_with('}') {
                current = None;
                continue;
            }
            if let (Some(s), Some(rest)) = (&current, t.strip_prefix("pub ")) {
                if let Some((field, _)) = rest.split_once(':') {
                    if field.chars().all(|c| c.is_alphanumeric() || c == '_') {
                        out.push((s.clone(), field.to_string()));
                    }
                }
            }
        }
    }
    out
}

fn read_outside_config(field: &str, sources: &str) -> bool {
    let needle = format!(".{field}");
    sources.match_indices(&needle).any(|(i, _)| {
        let after = sources[i + needle.len()..].chars().next();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn every_model_field_is_read_by_a_subsystem_or_listed() {
    let fields = model_fields();
    assert!(
        fields.len() > 150,
        "the model parser found {} fields: the scan is broken",
        fields.len()
    );
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root().join("crates"))
        .expect("crates")
        .flatten()
    {
        if entry.file_name() == "config" {
            continue;
        }
        rust_files(&entry.path().join("src"), &mut files);
    }
    let sources: String = files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect::<Vec<_>>()
        .join("\n");
    let listed: BTreeSet<(&str, &str)> = COSMETIC
        .iter()
        .chain(NOT_YET)
        .map(|(s, f, _)| (*s, *f))
        .collect();
    let mut problems = Vec::new();
    for (s, f) in &fields {
        let read = read_outside_config(f, &sources);
        let on_list = listed.contains(&(s.as_str(), f.as_str()));
        if !read && !on_list {
            problems.push(format!(
                "{s}.{f} is parsed but read by no subsystem: use it, or list it with a reason"
            ));
        }
        if read && on_list {
            problems.push(format!("{s}.{f} is read now: take it off the list"));
        }
    }
    for (s, f) in &listed {
        if !fields.iter().any(|(a, b)| a == s && b == f) {
            problems.push(format!("{s}.{f} is listed but not a model field"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
