//! `option external-check` run by haproxy 2.6 and then by fulcrum on the same config: the
//! command must get the same arguments and environment from both, and both must log the same
//! `option log-health-checks` lines for a passing and a failing script. Without haproxy the
//! test skips loudly, and fails under FULCRUM_REQUIRE_NETNS=1.

mod common;

use common::{closed_port, config};
use fulcrum_health::HealthMonitor;
use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn haproxy_available() -> bool {
    let found = std::process::Command::new("haproxy")
        .arg("-v")
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() != Ok("1"),
            "haproxy is required under FULCRUM_REQUIRE_NETNS=1"
        );
        eprintln!("SKIPPED: haproxy is not installed; nothing to compare with");
    }
    found
}

fn lines(raw: &[String]) -> BTreeMap<String, String> {
    let dur = regex::Regex::new(r"check duration: [0-9]+ms").expect("re");
    let mut m = BTreeMap::new();
    for l in raw {
        if let Some(rest) = l.strip_prefix("Health check for server ") {
            let server = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            m.entry(server)
                .or_insert_with(|| dur.replace(l, "check duration: Nms").into_owned());
        }
    }
    m
}

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
    if !haproxy_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fulcrum-external-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
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
    let syslog = UdpSocket::bind("127.0.0.1:0").expect("udp");
    syslog
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let log_port = syslog.local_addr().expect("addr").port();
    let cfg = format!(
        "global\n    log 127.0.0.1:{log_port} local0\n    external-check\n    insecure-fork-wanted\n\
         defaults\n    mode tcp\n    log global\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 2s\n\
         frontend fe\n    bind 127.0.0.1:{}\n    default_backend ext\n\
         backend ext\n    option log-health-checks\n    option external-check\n    external-check path \"/usr/bin:/bin\"\n    external-check command {}\n\
         \x20   server good 127.0.0.1:{} check inter 300 fall 2 rise 1\n    server bad 127.0.0.1:{} check inter 300 fall 2 rise 1 maxconn 7\n",
        closed_port(),
        script.display(),
        closed_port(),
        closed_port()
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, &cfg).expect("cfg");

    let mut cmd = std::process::Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(&path);
    let haproxy = fulcrum_testlab::process::Child::spawn("haproxy", cmd, dir.join("haproxy.log"))
        .expect("haproxy runs");
    let mut theirs_raw = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(8);
    while lines(&theirs_raw).len() < 2 && Instant::now() < deadline {
        if let Ok(n) = syslog.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            if let Some((_, text)) = msg.split_once("]: ") {
                theirs_raw.push(text.trim_end().to_string());
            }
        }
    }
    let output = haproxy.output();
    drop(haproxy);
    let theirs_env = recorded(&dir);
    assert_eq!(
        lines(&theirs_raw).len(),
        2,
        "haproxy logged both: {theirs_raw:?}\n{output}"
    );

    let config = config("haproxy.cfg", &cfg);
    let (handle, _events) = HealthMonitor::start(&config);
    let mut results = handle.check_results();
    let mut ours_raw = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while lines(&ours_raw).len() < 2 {
        match tokio::time::timeout_at(deadline, results.recv()).await {
            Ok(Some(r)) => ours_raw.extend(r.log_line),
            _ => break,
        }
    }
    handle.shutdown().await;
    let ours_env = recorded(&dir);
    assert_eq!(lines(&ours_raw), lines(&theirs_raw));
    assert!(
        theirs_env["good"].contains("HAPROXY_SERVER_NAME=good"),
        "{theirs_env:?}"
    );
    assert_eq!(ours_env, theirs_env, "same arguments and environment");
    let _ = std::fs::remove_dir_all(&dir);
}
