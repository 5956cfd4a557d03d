//! `log ADDR sample RANGES:SIZE FACILITY`: of every SIZE lines a target would get, only the
//! ranks in RANGES are sent there, as HAProxy's configuration manual says. Twelve requests one
//! after another (`/r1` .. `/r12`) through a frontend logging with `sample 1,3-4:5`: the
//! lines of requests 1, 3, 4, 6, 8, 9 and 11 reach the syslog socket, in order.
//! Not compared with haproxy: on the same config haproxy 2.6.12 sends every line and some of
//! them twice (measured; its sampling was reworked in later versions). The test records that
//! it still does (every request logged), so a fixed haproxy package shows up here.

mod common;
use common::*;
use std::sync::Arc;
use std::time::Duration;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        // `dontlognull`: the readiness probe's empty connection takes no rank.
        "defaults\n  mode http\n  option httplog\n  option dontlognull\n\
         \x20 timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{}\n\
         \x20 log 127.0.0.1:{} sample 1,3-4:5 local0\n\
         \x20 log-format \"%HP\"\n\
         \x20 default_backend app\n\
         backend app\n  server s {}\n",
        s.ports[0], s.syslog, s.backend
    )
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    for i in 1..=12 {
        let raw = format!("GET /r{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let got = side.exchange(0, raw.as_bytes()).await;
        assert!(got.starts_with(b"HTTP/1.1 200"), "{}: /r{i}", side.who);
    }
    // The lines each proxy should send (haproxy 2.6.12 logs every request here) come with up
    // to 5 s each, on a loaded machine too; then 500 ms of silence shows there is no more.
    let expected = if side.who == "haproxy" { 12 } else { 7 };
    let mut lines = Vec::new();
    loop {
        let wait = if lines.len() < expected { 5000 } else { 500 };
        let Some(d) = side.datagram(Duration::from_millis(wait)).await else {
            break;
        };
        lines.push(d.rsplit(' ').next().unwrap_or("").trim().to_string());
    }
    lines
}

#[tokio::test]
async fn log_sample_keeps_the_ranks_haproxy_keeps() {
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    // ranks 1, 3, 4 of each cycle of 5
    assert_eq!(ours, ["/r1", "/r3", "/r4", "/r6", "/r8", "/r9", "/r11"]);
    if let Some(theirs) = theirs {
        for i in 1..=12 {
            let path = format!("/r{i}");
            assert!(
                theirs.contains(&path),
                "haproxy 2.6.12 logs {path}: {theirs:?}"
            );
        }
    }
}
