//! keepalived checkers over real sockets and real processes: HTTP_GET with a digest computed
//! independently (by keepalived's own genhash when installed, else md5sum), TCP_CHECK with
//! retry/delay_before_retry, MISC_CHECK scripts that exit 0, exit 1 and hang past misc_timeout.

mod common;

use common::{closed_port, config, genhash_digest, md5sum, next_event, no_event, Backend};
use fulcrum_health::{CheckStatus, HealthMonitor};
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(6);

/// The digest as an independent tool computes it for the live server.
async fn independent_digest(b: &Backend, body: &[u8]) -> String {
    let genhash = tokio::process::Command::new("genhash")
        .args([
            "-s",
            "127.0.0.1",
            "-p",
            &b.addr.port().to_string(),
            "-u",
            "/",
        ])
        .kill_on_drop(true)
        .output();
    if let Ok(Ok(out)) = tokio::time::timeout(Duration::from_secs(5), genhash).await {
        if let Some(hex) = genhash_digest(&String::from_utf8_lossy(&out.stdout)) {
            eprintln!("digest from genhash: {hex}");
            return hex;
        }
    }
    eprintln!("genhash not available: using md5sum of the body");
    let file = std::env::temp_dir().join(format!("fulcrum-health-md5-{}", std::process::id()));
    std::fs::write(&file, body).expect("write body");
    let hex = md5sum(&file);
    let _ = std::fs::remove_file(&file);
    hex
}

fn vs(port: u16, checker: &str, inhibit: bool) -> String {
    format!(
        "virtual_server 127.0.0.1 {vport} {{\n  delay_loop 0.2\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
         real_server 127.0.0.1 {port} {{\n    weight 1\n{inh}    {checker}\n  }}\n}}\n",
        vport = closed_port(),
        inh = if inhibit { "    inhibit_on_failure\n" } else { "" },
    )
}

#[tokio::test]
async fn http_get_digest_matches_genhash_and_a_changed_body_fails() {
    let body = b"<html>fulcrum health page</html>\n";
    let b = Backend::start(body).await;
    let digest = independent_digest(&b, body).await;
    assert_eq!(digest.len(), 32, "a hex MD5: {digest:?}");
    let checker = format!(
        "HTTP_GET {{\n      url {{\n        path /\n        status_code 200\n        digest {digest}\n      }}\n      \
         connect_timeout 1\n      retry 2\n      delay_before_retry 0.1\n    }}"
    );
    let cfg = config("k.conf", &vs(b.addr.port(), &checker, true));
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    no_event(&mut rx, Duration::from_millis(700)).await;
    assert!(b.hits() >= 2, "checked with the right digest and stayed up");

    let before = b.hits();
    b.set_body(b"<html>defaced</html>\n");
    let down = next_event(&mut rx, WAIT).await;
    assert!(!down.up);
    assert_eq!(
        b.hits() - before,
        3,
        "retry 2: three attempts before the real server is failed"
    );
    assert_eq!(down.reason.status, CheckStatus::L7Response);
    assert!(down
        .reason
        .info
        .as_deref()
        .unwrap_or_default()
        .contains(&format!("expected {digest}")));
    assert!(down.inhibit_on_failure);
    assert!(
        down.log_line.starts_with(&format!(
            "Disabling service [127.0.0.1]:tcp:{} from VS [127.0.0.1]:tcp:",
            b.addr.port()
        )),
        "{}",
        down.log_line
    );

    b.set_body(body);
    let up = next_event(&mut rx, WAIT).await;
    assert!(up.up, "one good check brings a failed real server back");
    handle.shutdown().await;
}

#[tokio::test]
async fn tcp_check_retry_then_removed() {
    let port = closed_port();
    let checker =
        "TCP_CHECK {\n      connect_timeout 1\n      retry 1\n      delay_before_retry 0.15\n    }";
    let cfg = config("k.conf", &vs(port, checker, false));
    let start = Instant::now();
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    let down = next_event(&mut rx, WAIT).await;
    assert!(!down.up);
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "the retry waited delay_before_retry"
    );
    assert!(
        down.log_line.starts_with(&format!(
            "Removing service [127.0.0.1]:tcp:{port} from VS [127.0.0.1]:tcp:"
        )),
        "{}",
        down.log_line
    );
    assert!(down.log_line.contains("Layer4 connection problem"));
    handle.shutdown().await;
}

struct Scripts {
    dir: std::path::PathBuf,
}

impl Scripts {
    fn new(tag: &str) -> Scripts {
        let dir = std::env::temp_dir().join(format!("fulcrum-misc-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("script dir");
        Scripts { dir }
    }
    fn write(&self, name: &str, body: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
        let _ = Command::new("chmod").arg("+x").arg(&p).status();
        p.display().to_string()
    }
}

impl Drop for Scripts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn misc(path: &str, timeout: &str) -> String {
    format!("MISC_CHECK {{\n      misc_path \"{path}\"\n      misc_timeout {timeout}\n    }}")
}

#[tokio::test]
async fn misc_check_exit_status_decides() {
    let s = Scripts::new("exit");
    let flag = s.dir.join("healthy");
    std::fs::write(&flag, "").expect("flag");
    let script = s.write("check.sh", &format!("test -e {}", flag.display()));
    let cfg = config("k.conf", &vs(closed_port(), &misc(&script, "1"), false));
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    no_event(&mut rx, Duration::from_millis(600)).await;
    std::fs::remove_file(&flag).expect("unflag");
    let down = next_event(&mut rx, WAIT).await;
    assert!(!down.up);
    assert_eq!(down.reason.status, CheckStatus::ExternalError);
    assert_eq!(
        down.reason.code,
        Some(1),
        "the exit status, as HAProxy reports external checks"
    );
    std::fs::write(&flag, "").expect("flag");
    assert!(next_event(&mut rx, WAIT).await.up);
    handle.shutdown().await;
}

#[tokio::test]
async fn misc_check_past_timeout_is_killed() {
    let s = Scripts::new("hang");
    let pidfile = s.dir.join("pid");
    let script = s.write(
        "slow.sh",
        &format!("echo $$ > {}\nexec sleep 30", pidfile.display()),
    );
    let cfg = config("k.conf", &vs(closed_port(), &misc(&script, "0.3"), false));
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    let down = next_event(&mut rx, WAIT).await;
    assert!(!down.up);
    assert_eq!(down.reason.status, CheckStatus::ExternalTimeout);
    let took = down.reason.duration.expect("duration");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    let pid = std::fs::read_to_string(&pidfile)
        .expect("script wrote its pid")
        .trim()
        .to_string();
    handle.shutdown().await;
    // killed and reaped: no such process any more (bounded wait)
    let mut gone = false;
    for _ in 0..50 {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone, "the timed-out script (pid {pid}) was killed");
}

#[tokio::test]
async fn misc_dynamic_exit_status_sets_the_weight() {
    let s = Scripts::new("dyn");
    let status = s.dir.join("status");
    std::fs::write(&status, "12").expect("status");
    let script = s.write("dyn.sh", &format!("exit $(cat {})", status.display()));
    let checker = format!("MISC_CHECK {{\n      misc_path \"{script}\"\n      misc_timeout 1\n      misc_dynamic\n    }}");
    let cfg = config("k.conf", &vs(closed_port(), &checker, false));
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    let ev = next_event(&mut rx, WAIT).await;
    assert_eq!((ev.up, ev.weight), (true, Some(10)), "exit 12 → weight 10");
    assert!(
        ev.log_line
            .starts_with("Changing weight from 1 to 10 on service"),
        "{}",
        ev.log_line
    );
    std::fs::write(&status, "1").expect("status");
    let ev = next_event(&mut rx, WAIT).await;
    assert_eq!((ev.up, ev.weight), (false, None), "exit 1 fails the check");
    std::fs::write(&status, "22").expect("status");
    let mut got = Vec::new();
    for _ in 0..2 {
        let ev = next_event(&mut rx, WAIT).await;
        got.push((ev.up, ev.weight));
    }
    assert_eq!(
        got,
        [(true, None), (true, Some(20))],
        "back UP, then weight 20"
    );
    handle.shutdown().await;
}
