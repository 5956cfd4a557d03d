//! `%[prio_class]` and `%[prio_offset]` in the log lines of TCP sessions, side by side with
//! the real haproxy 2.6 on the same config: what `tcp-request content
//! set-priority-class|offset` set (a served session, one a later rule rejects), 0 without
//! them. They were always 0 in TCP lines. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy
//! fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    let (p, be) = (s.ports, s.backend);
    let lf = "  log-format \"%[prio_class] %[prio_offset] %ts\"\n";
    format!(
        "{}\
         listen t\n  bind 127.0.0.1:{}\n{lf}\
         \x20 tcp-request content set-priority-class int(5)\n\
         \x20 tcp-request content set-priority-offset int(100)\n  server s {be}\n\
         listen u\n  bind 127.0.0.1:{}\n{lf}  server s {be}\n\
         listen v\n  bind 127.0.0.1:{}\n{lf}\
         \x20 tcp-request content set-priority-class int(-3) if {{ src 127.0.0.1 }}\n\
         \x20 tcp-request content set-priority-offset int(-7)\n\
         \x20 tcp-request content reject\n  server s {be}\n",
        s.head("tcp"),
        p[0],
        p[1],
        p[2],
    )
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..3 {
        side.exchange(i, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .await;
        out.push(side.line().await);
    }
    out
}

#[tokio::test]
async fn tcp_lines_log_the_priority_as_haproxy() {
    let (ours, theirs) = side_by_side(3, cfg, drive).await;
    assert_eq!(ours[0], "5 100 --", "{ours:?}");
    let Some(theirs) = theirs else { return };
    assert_same(&ours, &theirs);
}
