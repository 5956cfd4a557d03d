//! The one rule for tests that need a tool, a daemon or privileges: run when they are there;
//! when not, skip loudly, except under FULCRUM_REQUIRE_NETNS=1 (CI), where the test fails.
//! A comparison with haproxy or keepalived never silently compares nothing.

use std::process::{Command, Stdio};

/// Whether this run requires every privileged or tool-dependent test (CI sets it).
pub fn required() -> bool {
    std::env::var("FULCRUM_REQUIRE_NETNS").is_ok_and(|v| v == "1")
}

/// Skips `test` loudly (past the harness's output capture), or panics under
/// FULCRUM_REQUIRE_NETNS=1.
pub fn skip(test: &str, why: &str) {
    assert!(!required(), "{test}: FULCRUM_REQUIRE_NETNS=1 but {why}");
    eprintln!("\n*** SKIPPING {test}: {why}; set FULCRUM_REQUIRE_NETNS=1 to fail instead ***\n");
}

/// Whether `tool` is on the PATH (or in /usr/sbin, /sbin).
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args([
            "-c",
            &format!("PATH=\"$PATH:/usr/sbin:/sbin\" command -v {tool}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `tool` (Debian package `package`) is installed; when not, a loud skip, or a panic
/// under FULCRUM_REQUIRE_NETNS=1.
pub fn tool(test: &str, tool: &str, package: &str) -> bool {
    if have(tool) {
        return true;
    }
    skip(
        test,
        &format!("`{tool}` is not installed (apt-get install {package})"),
    );
    false
}
