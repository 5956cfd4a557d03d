//! `deny`, `tarpit` and `return` with response options side by side with the real haproxy
//! 2.6 on the same config: `errorfiles NAME` (a file of the `http-errors` section, or an
//! empty answer of the status when the section has none), `lf-string` bodies and `hdr`
//! values with samples, a tarpit's own answer (rendered after the hold, without the request,
//! as haproxy does), `http-response deny errorfiles`. The whole answer and the log line's
//! timers (`TR` and `Tw` as -1 or set), status, bytes and termination state must be equal.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    let page = s.dir.join("e403.http");
    std::fs::write(
        &page,
        "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\nnope\n",
    )
    .expect("write errorfile");
    format!(
        "{}  timeout tarpit 200ms\n\
         http-errors myerrs\n  errorfile 403 {page}\n\
         frontend f\n  bind 127.0.0.1:{}\n  option httplog\n\
         \x20 http-request deny deny_status 429 errorfiles myerrs if {{ path /a }}\n\
         \x20 http-request deny errorfiles myerrs if {{ path /b }}\n\
         \x20 http-request tarpit deny_status 403 errorfiles myerrs if {{ path /c }}\n\
         \x20 http-request tarpit deny_status 403 content-type text/plain string tarp hdr X-A v if {{ path /d }}\n\
         \x20 http-request tarpit deny_status 403 content-type text/plain lf-string \"%[path]\" hdr X-A \"%[path]\" if {{ path /d2 }}\n\
         \x20 http-request deny deny_status 404 content-type text/plain lf-string \"p=%[path]\" hdr X-B \"%[path]\" hdr X-C v hdr X-E \"%[req.hdr(nope)]\" if {{ path /e }}\n\
         \x20 http-request return status 403 errorfiles myerrs if {{ path /f }}\n\
         \x20 http-request return status 404 errorfiles myerrs if {{ path /g }}\n\
         \x20 http-request return status 502 content-type text/plain string p hdr X-C v if {{ path /r }}\n\
         \x20 http-request deny deny_status 403 if {{ path /h }}\n\
         \x20 http-request set-var(txn.p) path\n\
         \x20 default_backend app\n\
         backend app\n\
         \x20 http-response deny errorfiles myerrs if {{ var(txn.p) -m str /y }}\n\
         \x20 http-response deny deny_status 403 errorfiles myerrs if {{ var(txn.p) -m str /z }}\n\
         \x20 server s {}\n",
        s.head("http"),
        s.ports[0],
        s.backend,
        page = page.display()
    )
}

/// A `httplog` line's `TR` and `Tw` (set or -1), status, bytes and termination state.
fn logged(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some(t) = words.iter().position(|w| w.matches('/').count() == 4) else {
        return format!("unparsed: {line}");
    };
    let timers: Vec<&str> = words[t].split('/').collect();
    let set = |v: &str| if v == "-1" { "-1" } else { "set" };
    words
        .get(t + 1..t + 6)
        .map(|w| {
            format!(
                "TR {} Tw {} {} {} {}",
                set(timers[0]),
                set(timers[1]),
                w[0],
                w[1],
                w[4]
            )
        })
        .unwrap_or_else(|| format!("short: {line}"))
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    for path in [
        "/a", "/b", "/c", "/d", "/d2", "/e", "/f", "/g", "/r", "/h", "/y", "/z",
    ] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let got = side.exchange(0, raw.as_bytes()).await;
        out.push(format!("{path}: {}", String::from_utf8_lossy(&got)));
        out.push(logged(&side.line().await));
    }
    // A keep-alive client: an errorfile page without a length is delimited by the close,
    // announced with `connection: close`.
    let got = side
        .exchange(0, b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    out.push(format!("keep-alive /b: {}", String::from_utf8_lossy(&got)));
    out.push(logged(&side.line().await));
    out
}

#[tokio::test]
async fn deny_and_tarpit_replies_as_haproxy() {
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    assert!(ours[0].starts_with("/a: HTTP/1.1 429 "), "{ours:?}");
    assert!(ours[2].ends_with("\r\n\r\nnope\n"), "{ours:?}");
    assert!(ours[10].contains("x-b: /e\r\n"), "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}

/// `http-response deny` with a body or header rendered from samples: fulcrum sends the
/// rendered answer. haproxy 2.6.12 sends nothing there (the client's connection closes
/// without an answer, logged `502 PH`): a difference kept on purpose (README).
#[tokio::test]
async fn response_deny_renders_its_answer() {
    let cfg = |s: &Setup<'_>| {
        format!(
            "{}frontend f\n  bind 127.0.0.1:{}\n  option httplog\n  default_backend app\n\
             backend app\n\
             \x20 http-response deny content-type text/plain lf-string \"r=%[status]\" hdr X-S \"%[status]\"\n\
             \x20 server s {}\n",
            s.head("http"),
            s.ports[0],
            s.backend
        )
    };
    let drive = |side: Arc<Side>| async move {
        let got = side
            .exchange(0, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        (
            String::from_utf8_lossy(&got).into_owned(),
            side.line().await,
        )
    };
    let (ours, _) = side_by_side(1, cfg, drive).await;
    assert_eq!(
        ours.0,
        "HTTP/1.1 502 Bad Gateway or Proxy Error\r\nx-s: 200\r\ncontent-length: 5\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nr=200",
    );
    assert!(
        ours.1.contains(" 502 ") && ours.1.contains(" PH-- "),
        "{}",
        ours.1
    );
}
