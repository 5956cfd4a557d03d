//! `tcp-response content` rules in HTTP mode side by side with the real haproxy 2.6 on the
//! same config: the rules run before `http-response` rules, reading `status`, `res.hdr()`
//! and a transaction variable the request set. A rule reading only the variable decides
//! before the answer (`close`: 502 `SH--`; `reject`: closed, `-1 0 PD--`); one reading the
//! answer waits for its head: `reject` closes the client's connection without a byte of the
//! answer (logged `PD--` with the server's status and HAProxy's byte count), `close` lets
//! the answer through, `set-var` feeds an `http-response` header. Compared: what each client read (status line and the header the
//! variable fills, or "closed") and the log line's status, bytes and termination state.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}listen l\n  bind 127.0.0.1:{}\n  option httplog\n\
         \x20 http-request set-var(txn.p) path\n\
         \x20 tcp-response inspect-delay 1s\n\
         \x20 tcp-response content reject if {{ var(txn.p) -m str /bad }} {{ res.hdr(x-server) app }}\n\
         \x20 tcp-response content close if {{ var(txn.p) -m str /close }}\n\
         \x20 tcp-response content close if {{ var(txn.p) -m str /late-close }} {{ res.hdr(x-server) app }}\n\
         \x20 tcp-response content reject if {{ var(txn.p) -m str /early }}\n\
         \x20 tcp-response content set-var(txn.st) status\n\
         \x20 tcp-response content accept if {{ status 200 }}\n\
         \x20 tcp-response content reject\n\
         \x20 http-response set-header x-st %[var(txn.st)]\n\
         \x20 server s {}\n",
        s.head("http"),
        s.ports[0],
        s.backend
    )
}

/// The status line and `x-st` of an answer, or "closed".
fn answer(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let Some(status) = text.lines().next().filter(|l| !l.is_empty()) else {
        return "closed".into();
    };
    let st = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("x-st:"))
        .unwrap_or("no x-st")
        .to_ascii_lowercase();
    format!("{} | {}", status.trim_end(), st.trim_end())
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    for path in ["/ok", "/bad", "/close", "/late-close", "/early"] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let got = side.exchange(0, raw.as_bytes()).await;
        out.push(answer(&got));
        out.push(status_bytes_state(&side.line().await));
    }
    out
}

#[tokio::test]
async fn tcp_response_rules_in_http_mode_as_haproxy() {
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    assert_eq!(ours[0], "HTTP/1.1 200 OK | x-st: 200", "{ours:?}");
    assert_eq!(ours[2], "closed", "rejected: {ours:?}");
    assert!(ours[3].ends_with("PD--"), "{ours:?}");
    assert_eq!(
        ours[4], "HTTP/1.1 502 Bad Gateway | no x-st",
        "early close: {ours:?}"
    );
    assert_eq!(
        ours[6], "HTTP/1.1 200 OK | x-st:",
        "late close, no set-var: {ours:?}"
    );
    assert_eq!(ours[9], "-1 0 PD--", "early reject: {ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
