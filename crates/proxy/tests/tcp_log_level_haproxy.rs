//! `tcp-request content set-log-level` side by side with the real haproxy 2.6: in a TCP
//! listen and in an HTTP frontend, the session's (request's) log line goes out at the
//! chosen syslog priority (`<PRI>`: eight times the facility plus the severity), `silent`
//! sends none. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

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
