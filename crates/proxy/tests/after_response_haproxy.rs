//! `http-after-response` rules side by side with the real haproxy 2.6 on the same config: in
//! a named `defaults` section, a frontend and a backend, on the server's answers (after the
//! `http-response` rules, the backend's rules before the frontend's) and on the proxy's own
//! answers (`deny`, `return`, `redirect`, `auth`, a 503 without servers, a cache hit; the
//! stats page: `fulcrum/tests/proxy_keywords_vs_haproxy.rs`): `set-header`,
//! `add-header`, `del-header`, `replace-value`, `set-status`, `set-var`, `allow` (the rest
//! of that proxy's rules skipped), conditions on `status`. Compared: the status line and the
//! headers these rules touch, and the log line's status.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "global\n  log 127.0.0.1:{} local0\n\
         cache c\n  total-max-size 4\n  max-age 60\n\
         userlist L\n  user u insecure-password p\n\
         defaults d\n  mode http\n  log global\n  option httplog\n\
         \x20 timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         \x20 http-after-response set-header x-def d\n\
         frontend f from d\n  bind 127.0.0.1:{}\n\
         \x20 http-request deny deny_status 403 if {{ path /deny }}\n\
         \x20 http-request return status 202 content-type text/plain string hi if {{ path /return }}\n\
         \x20 http-request redirect location /elsewhere if {{ path /redirect }}\n\
         \x20 http-request auth realm R if {{ path /auth }}\n\
         \x20 use_backend empty if {{ path /empty }}\n\
         \x20 use_backend cached if {{ path /cached }}\n\
         \x20 http-response set-header x-resp r\n\
         \x20 http-after-response set-var(txn.st) status\n\
         \x20 http-after-response set-header x-fe %[var(txn.st)]\n\
         \x20 http-after-response add-header x-list a\n\
         \x20 http-after-response replace-value x-list ^a$ b\n\
         \x20 http-after-response del-header x-server\n\
         \x20 http-after-response set-status 299 if {{ status 202 }}\n\
         \x20 http-after-response allow if {{ status 403 }}\n\
         \x20 http-after-response set-header x-after-allow yes\n\
         \x20 default_backend app\n\
         defaults\n  mode http\n  log global\n  option httplog\n\
         \x20 timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         backend app\n  http-after-response set-header x-be b\n\
         \x20 http-after-response set-header x-fe from-backend\n\
         \x20 server s {}\n\
         backend empty\n  http-after-response set-header x-be empty\n\
         backend cached\n  http-request cache-use c\n\
         \x20 http-response set-header cache-control max-age=60\n\
         \x20 http-response cache-store c\n\
         \x20 http-after-response set-header x-be cached\n\
         \x20 server s {}\n",
        s.syslog, s.ports[0], s.backend, s.backend
    )
}

/// The status line and the headers the rules touch, in a fixed order.
fn answer(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or("closed").to_string();
    let mut hdrs: Vec<String> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            let n = n.to_ascii_lowercase();
            [
                "x-def",
                "x-fe",
                "x-be",
                "x-list",
                "x-server",
                "x-resp",
                "x-after-allow",
                "location",
            ]
            .contains(&n.as_str())
            .then(|| format!("{n}:{}", v.trim()))
        })
        .collect();
    hdrs.sort();
    format!("{status} | {}", hdrs.join(" "))
}

/// The status of an `httplog` line.
fn logged(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .iter()
        .position(|w| w.matches('/').count() == 4)
        .and_then(|t| words.get(t + 1))
        .map_or_else(|| format!("unparsed: {line}"), |s| s.to_string())
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    // `/cached` twice: stored, then a cache hit
    for path in [
        "/",
        "/deny",
        "/return",
        "/redirect",
        "/auth",
        "/empty",
        "/cached",
        "/cached",
    ] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let got = side.exchange(0, raw.as_bytes()).await;
        out.push(answer(&got));
        out.push(logged(&side.line().await));
    }
    out
}

#[tokio::test]
async fn after_response_rules_as_haproxy() {
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    // Not vacuous: the server's answer and the proxy's own get the rules.
    assert!(
        ours[0].contains("x-be:b") && ours[0].contains("x-fe:200"),
        "{ours:#?}"
    );
    assert!(!ours[0].contains("x-server"), "{ours:#?}");
    assert!(
        ours[2].starts_with("HTTP/1.1 403") && ours[2].contains("x-fe:403"),
        "{ours:#?}"
    );
    assert!(!ours[2].contains("x-after-allow"), "allow: {ours:#?}");
    assert!(ours[4].starts_with("HTTP/1.1 299"), "{ours:#?}");
    // a cache hit gets the backend's and the frontend's rules
    assert!(
        ours[14].contains("x-fe:200") && ours[14].contains("x-be:cached"),
        "{ours:#?}"
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
