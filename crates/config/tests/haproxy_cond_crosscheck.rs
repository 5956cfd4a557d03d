//! `.if` conditions: fulcrum's verdict on each case of `cond_expr_cases.txt` is the one
//! recorded there, and the real `haproxy -c` (2.6) gives the recorded haproxy verdict for
//! every case, so the table cannot drift from haproxy. A case where fulcrum answers
//! differently by design (a documented choice: `feature(LUA)`, `openssl_version_*`, ...)
//! has a third column. Without haproxy the comparison is skipped loudly, except under
//! FULCRUM_REQUIRE_NETNS=1 (CI), where it fails.

use std::io::Write;
use std::process::{Command, Stdio};

const UNSET: &str = "FULCRUM_COND_UNSET";

fn cases() -> Vec<(String, String, String)> {
    include_str!("../src/haproxy/cond_expr_cases.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(cols.len() == 2 || cols.len() == 3, "bad case line {l:?}");
            let ours = cols.get(2).unwrap_or(&cols[1]).to_string();
            (cols[0].to_string(), cols[1].to_string(), ours)
        })
        .collect()
}

/// Something to start, so that `haproxy -c` exits 0 on a valid file.
const PROXIES: &str = "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\nfrontend f\n bind 127.0.0.1:18399\n default_backend b\nbackend b\n server s 127.0.0.1:18400\n";

fn config(expr: &str) -> String {
    format!("global\n.if {expr}\n.notice COND_TRUE\n.else\n.notice COND_FALSE\n.endif\n{PROXIES}")
}

fn fulcrum_verdict(expr: &str) -> String {
    let text = config(expr);
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "cond.cfg",
        text: &text,
    }]);
    let all: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    let errors = all.iter().any(|d| d.contains(": error: "));
    let t = all.iter().any(|d| d.ends_with("notice: COND_TRUE"));
    let f = all.iter().any(|d| d.ends_with("notice: COND_FALSE"));
    // After an error the block is read as false: its `.else` runs, the load fails anyway.
    match (errors, t, f) {
        (false, true, false) => "T".into(),
        (false, false, true) => "F".into(),
        (true, false, _) => "ERR".into(),
        other => panic!("{expr:?}: unclear fulcrum verdict {other:?}: {all:#?}"),
    }
}

/// `None` when haproxy cannot be run.
fn haproxy_verdict(expr: &str) -> Option<String> {
    let mut child = Command::new("haproxy")
        .args(["-c", "-f", "/dev/stdin"])
        .env_remove(UNSET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()?
        .write_all(config(expr).as_bytes())
        .ok()?;
    let out = child.wait_with_output().ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (t, f) = (text.contains("COND_TRUE"), text.contains("COND_FALSE"));
    Some(match (out.status.success(), t, f) {
        (true, true, false) => "T".into(),
        (true, false, true) => "F".into(),
        (false, false, false) => "ERR".into(),
        other => panic!("{expr:?}: unclear haproxy verdict {other:?}: {text}"),
    })
}

#[test]
fn conditions_as_recorded_for_fulcrum() {
    assert!(std::env::var_os(UNSET).is_none(), "{UNSET} must not be set");
    assert!(std::env::var_os("PATH").is_some(), "PATH must be set");
    let cases = cases();
    assert!(cases.len() > 100);
    let wrong: Vec<String> = cases
        .iter()
        .map(|(e, _, ours)| (e, ours, fulcrum_verdict(e)))
        .filter(|(_, ours, got)| *ours != got)
        .map(|(e, ours, got)| format!("{e:?}: expected {ours}, fulcrum says {got}"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn conditions_as_recorded_for_haproxy() {
    if haproxy_verdict("1").is_none() {
        assert!(
            std::env::var("FULCRUM_REQUIRE_NETNS").map_or(true, |v| v != "1"),
            "haproxy is not installed but FULCRUM_REQUIRE_NETNS=1 requires the comparison"
        );
        eprintln!("\n*** SKIPPING the comparison with the real haproxy: `haproxy` is not installed (apt-get install haproxy) ***\n");
        return;
    }
    let wrong: Vec<String> = cases()
        .iter()
        .map(|(e, theirs, _)| (e.clone(), theirs.clone(), haproxy_verdict(e)))
        .filter(|(_, theirs, got)| got.as_deref() != Some(theirs.as_str()))
        .map(|(e, theirs, got)| format!("{e:?}: recorded {theirs}, haproxy says {got:?}"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}
