//! HAProxy-style checks over real sockets: a backend answering 200, then 500, killed and
//! restarted, hanging past `timeout check`, answering the wrong body; the monitor must report
//! DOWN after exactly `fall` failed checks and UP after exactly `rise` passed ones, with
//! HAProxy's reasons and log lines.

mod common;

use common::{closed_port, config, next_event, no_event, Backend, ERR500, HANG, OK};
use fulcrum_health::{HealthMonitor, Observed};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

fn http_cfg(port: u16, extra: &str, server_opts: &str) -> String {
    format!(
        "global\n    spread-checks 0\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         backend app_pool\n    option httpchk GET /health\n{extra}    server app-1 127.0.0.1:{port} check {server_opts}\n    server app-2 127.0.0.1:1 backup\n"
    )
}

#[tokio::test]
async fn http_check_500_then_200_counts_fall_and_rise() {
    let b = Backend::start(b"ok").await;
    let cfg = config(
        "t.cfg",
        &http_cfg(b.addr.port(), "", "inter 100 fall 3 rise 2"),
    );
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    no_event(&mut rx, Duration::from_millis(350)).await;
    assert_eq!(handle.is_up("app_pool", "app-1"), Some(true));

    let before = b.hits();
    b.set_mode(ERR500);
    let down = next_event(&mut rx, WAIT).await;
    assert!(!down.up);
    assert_eq!(
        b.hits() - before,
        3,
        "DOWN after exactly fall=3 failed checks"
    );
    assert_eq!(
        down.log_line,
        format!(
            "Server app_pool/app-1 is DOWN, reason: Layer7 wrong status, code: 500, info: \"Internal Server Error\", check duration: {}ms. 0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue.",
            down.reason.duration.map_or(0, |d| d.as_millis())
        )
    );
    assert_eq!(handle.is_up("app_pool", "app-1"), Some(false));

    let before = b.hits();
    b.set_mode(OK);
    let up = next_event(&mut rx, WAIT).await;
    assert!(up.up);
    assert_eq!(
        b.hits() - before,
        2,
        "UP after exactly rise=2 passed checks"
    );
    assert!(up.log_line.starts_with(
        "Server app_pool/app-1 is UP, reason: Layer7 check passed, code: 200, check duration: "
    ));
    assert!(up
        .log_line
        .ends_with("1 active and 1 backup servers online. 0 sessions requeued, 0 total in queue."));
    handle.shutdown().await;
}

#[tokio::test]
async fn killed_and_restarted_server() {
    let mut b = Backend::start(b"ok").await;
    let cfg = config(
        "t.cfg",
        &http_cfg(b.addr.port(), "", "inter 80 fall 2 rise 2"),
    );
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    no_event(&mut rx, Duration::from_millis(250)).await;
    b.kill().await;
    let down = next_event(&mut rx, WAIT).await;
    assert!(!down.up);
    assert!(
        down.log_line
            .contains("is DOWN, reason: Layer4 connection problem, info: \"Connection refused\""),
        "{}",
        down.log_line
    );
    b.restart().await;
    let up = next_event(&mut rx, WAIT).await;
    assert!(up.up, "{}", up.log_line);
    handle.shutdown().await;
}

#[tokio::test]
async fn hanging_server_is_a_layer7_timeout() {
    let b = Backend::start(b"ok").await;
    let text = http_cfg(
        b.addr.port(),
        "    timeout check 150ms\n",
        "inter 100 fall 1 rise 1",
    )
    .replace("defaults\n", "defaults\n    timeout check 150ms\n");
    let cfg = config("t.cfg", &text);
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    no_event(&mut rx, Duration::from_millis(250)).await;
    b.set_mode(HANG);
    let down = next_event(&mut rx, WAIT).await;
    assert!(!down.up);
    assert!(
        down.log_line
            .contains("reason: Layer7 timeout, check duration: "),
        "{}",
        down.log_line
    );
    let took = down.reason.duration.expect("probe duration");
    assert!(
        took >= Duration::from_millis(150),
        "the read waited for timeout check: {took:?}"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn expect_string_mismatch_is_an_invalid_response() {
    let b = Backend::start(b"status: ready\n").await;
    let cfg = config(
        "t.cfg",
        &http_cfg(
            b.addr.port(),
            "    http-check expect string ready\n",
            "inter 80 fall 1 rise 1",
        ),
    );
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    no_event(&mut rx, Duration::from_millis(250)).await;
    b.set_body(b"status: maintenance\n");
    let down = next_event(&mut rx, WAIT).await;
    assert!(
        down.log_line.contains(
            "reason: Layer7 invalid response, info: \"HTTP content check did not match\""
        ),
        "{}",
        down.log_line
    );
    b.set_body(b"status: ready\n");
    assert!(next_event(&mut rx, WAIT).await.up);
    handle.shutdown().await;
}

#[tokio::test]
async fn flapping_server_never_reaches_fall() {
    let b = Backend::start(b"ok").await;
    let cfg = config(
        "t.cfg",
        &http_cfg(b.addr.port(), "", "inter 50 fall 3 rise 2"),
    );
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    // servers start one failure away from DOWN (HAProxy): let one check pass first
    wait_hits(&b, 1).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    // fail twice, pass once, repeatedly: never three consecutive failures → never DOWN
    for _ in 0..4 {
        let start = b.hits();
        b.set_mode(ERR500);
        wait_hits(&b, start + 2).await;
        b.set_mode(OK);
        wait_hits(&b, start + 3).await;
    }
    no_event(&mut rx, Duration::from_millis(100)).await;
    assert_eq!(handle.is_up("app_pool", "app-1"), Some(true));
    handle.shutdown().await;
}

async fn wait_hits(b: &Backend, n: u32) {
    for _ in 0..200 {
        if b.hits() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("backend did not get {n} checks in time (got {})", b.hits());
}

#[tokio::test]
async fn tcp_check_without_httpchk_and_a_refused_port() {
    let port = closed_port();
    let text = format!(
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         backend db\n    server db-1 127.0.0.1:{port} check inter 60 fall 2 rise 1\n"
    );
    let (handle, mut rx) = HealthMonitor::start(&config("t.cfg", &text));
    let down = next_event(&mut rx, WAIT).await;
    assert!(!down.up);
    assert!(down.log_line.starts_with(
        "Server db/db-1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\""
    ));
    assert_eq!(
        down.no_server_line.as_deref(),
        Some("backend db has no server available!")
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn check_port_and_addr_redirect_the_probe() {
    let b = Backend::start(b"ok").await;
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         backend be\n    option httpchk\n    server s1 127.0.0.2:{} check port {} addr 127.0.0.1 inter 60\n",
        closed_port(),
        b.addr.port()
    );
    let (handle, mut rx) = HealthMonitor::start(&config("t.cfg", &text));
    no_event(&mut rx, Duration::from_millis(300)).await;
    assert!(b.hits() >= 2, "checks went to addr:port");
    handle.shutdown().await;
}

#[tokio::test]
async fn observe_layer7_mark_down_from_the_data_plane() {
    let b = Backend::start(b"ok").await;
    let cfg = config(
        "t.cfg",
        &http_cfg(
            b.addr.port(),
            "",
            "inter 2s fall 3 rise 2 observe layer7 error-limit 3 on-error mark-down",
        ),
    );
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    assert!(handle.wants_observations("app_pool", "app-1"));
    assert!(!handle.wants_observations("app_pool", "app-2"));
    // from a data-plane worker: a cloneable observer
    let observer = handle.observer();
    let worker = std::thread::spawn(move || {
        observer.report("app_pool", "app-2", Observed::HttpStatus(500)); // no observe: ignored
        observer.report("app_pool", "app-1", Observed::HttpStatus(502));
    });
    assert!(worker.join().is_ok());
    handle.report_observed("app_pool", "app-1", Observed::HttpStatus(503));
    handle.report_observed("app_pool", "app-1", Observed::HttpStatus(500));
    let down = next_event(&mut rx, WAIT).await;
    assert!(!down.up);
    assert!(down.log_line.starts_with(
        "Server app_pool/app-1 is DOWN, reason: Health analyze, info: \"Detected 3 consecutive errors, last one was: Wrong http response\". 0 active and 1 backup"
    ), "{}", down.log_line);
    handle.shutdown().await;
}

#[tokio::test]
async fn reload_keeps_state_and_replays_down_servers() {
    let port = closed_port();
    let b = Backend::start(b"ok").await;
    let text = |extra: &str| {
        format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             backend be\n    server dead 127.0.0.1:{port} check inter 60 fall 1\n    server live {} check inter 60\n{extra}",
            b.addr
        )
    };
    let (mut handle, mut rx) = HealthMonitor::start(&config("t.cfg", &text("")));
    let down = next_event(&mut rx, WAIT).await;
    assert_eq!(
        (down.server.as_str(), down.up, down.replay),
        ("dead", false, false)
    );
    handle.reload(&config(
        "t.cfg",
        &text(&format!("    server new {} check inter 60\n", b.addr)),
    ));
    let replay = next_event(&mut rx, WAIT).await;
    assert_eq!(
        (replay.server.as_str(), replay.up, replay.replay),
        ("dead", false, true)
    );
    assert!(replay.log_line.is_empty(), "a replay is not logged again");
    no_event(&mut rx, Duration::from_millis(300)).await;
    assert_eq!(
        handle.is_up("be", "dead"),
        Some(false),
        "state kept across the reload"
    );
    assert_eq!(handle.is_up("be", "new"), Some(true));
    let snap = handle.snapshot();
    assert_eq!(
        snap,
        vec![
            ("be".to_string(), "dead".to_string(), false),
            ("be".to_string(), "live".to_string(), true),
            ("be".to_string(), "new".to_string(), true)
        ]
    );
    handle.shutdown().await;
}
