//! The whole monitor under tokio's paused time: the driver reads the one clock
//! (`fulcrum_health::clock`), so virtual time decides when checks run. A unix socket path that
//! does not exist fails at once without any real waiting, so the only time that passes is the
//! virtual time this test advances.

mod common;

use common::config;
use fulcrum_health::{CheckStatus, HealthMonitor, RESULT_BATCH};
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn checks_follow_paused_time_inter_fall_rise_downinter() {
    let path = std::env::temp_dir().join(format!("fulcrum-paused-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let cfg = config(
        "t.cfg",
        &format!(
            "global\n    spread-checks 0\ndefaults\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             backend b\n    option log-health-checks\n    server s1 unix@{} check inter 10s downinter 30s fall 2 rise 1\n",
            path.display()
        ),
    );
    let t0 = Instant::now();
    let (handle, mut events) = HealthMonitor::start(&cfg);
    let mut results = handle.check_results();
    // First check at t0 (one server: no spread); it fails: health rise(1) → 0, DOWN at once.
    let r = results.recv().await.expect("first result");
    assert_eq!(r.outcome.status, CheckStatus::L4Connection);
    // results are sent in batches: the first one RESULT_BATCH after the check
    assert_eq!(Instant::now() - t0, RESULT_BATCH);
    assert_eq!(
        r.log_line.as_deref(),
        Some(
            "Health check for server b/s1 failed, reason: Layer4 connection problem, info: \"No such file or directory\", check duration: 0ms, status: 0/1 DOWN."
        )
    );
    let down = events.recv().await.expect("down");
    assert!(!down.up);
    // DOWN with health 0: the next check is `downinter` later, in virtual time.
    let r = results.recv().await.expect("second result");
    assert_eq!(Instant::now() - t0, Duration::from_secs(30) + RESULT_BATCH);
    assert_eq!(
        r.log_line, None,
        "same status, same health: not logged again"
    );
    assert_eq!(
        handle.last_check("b", "s1").map(|o| o.status),
        Some(CheckStatus::L4Connection)
    );
    // `disable health`: no check for a long (virtual) while; `enable health`: one at once.
    assert!(handle.pause_checks("b", "s1", true));
    let paused_at = Instant::now();
    assert!(
        tokio::time::timeout(Duration::from_secs(300), results.recv())
            .await
            .is_err(),
        "no check while paused"
    );
    assert!(handle.pause_checks("b", "s1", false));
    results.recv().await.expect("a check after resuming");
    assert_eq!(
        Instant::now() - paused_at,
        Duration::from_secs(300) + RESULT_BATCH,
        "resumed checks start at once"
    );
    handle.shutdown().await;
}
