//! `fulcrum check` as operators call it: exit codes, FILE:LINE messages, summary, `--dump`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fulcrum(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(args)
        .output()
        .expect("run fulcrum")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("fulcrum-cli-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    fn file(&self, name: &str, content: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, content).expect("write");
        p.display().to_string()
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_shared_fixture_passes_check() {
    let dir = fixtures();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir)
        .expect("tests/fixtures must exist in the repo")
        .flatten()
    {
        let path = entry.path();
        let out = fulcrum(&["check", "-f", &path.display().to_string()]);
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        assert!(stdout.starts_with("Configuration is valid:"), "{stdout}");
        assert_eq!(stdout.lines().count(), 1, "one summary line: {stdout}");
        n += 1;
    }
    assert!(n >= 4);
}

#[test]
fn seed_fixture_summaries_count_what_is_in_them() {
    let f = fixtures().join("seed000-openstack-controllers.haproxy.cfg");
    let out = fulcrum(&["check", "-f", &f.display().to_string()]);
    let s = text(&out.stdout);
    assert!(
        s.contains("3 frontends, 3 backends, 9 servers, 0 VRRP instances, 0 virtual servers"),
        "{s}"
    );
    let k = fixtures().join("seed001-lvs-dr.keepalived.conf");
    let out = fulcrum(&["check", "-f", &k.display().to_string()]);
    let s = text(&out.stdout);
    assert!(
        s.contains("0 frontends, 0 backends, 0 servers, 1 VRRP instance, 1 virtual server"),
        "{s}"
    );
    // Deprecated keywords are accepted with a warning that names the file and line.
    let e = text(&out.stderr);
    let name = k.display().to_string();
    assert!(
        e.contains(&format!("{name}:33: warning:")) && e.contains("nat_mask"),
        "{e}"
    );
    assert!(
        e.contains(&format!("{name}:45: warning:")) && e.contains("nb_get_retry"),
        "{e}"
    );
}

#[test]
fn several_files_are_read_in_order_and_mixed_dialects_combine() {
    let t = TempDir::new("multi");
    let a = t.file(
        "a.cfg",
        "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n",
    );
    let b = t.file("b.cfg", "frontend f\n bind 127.0.0.1:18400\n default_backend b\nbackend b\n server s 127.0.0.1:18401\n");
    let k = t.file("k.conf", "vrrp_instance VI_1 {\n state MASTER\n interface lo\n virtual_router_id 7\n priority 150\n virtual_ipaddress {\n  10.99.7.1/24\n }\n}\n");
    let out = fulcrum(&["check", "-f", &a, "-f", &b, "-f", &k, "--dump"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--dump prints JSON");
    assert_eq!(
        json["proxies"][0]["mode"], "http",
        "defaults of a.cfg apply to b.cfg"
    );
    assert_eq!(json["files"][2]["dialect"], "keepalived");
    assert_eq!(json["keepalived"]["vrrp_instances"][0]["priority"], 150);
    // The dump is deterministic.
    let again = fulcrum(&["check", "-f", &a, "-f", &b, "-f", &k, "--dump"]);
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn errors_are_all_reported_with_file_and_line_and_exit_1() {
    let t = TempDir::new("errors");
    let f = t.file(
        "bad.cfg",
        "global\n    maxconn lots\n\nfrontend web\n    bind :80\n    defualt_backend app\n    use_backend nowhere if missing_acl\n\nbackend app\n    server a 10.0.0.1:80 weight 999\n",
    );
    let out = fulcrum(&["check", "-f", &f]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for (line, what) in [
        (2, "maxconn expects a whole number, found 'lots'"),
        (6, "unknown keyword 'defualt_backend' in 'frontend' section (did you mean 'default_backend'?)"),
        (7, "no such ACL: 'missing_acl'"),
        (7, "unable to find required backend 'nowhere'"),
        (10, "weight must be between 0 and 256, found 999"),
    ] {
        let expected = format!("{f}:{line}: error: {what}");
        assert!(err.contains(&expected), "missing `{expected}` in:\n{err}");
    }
    assert!(out.stdout.is_empty(), "no summary on failure");
}

#[test]
fn unreadable_file_is_an_error_not_a_panic() {
    let out = fulcrum(&["check", "-f", "/nonexistent/fulcrum.cfg"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("/nonexistent/fulcrum.cfg:0: error: cannot read file"),
        "{err}"
    );
}

#[test]
fn run_refuses_an_invalid_config() {
    let t = TempDir::new("run-bad");
    let f = t.file("bad.cfg", "frontend f\n bind :99999\n");
    let out = fulcrum(&["run", "-f", &f]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&format!("{f}:2: error:")));
}

/// What a start refuses, `check` refuses (it compiles the proxy as `run` does): a
/// `tcp-request connection` condition that reads the request passed `check` and then failed
/// the start.
#[test]
fn check_refuses_what_run_refuses() {
    let dir = TempDir::new("run-parity");
    let cfg = "defaults\n  timeout client 5s\n  timeout server 5s\n  timeout connect 5s\n\
               frontend h\n  mode tcp\n  bind 127.0.0.1:1\n\
               \x20 tcp-request connection reject if !{ req.len gt 0 }\n  default_backend b\n\
               backend b\n  mode tcp\n  server s 127.0.0.1:2\n";
    let path = dir.file("parity.cfg", cfg);
    let check = fulcrum(&["check", "-f", &path]);
    let stderr = text(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{path}:5: error: frontend h: {path}:8: the condition"
        )),
        "{stderr}"
    );
    let run = fulcrum(&["run", "-f", &path]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
}

#[test]
fn an_unknown_service_is_a_check_error_at_its_line() {
    let dir = TempDir::new("service");
    let cfg = "defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 5s\nfrontend web\n  bind 127.0.0.1:8080\n  http-request use-service prometheus-exporter if { path /metrics }\n  http-request use-service no-such-thing if { path /x }\n  default_backend app\nbackend app\n  server a 127.0.0.1:8081\n";
    let path = dir.file("service.cfg", cfg);
    let out = fulcrum(&["check", "-f", &path]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{path}:9: error: use-service 'no-such-thing': no such service"
        )),
        "{stderr}"
    );
    // The known service on line 8 is fine.
    assert!(!stderr.contains(":8:"), "{stderr}");
}

/// Stick rules on a `type string` table: Octavia's APP_COOKIE pair passes, and with a
/// condition; a form the proxy does not run yet (`store-response` in TCP mode) is an error at
/// its FILE:LINE.
#[test]
fn string_stick_rules_pass_or_fail_at_their_line() {
    let dir = TempDir::new("stickstr");
    let head =
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
                backend b\n stick-table type string len 64 size 10k\n";
    let ok = dir.file(
        "ok.cfg",
        &format!("{head} acl x path /\n stick store-response res.cook(JSESSIONID) if {{ status 200 }}\n stick match req.cook(JSESSIONID) if x\n server s 127.0.0.1:8080\n"),
    );
    let out = fulcrum(&["check", "-f", &ok]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bad = dir.file(
        "bad.cfg",
        &format!(
            "{}\n stick store-response res.cook(JSESSIONID)\n server s 127.0.0.1:8080\n",
            head.replace("mode http", "mode tcp").trim_end()
        ),
    );
    let out = fulcrum(&["check", "-f", &bad]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{bad}:8: error:")), "{err}");
}

/// Stick rules on an address table: `stick match src` runs, with a condition too; a
/// condition naming an ACL that does not exist is an error at its line, not a backend
/// silently run without stickiness.
#[test]
fn stick_rules_on_an_address_table_pass_or_fail_at_their_line() {
    let dir = TempDir::new("stickip");
    let head =
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         backend b\n stick-table type ip size 10k\n acl x path /\n";
    let ok = dir.file(
        "ip.cfg",
        &format!("{head} stick match src\n stick on src if x\n server s 127.0.0.1:8080\n"),
    );
    let out = fulcrum(&["check", "-f", &ok]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bad = dir.file(
        "ipif.cfg",
        &format!("{head} stick match src if nope\n server s 127.0.0.1:8080\n"),
    );
    let out = fulcrum(&["check", "-f", &bad]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{bad}:9:")), "{err}");
}

/// A stick table's `store` list is checked as `run` reads it: haproxy 2.6's refusals (an
/// array of 0 elements, a rate without its period, an array beside the legacy type it
/// replaces) are errors at the table's line; the arrays and the 2.6 types pass.
#[test]
fn stick_table_store_errors_at_their_line() {
    let dir = TempDir::new("stickstore");
    let head =
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
                backend b\n server s 127.0.0.1:8080\n";
    let ok = dir.file(
        "ok.cfg",
        &format!("{head} stick-table type ip size 1k store gpt(3),gpc(2),gpc_rate(2,10s),sess_cnt,sess_rate(1s),http_fail_cnt,http_fail_rate(1s)\n"),
    );
    let out = fulcrum(&["check", "-f", &ok]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for store in ["gpc(0)", "conn_rate", "gpt(2),gpt0", "gpc_rate(2)"] {
        let bad = dir.file(
            "bad.cfg",
            &format!("{head} stick-table type ip size 1k store {store}\n"),
        );
        let out = fulcrum(&["check", "-f", &bad]);
        assert_eq!(out.status.code(), Some(1), "{store}");
        let err = text(&out.stderr);
        assert!(err.contains(&format!("{bad}:8: error:")), "{store}: {err}");
    }
}
