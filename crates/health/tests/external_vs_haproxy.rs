//! `option external-check` run by haproxy 2.6 and then by fulcrum on the same config: the
//! command must get the same arguments and environment from both, and both must log the same
//! `option log-health-checks` lines for a passing and a failing script. Without haproxy the
//! test skips loudly, and fails under FULCRUM_REQUIRE_NETNS=1.

mod common;

use common::closed_port;
use common::versus::{self, first_lines};
use std::collections::BTreeMap;

/// What the script recorded for each server: its arguments and environment.
fn recorded(dir: &std::path::Path) -> BTreeMap<String, String> {
    ["good", "bad"]
        .iter()
        .map(|s| {
            let text = std::fs::read_to_string(dir.join(format!("{s}.out"))).unwrap_or_default();
            let _ = std::fs::remove_file(dir.join(format!("{s}.out")));
            (s.to_string(), text)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_check_arguments_environment_and_lines_as_haproxy() {
    if !versus::available(
        "external_check_arguments_environment_and_lines_as_haproxy",
        &[],
    ) {
        return;
    }
    let tmp = versus::TempDir::new("external-check");
    let dir = &tmp.0;
    let script = dir.join("check.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{{ echo \"args: $*\"; env | grep -v '^PWD=' | grep -v '^SHLVL=' | grep -v '^_=' | sort; }} > {}/$HAPROXY_SERVER_NAME.out\n[ \"$HAPROXY_SERVER_NAME\" = good ] || exit 3\n",
            dir.display()
        ),
    )
    .expect("script");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .expect("chmod");
    let syslog = versus::Syslog::bind();
    let cfg = format!(
        "global\n    log 127.0.0.1:{} local0\n    external-check\n    insecure-fork-wanted\n\
         defaults\n    mode tcp\n    log global\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 2s\n\
         frontend fe\n    bind 127.0.0.1:{}\n    default_backend ext\n\
         backend ext\n    option log-health-checks\n    option external-check\n    external-check path \"/usr/bin:/bin\"\n    external-check command {}\n\
         \x20   server good 127.0.0.1:{} check inter 300 fall 2 rise 1\n    server bad 127.0.0.1:{} check inter 300 fall 2 rise 1 maxconn 7\n",
        syslog.port(),
        closed_port(),
        script.display(),
        closed_port(),
        closed_port()
    );
    let done = |l: &[String]| first_lines(l).len() == 2;
    let quick = versus::Window {
        settle: std::time::Duration::ZERO,
        ..Default::default()
    };
    let (theirs_raw, output) = versus::haproxy(dir, &cfg, &syslog, done, quick).await;
    let theirs_env = recorded(dir);
    assert_eq!(
        first_lines(&theirs_raw).len(),
        2,
        "haproxy logged both: {theirs_raw:?}\n{output}"
    );

    let ours = versus::fulcrum("haproxy.cfg", &cfg, done, quick).await;
    let ours_env = recorded(dir);
    assert_eq!(first_lines(&ours.lines), first_lines(&theirs_raw));
    assert!(
        theirs_env["good"].contains("HAPROXY_SERVER_NAME=good"),
        "{theirs_env:?}"
    );
    assert_eq!(ours_env, theirs_env, "same arguments and environment");
}
