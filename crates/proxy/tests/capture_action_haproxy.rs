//! `http-request capture SAMPLE len N` side by side with the real haproxy 2.6: the rules'
//! slots take their place among the `capture request header` slots (in the order written),
//! hold the sample's value cut to N bytes (or nothing when the rule's condition fails), and
//! the log lines (`%hr`, `%hrl`) read from a UDP syslog socket are the same bytes.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

const REQUESTS: &[&str] = &[
    "GET /p/abc HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\nX-B: 123456\r\nConnection: close\r\n\r\n",
    "GET /q HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
];

#[tokio::test]
async fn capture_action_as_haproxy() {
    let cfg = |s: &Setup<'_>| {
        format!(
            "{}frontend f\n  bind 127.0.0.1:{}\n  log-format \"hr=%hr hrl=%hrl end\"\n\
             \x20 capture request header Host len 10\n\
             \x20 http-request capture req.hdr(User-Agent),lower len 5\n\
             \x20 http-request capture path len 20 if {{ path_beg /p }}\n\
             \x20 capture request header X-B len 4\n\
             \x20 http-request capture str(a|b{{c}}) len 10\n\
             \x20 default_backend b\n\
             backend b\n  server s {}\n",
            s.head("http"),
            s.ports[0],
            s.backend
        )
    };
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        for raw in REQUESTS {
            out.push(side.request_line(0, raw).await);
        }
        out
    };
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    assert!(
        ours[0].starts_with("hr={example.co|mozil|/p/abc|1234|"),
        "{ours:?}"
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
