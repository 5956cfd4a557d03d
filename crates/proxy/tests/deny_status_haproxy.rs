//! `deny`/`tarpit` statuses side by side with the real haproxy 2.6: `deny_status N` answers
//! haproxy's page for N (421 and 422 included), the `status N` word an empty answer with that
//! status (also 418, which haproxy has no page for), as does `deny_status N content-type T`
//! alone; the answers are compared byte for byte. (`deny_status 418` without a response is
//! refused by both at check time: `crates/config` tests.)
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}  timeout tarpit 100ms\nfrontend f\n  bind 127.0.0.1:{}\n\
         \x20 http-request deny status 418 if {{ path /a }}\n\
         \x20 http-request deny status 403 if {{ path /b }}\n\
         \x20 http-request deny deny_status 403 if {{ path /c }}\n\
         \x20 http-request deny deny_status 418 content-type text/plain if {{ path /d }}\n\
         \x20 http-request tarpit status 429 if {{ path /e }}\n\
         \x20 http-request deny deny_status 422 if {{ path /f }}\n\
         \x20 http-request deny deny_status 421 if {{ path /g }}\n\
         \x20 default_backend b\n\
         backend b\n  server s {}\n",
        s.head("http"),
        s.ports[0],
        s.backend
    )
}

#[tokio::test]
async fn deny_statuses_as_haproxy() {
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        for p in ["a", "b", "c", "d", "e", "f", "g"] {
            let raw = format!("GET /{p} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
            let answer = side.exchange(0, raw.as_bytes()).await;
            out.push(format!("/{p}: {}", String::from_utf8_lossy(&answer)));
        }
        out
    };
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    assert!(
        ours[0].starts_with("/a: HTTP/1.1 418 I'm a teapot\r\ncontent-length: 0\r\n"),
        "{ours:?}"
    );
    assert!(
        ours[1].starts_with("/b: HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n"),
        "{ours:?}"
    );
    assert!(ours[2].contains("<h1>403 Forbidden</h1>"), "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
