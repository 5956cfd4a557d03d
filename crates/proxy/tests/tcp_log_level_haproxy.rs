//! `tcp-request content set-log-level` side by side with the real haproxy 2.6: in a TCP
//! listen and in an HTTP frontend, the session's (request's) log line goes out at the
//! chosen syslog priority (`<PRI>`: eight times the facility plus the severity), `silent`
//! sends none. `tcp-response content set-log-level` in an HTTP backend and a TCP listen.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;
use std::time::Duration;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend h\n  bind 127.0.0.1:{}\n  log-format \"h path=%HP\"\n\
         \x20 tcp-request content set-log-level err if {{ path /err }}\n\
         \x20 tcp-request content set-log-level silent if {{ path /quiet }}\n\
         \x20 default_backend b\n\
         backend b\n  server s {}\n\
         listen t\n  mode tcp\n  bind 127.0.0.1:{}\n  log-format \"t port=%fp\"\n\
         \x20 tcp-request content set-log-level notice\n\
         \x20 server s {}\n\
         listen q\n  mode tcp\n  bind 127.0.0.1:{}\n  log-format \"q port=%fp\"\n\
         \x20 tcp-request content set-log-level silent\n\
         \x20 server s {}\n",
        s.head("http"),
        s.ports[0],
        s.backend,
        s.ports[1],
        s.backend,
        s.ports[2],
        s.backend
    )
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    let pri = |l: &str| {
        let p = l.split('>').next().unwrap_or("").to_string();
        let body = l.split_once("]: ").map_or(l, |x| x.1).trim().to_string();
        // ports differ between the runs: keep the proxy's name only
        format!("{p}> {}", body.split(' ').next().unwrap_or(""))
    };
    for (port, path) in [
        (0, "/err"),
        (0, "/plain"),
        (0, "/quiet"),
        (1, "/t"),
        (2, "/q"),
    ] {
        let mut c = Client::connect(side.addr(port)).await.expect("connect");
        let r = c.get(path).await.expect("answer");
        drop(c);
        // every line of this request (the next within 2 s, then any within 300 ms)
        let mut lines = Vec::new();
        let mut wait = Duration::from_secs(2);
        while let Some(l) = side.datagram(wait).await {
            lines.push(pri(&l));
            wait = Duration::from_millis(300);
        }
        // haproxy 2.6 sent the HTTP frontend's line twice here (not a level matter): once
        lines.dedup();
        out.push(format!("{path}: {} {:?}", r.status, lines));
    }
    out
}

#[tokio::test]
async fn tcp_content_log_levels_as_haproxy() {
    let (ours, theirs) = side_by_side(3, cfg, drive).await;
    assert!(ours[0].contains("<131>"), "{ours:?}");
    assert!(ours[2].ends_with("[]"), "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}

fn response_cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend h\n  bind 127.0.0.1:{}\n  log-format \"h path=%HP\"\n\
         \x20 use_backend rerr if {{ path /rerr }}\n\
         \x20 use_backend rquiet if {{ path /rquiet }}\n\
         \x20 default_backend b\n\
         backend b\n  server s {}\n\
         backend rerr\n  tcp-response content set-log-level err\n  server s {}\n\
         backend rquiet\n  tcp-response content set-log-level silent\n  server s {}\n\
         listen r\n  mode tcp\n  bind 127.0.0.1:{}\n  log-format \"r port=%fp\"\n\
         \x20 tcp-response content set-log-level warning\n\
         \x20 server s {}\n",
        s.head("http"),
        s.ports[0],
        s.backend,
        s.backend,
        s.backend,
        s.ports[1],
        s.backend
    )
}

async fn drive_response(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    for (port, path) in [(0, "/rerr"), (0, "/plain"), (0, "/rquiet"), (1, "/r")] {
        let mut c = Client::connect(side.addr(port)).await.expect("connect");
        let r = c.get(path).await.expect("answer");
        // The lines while the client's connection stays open (a TCP session's comes at its
        // end, so it is closed first).
        if port == 1 {
            drop(c);
            c = Client::connect(side.addr(0)).await.expect("connect");
        }
        let mut lines = Vec::new();
        let mut wait = Duration::from_secs(2);
        while let Some(l) = side.datagram(wait).await {
            let p = l.split('>').next().unwrap_or("").to_string();
            let body = l
                .split_once("]: ")
                .map_or(&l[..], |x| x.1)
                .trim()
                .to_string();
            // ports differ between the runs: the proxy's name only
            lines.push(format!("{p}> {}", body.split(' ').next().unwrap_or("")));
            wait = Duration::from_millis(300);
        }
        drop(c);
        out.push(format!("{path}: {} {:?}", r.status, lines));
    }
    out
}

/// `tcp-response content set-log-level`: an HTTP request's line at the level (`silent`:
/// none); a TCP session's line stays at `info`, as haproxy 2.6 leaves it (measured).
#[tokio::test]
async fn tcp_response_log_levels_as_haproxy() {
    let (ours, theirs) = side_by_side(2, response_cfg, drive_response).await;
    assert_eq!(
        ours,
        [
            "/rerr: 200 [\"<131> h\"]",
            "/plain: 200 [\"<134> h\"]",
            "/rquiet: 200 []",
            "/r: 200 [\"<134> r\"]",
        ],
    );
    let Some(theirs) = theirs else { return };
    // haproxy 2.6.12 with this test's server also sends the HTTP request's line at `info`
    // first, even for `silent` (not seen with a server writing its head and body apart, nor
    // with a `tcp-request content set-log-level`): its line at the rule's level is the
    // last one, compared; the copy is reported, not reproduced.
    let last = |v: &str| {
        let (head, lines) = v.split_once(" [").unwrap_or((v, ""));
        let lines: Vec<&str> = lines.trim_end_matches(']').split(", ").collect();
        let info_copy = lines.len() > 1 && lines[0].contains("<134>");
        let kept = if info_copy { &lines[1..] } else { &lines[..] };
        format!("{head} [{}]", kept.join(", "))
    };
    let theirs: Vec<String> = theirs.iter().map(|t| last(t)).collect();
    assert_same(&ours[..2], &theirs[..2]);
    assert_eq!(ours[3], theirs[3], "a TCP session's line stays at info");
    assert!(
        theirs[2] == "/rquiet: 200 []" || theirs[2] == "/rquiet: 200 [\"<134> h\"]",
        "silent: only haproxy's info copy at most: {theirs:?}"
    );
}
