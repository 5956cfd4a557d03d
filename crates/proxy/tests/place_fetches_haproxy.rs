//! Where a stream is, as the sample language reads it: `fe_name fe_id be_name be_id srv_name
//! srv_id hostname` in request and response rule values of a frontend and a backend, in an
//! HTTP and a TCP log-format line, side by side with the real haproxy 2.6 on the same config
//! (the headers the backend receives, the headers the client gets, the log lines). Under
//! FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    let b = s.backend;
    format!(
        "{head}\
         frontend web\n  bind 127.0.0.1:{p0}\n\
         \x20 log-format \"http %[fe_name] %[fe_id] %[be_name] %[be_id] %[srv_name] %[srv_id] %b %s\"\n\
         \x20 http-request set-header X-Fe \"%[fe_name] %[fe_id]\"\n\
         \x20 http-request set-header X-Host %[hostname]\n\
         \x20 http-response set-header X-Where \"%[fe_name] %[be_name] %[be_id] %[srv_name] %[srv_id]\"\n\
         \x20 use_backend app if {{ path_beg /app }}\n\
         \x20 default_backend other\n\
         backend other\n  server o1 {b}\n\
         backend app\n  balance roundrobin\n\
         \x20 http-request set-header X-Be \"%[fe_name] %[be_name] %[be_id]\"\n\
         \x20 server a1 {b}\n  server a2 {b}\n\
         listen tcpl\n  mode tcp\n  bind 127.0.0.1:{p1}\n\
         \x20 log-format \"tcp %[fe_name] %[fe_id] %[be_name] %[be_id] %[srv_name] %[srv_id]\"\n\
         \x20 server t1 {b}\n",
        head = s.head("http"),
        p0 = s.ports[0],
        p1 = s.ports[1],
    )
}

#[derive(Debug, PartialEq)]
struct Seen {
    /// Per request: the `x-` fields the client got, and the log line.
    answers: Vec<(Vec<String>, String)>,
    /// The `x-` fields of each request the backend received, sorted (round robin's order
    /// of a1/a2 is not compared).
    received: Vec<Vec<String>>,
}

async fn drive(side: Arc<Side>) -> Seen {
    let mut answers = Vec::new();
    for path in ["/", "/app/1", "/app/2"] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let got = side.exchange(0, raw.as_bytes()).await;
        let text = String::from_utf8_lossy(&got).into_owned();
        assert!(text.starts_with("HTTP/1.1 200"), "{}: {text}", side.who);
        let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
        answers.push((x_fields(&head), side.line().await));
    }
    // TCP mode: bytes through the listen, then its log line.
    let got = side
        .exchange(
            1,
            b"GET /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
    assert!(got.starts_with(b"HTTP/1.1 200"), "{}: tcp", side.who);
    answers.push((Vec::new(), side.line().await));
    let mut received: Vec<Vec<String>> = side.backend.heads().iter().map(|h| x_fields(h)).collect();
    received.sort();
    // The two servers of `app` may take the two requests in either order: sort those answers.
    answers[1..3].sort();
    Seen { answers, received }
}

#[tokio::test]
async fn place_fetches_as_haproxy() {
    let (ours, theirs) = side_by_side(2, cfg, drive).await;
    // Not vacuous: the values are there (the server's number in its backend from 1).
    let host = fulcrum_proxy::log::hostname();
    assert!(
        ours.received
            .iter()
            .any(|r| r.contains(&"x-be=web app 3".to_string())),
        "{ours:?}"
    );
    assert!(
        ours.answers
            .iter()
            .any(|(x, _)| x.contains(&"x-where=web app 3 a2 2".to_string())),
        "{ours:?}"
    );
    assert!(
        ours.received
            .iter()
            .any(|r| r.contains(&format!("x-host={host}"))),
        "{ours:?}"
    );
    let Some(theirs) = theirs else { return };
    assert_eq!(
        ours.received, theirs.received,
        "headers the backend received"
    );
    let (o, t): (Vec<_>, Vec<_>) = (
        ours.answers.iter().map(|a| &a.0).collect(),
        theirs.answers.iter().map(|a| &a.0).collect(),
    );
    assert_same(&o, &t);
    let (o, t): (Vec<_>, Vec<_>) = (
        ours.answers.iter().map(|a| &a.1).collect(),
        theirs.answers.iter().map(|a| &a.1).collect(),
    );
    assert_same(&o, &t);
}
