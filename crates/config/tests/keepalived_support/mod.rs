//! Shared helpers for the keepalived parser tests: parse text or files, look at diagnostics,
//! and make temporary directories that are removed on drop.
#![allow(dead_code)]

use fulcrum_config::keepalived::Parser;
use fulcrum_config::model::Keepalived;
use fulcrum_config::{Diagnostic, Diagnostics, Severity};
use std::path::{Path, PathBuf};

/// Parses one in-memory file named `test.conf` in a directory that does not exist.
pub fn parse(text: &str) -> (Keepalived, Vec<Diagnostic>) {
    parse_named("/nonexistent-fulcrum-dir/test.conf", text)
}

pub fn parse_named(name: &str, text: &str) -> (Keepalived, Vec<Diagnostic>) {
    let mut d = Diagnostics::new();
    let mut p = Parser::new();
    p.parse_file(name, text, &mut d);
    let k = p.finish(&mut d);
    (k, d.into_vec())
}

/// Parses real files in order, as `fulcrum -f A -f B` does.
pub fn parse_files(paths: &[&Path]) -> (Keepalived, Vec<Diagnostic>) {
    let mut d = Diagnostics::new();
    let mut p = Parser::new();
    for path in paths {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("test file {}: {e}", path.display()));
        p.parse_file(&path.display().to_string(), &text, &mut d);
    }
    let k = p.finish(&mut d);
    (k, d.into_vec())
}

/// Parses and asserts there is no diagnostic at all.
pub fn parse_clean(text: &str) -> Keepalived {
    let (k, d) = parse(text);
    assert!(d.is_empty(), "expected no diagnostics, got:\n{}", show(&d));
    k
}

pub fn errors(d: &[Diagnostic]) -> Vec<&Diagnostic> {
    d.iter().filter(|x| x.severity == Severity::Error).collect()
}

pub fn warnings(d: &[Diagnostic]) -> Vec<&Diagnostic> {
    d.iter()
        .filter(|x| x.severity == Severity::Warning)
        .collect()
}

pub fn show(d: &[Diagnostic]) -> String {
    d.iter().map(|x| format!("  {x}\n")).collect()
}

/// The one diagnostic of `severity` whose message contains `needle`; panics with all of them otherwise.
pub fn find<'a>(d: &'a [Diagnostic], severity: Severity, needle: &str) -> &'a Diagnostic {
    let found: Vec<&Diagnostic> = d
        .iter()
        .filter(|x| x.severity == severity && x.message.contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {severity:?} containing {needle:?}, got:\n{}",
        show(d)
    );
    found[0]
}

/// A minimal valid vrrp_instance wrapped around `body` lines.
pub fn instance(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {{\n        192.0.2.10/24\n    }}\n{body}\n}}\n"
    )
}

/// A temporary directory under the system temp dir, unique per process and name, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("fulcrum-ka-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        TempDir(p)
    }
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
        }
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
