//! `tcp-request content capture SAMPLE len N` side by side with the real haproxy 2.6: in a
//! TCP listen (`%hr` of a custom format: the payload's first bytes and the source address)
//! and in an HTTP frontend (the `{...}` block of `option httplog`, with a `capture request
//! header` slot declared before the rule), the log lines must be equal (client ports and
//! dates masked). Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend h\n  bind 127.0.0.1:{}\n  option httplog\n\
         \x20 capture request header user-agent len 4\n\
         \x20 tcp-request content capture req.hdr(host) len 5\n\
         \x20 tcp-request content capture path len 20 if {{ path_beg /c }}\n\
         \x20 default_backend b\n\
         backend b\n  server s {}\n\
         listen t\n  mode tcp\n  bind 127.0.0.1:{}\n  log-format \"t %hr %hrl\"\n\
         \x20 tcp-request inspect-delay 1s\n\
         \x20 tcp-request content capture req.payload(0,4) len 3\n\
         \x20 tcp-request content capture src len 20\n\
         \x20 tcp-request content accept if {{ req.len gt 0 }}\n\
         \x20 server s {}\n",
        s.head("http"),
        s.ports[0],
        s.backend,
        s.ports[1],
        s.backend
    )
}

fn masked(line: &str) -> String {
    let line = mask_ports(line);
    let date = regex::Regex::new(r"\[[^]]*\] ").expect("re");
    let timers = regex::Regex::new(r" [-0-9]+/[-0-9]+/[-0-9]+/[-0-9]+/[-0-9]+ ").expect("re");
    let line = date.replace(&line, "").into_owned();
    // the connection counts too (a readiness probe's connection may still count on one side)
    let counts =
        regex::Regex::new(r" [0-9]+/[0-9]+/[0-9]+/[0-9]+/[0-9]+ [0-9]+/[0-9]+ ").expect("re");
    let line = timers.replace(&line, " T ").into_owned();
    counts.replace(&line, " C ").into_owned()
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, ua) in [("/c/x", "curl/8"), ("/plain", "ab")] {
        let raw = format!(
            "GET {path} HTTP/1.1\r\nHost: example.com\r\nUser-Agent: {ua}\r\nConnection: close\r\n\r\n"
        );
        let got = side.exchange(0, raw.as_bytes()).await;
        assert!(got.starts_with(b"HTTP/1.1 200"), "{}", side.who);
        out.push(masked(&side.line().await));
    }
    let got = side
        .exchange(
            1,
            b"GET /t HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .await;
    assert!(got.starts_with(b"HTTP/1.1 200"), "{}", side.who);
    out.push(masked(&side.line().await));
    out
}

#[tokio::test]
async fn tcp_content_captures_as_haproxy() {
    let (ours, theirs) = side_by_side(2, cfg, drive).await;
    assert!(ours[0].contains("{curl|examp|/c/x}"), "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
