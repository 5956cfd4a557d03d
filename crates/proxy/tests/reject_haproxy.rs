//! `http-request reject`, `http-request silent-drop` and `http-response silent-drop` side by
//! side with the real haproxy 2.6 on the same config: the client gets no answer at all (a
//! silent drop may leave it waiting: nothing tells it) and the log line says what haproxy's
//! says (status, bytes, termination state). A request the rules let through is answered.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend f\n  bind 127.0.0.1:{}\n  option httplog\n\
         \x20 http-request set-var(txn.p) path\n\
         \x20 http-request reject if {{ path /reject }}\n\
         \x20 http-request silent-drop if {{ path /drop }}\n\
         \x20 http-response silent-drop if {{ var(txn.p) -m str /late-drop }}\n\
         \x20 default_backend app\n\
         backend app\n  server s {}\n",
        s.head("http"),
        s.ports[0],
        s.backend
    )
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    for path in ["/ok", "/reject", "/drop", "/late-drop"] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let got = side.exchange(0, raw.as_bytes()).await;
        let first = String::from_utf8_lossy(&got)
            .lines()
            .next()
            .unwrap_or("nothing")
            .to_string();
        out.push(first);
        out.push(status_bytes_state(&side.line().await));
    }
    out
}

#[tokio::test]
async fn reject_and_silent_drop_as_haproxy() {
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    assert_eq!(ours[0], "HTTP/1.1 200 OK", "{ours:?}");
    for i in [2, 4, 6] {
        assert_eq!(ours[i], "nothing", "{ours:?}");
    }
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
