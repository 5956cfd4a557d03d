//! fulcrum gives the same verdict as the real `haproxy -c -f` on every file in haproxy_cases/.
//!
//! `valid/` files must load without error and `invalid/` ones with at least one, whatever
//! haproxy is installed; with haproxy installed (Debian `haproxy`), its verdict must match too.
//! Without it the comparison is skipped loudly, except under FULCRUM_REQUIRE_NETNS=1 (CI).

use std::path::{Path, PathBuf};
use std::process::Command;

fn cases(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/haproxy_cases")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cases in {}", dir.display());
    files
}

fn haproxy_verdict(file: &Path) -> Option<bool> {
    let out = Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(file)
        .output()
        .ok()?;
    Some(out.status.success())
}

fn fulcrum_verdict(file: &Path) -> (bool, Vec<String>) {
    let loaded = fulcrum_config::load_files(&[file]);
    (
        loaded.is_ok(),
        loaded.diagnostics.iter().map(|d| d.to_string()).collect(),
    )
}

fn require_tools() -> bool {
    std::env::var("FULCRUM_REQUIRE_NETNS").is_ok_and(|v| v == "1")
}

#[test]
fn same_verdict_as_haproxy() {
    let have_haproxy = haproxy_verdict(Path::new("/dev/null")).is_some();
    if !have_haproxy {
        assert!(
            !require_tools(),
            "haproxy is not installed but FULCRUM_REQUIRE_NETNS=1 requires the comparison"
        );
        eprintln!("\n*** SKIPPING the comparison with the real haproxy: `haproxy` is not installed (apt-get install haproxy) ***\n");
    }
    let mut compared = 0;
    for (kind, expect_ok) in [("valid", true), ("invalid", false)] {
        for file in cases(kind) {
            let (ok, diags) = fulcrum_verdict(&file);
            assert_eq!(
                ok,
                expect_ok,
                "{}: fulcrum says valid={ok}, expected {expect_ok}: {diags:#?}",
                file.display()
            );
            if !expect_ok {
                let name = file.display().to_string();
                assert!(
                    diags
                        .iter()
                        .any(|d| d.starts_with(&format!("{name}:")) && d.contains(": error: ")),
                    "{name}: errors must be FILE:LINE: error: ...: {diags:#?}"
                );
            }
            if have_haproxy {
                let theirs = haproxy_verdict(&file);
                assert_eq!(
                    theirs,
                    Some(ok),
                    "{}: haproxy -c says valid={theirs:?}, fulcrum says {ok}: {diags:#?}",
                    file.display()
                );
                compared += 1;
            }
        }
    }
    if have_haproxy {
        assert!(compared >= 20, "compared only {compared} files");
    }
}

#[test]
fn shared_fixtures_pass_like_haproxy() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let entries = std::fs::read_dir(&dir).expect("tests/fixtures is part of the repo");
    let mut n = 0;
    for e in entries.flatten() {
        let path = e.path();
        let (ok, diags) = fulcrum_verdict(&path);
        assert!(ok, "{} must pass fulcrum check: {diags:#?}", path.display());
        if path.to_string_lossy().ends_with(".haproxy.cfg") {
            if let Some(theirs) = haproxy_verdict(&path) {
                assert!(theirs, "haproxy -c rejects {}", path.display());
            }
        }
        n += 1;
    }
    assert!(n >= 4, "expected the four seed fixtures, found {n}");
}
