//! Syslog frames and the options that choose which lines are sent, side by side with the
//! real haproxy 2.6 on UDP syslog sockets, whole datagrams compared once the process id,
//! the dates and the client ports are masked: `log ... format rfc5424|short|raw`,
//! `log-format-sd`, `log-tag` (global and per proxy), `log-send-hostname`, `option dontlog-normal` (only errors logged) and `option
//! log-separate-errors` (errors at `err`).
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;
use std::time::Duration;

fn cfg(s: &Setup<'_>) -> String {
    let y = s.syslog;
    let long = "x".repeat(150);
    format!(
        "global\n  log 127.0.0.1:{y} local0\n  log-tag gtag\n  log-send-hostname myhost\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f5424\n  bind 127.0.0.1:{}\n  log 127.0.0.1:{y} format rfc5424 local0\n\
         \x20 log-format \"%ci msg\"\n  http-request return status 200\n\
         frontend fsd\n  bind 127.0.0.1:{}\n  log 127.0.0.1:{y} format rfc5424 local0\n  log-tag ftag\n\
         \x20 log-format \"%ci msg2\"\n\
         \x20 log-format-sd \"[exampleSDID@1234 cip=\\\"%ci\\\"  q=%{{+Q,+E}}HU] [x@1 y=\\\"z\\\"]\"\n\
         \x20 http-request return status 200\n\
         frontend f3164\n  bind 127.0.0.1:{}\n  log global\n  log 127.0.0.1:{y} format rfc3164 local0\n  log-format \"%ci msg3 %HP\"\n  http-request return status 200\n\
         frontend fshort\n  bind 127.0.0.1:{}\n  log 127.0.0.1:{y} format short local0\n\
         \x20 log 127.0.0.1:{y} format raw local0\n\
         \x20 log-format \"%ci msg4 {long}\"\n  http-request return status 200\n\
         frontend fnormal\n  bind 127.0.0.1:{}\n  log global\n  option dontlog-normal\n\
         \x20 log-format \"%ci normal %HP %ST\"\n  http-request deny if {{ path /deny }}\n  default_backend app\n\
         frontend fsep\n  bind 127.0.0.1:{}\n  log global\n  option log-separate-errors\n\
         \x20 log-format \"%ci sep %HP %ST\"\n  use_backend dead if {{ path /dead }}\n  default_backend app\n\
         backend app\n  server s1 {}\n\
         backend dead\n",
        s.ports[0], s.ports[1], s.ports[2], s.ports[3], s.ports[4], s.ports[5], s.backend
    )
}

/// Masks the process id, the dates and the client ports of a whole datagram.
fn mask(d: &str) -> String {
    let d = mask_ports(d);
    let d = regex::Regex::new(r"\[[0-9]+\]: ")
        .expect("re")
        .replace(&d, "[PID]: ");
    let d = regex::Regex::new(r"^(<[0-9]+>1 )[0-9T:.+-]+ (\S+ \S+) [0-9]+ ")
        .expect("re")
        .replace(&d, "${1}DATE $2 PID ");
    regex::Regex::new(r"^(<[0-9]+>)[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} ")
        .expect("re")
        .replace(&d, "${1}DATE ")
        .into_owned()
}

async fn get(side: &Side, i: usize, path: &str) {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    let answer = side.exchange(i, raw.as_bytes()).await;
    assert!(answer.starts_with(b"HTTP/1."), "{}: {path}", side.who);
}

async fn next(side: &Side) -> String {
    let d = side.datagram(Duration::from_secs(5)).await;
    mask(&d.unwrap_or_else(|| panic!("{}: a log datagram within 5 s", side.who)))
}

async fn run(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    get(&side, 0, "/").await;
    out.push(next(&side).await);
    get(&side, 1, "/a\"b]").await;
    out.push(next(&side).await);
    get(&side, 2, "/p").await;
    out.push(next(&side).await);
    out.push(next(&side).await);
    get(&side, 3, "/").await;
    out.push(next(&side).await);
    out.push(next(&side).await);
    // dontlog-normal: the 200 is not logged, the deny is.
    get(&side, 4, "/ok").await;
    get(&side, 4, "/deny").await;
    out.push(next(&side).await);
    // log-separate-errors: a 200 at info, a 503 at err.
    get(&side, 5, "/fine").await;
    out.push(next(&side).await);
    get(&side, 5, "/dead").await;
    out.push(next(&side).await);
    assert!(
        side.quiet_for(Duration::from_millis(300)).await,
        "{}: one line too many",
        side.who
    );
    out
}

#[tokio::test]
async fn frames_and_log_options_as_haproxy() {
    let (ours, theirs) = side_by_side(6, cfg, run).await;
    // Not vacuous: what each frame and option says.
    assert_eq!(ours[0], "<134>1 DATE myhost gtag PID - - 127.0.0.1 msg\n");
    assert!(
        ours[1].starts_with("<134>1 DATE myhost ftag PID - [exampleSDID@1234 cip=\"127.0.0.1\" q="),
        "{ours:?}"
    );
    assert_eq!(ours[2], "<134>DATE myhost gtag[PID]: 127.0.0.1 msg3 /p\n");
    assert_eq!(ours[3], ours[2]);
    assert!(
        ours[4].starts_with("<6>127.0.0.1 msg4 xxx") && ours[4].len() > 150,
        "{ours:?}"
    );
    assert!(ours[5].starts_with("127.0.0.1 msg4 xxx"), "{ours:?}");
    assert!(ours[6].ends_with("normal /deny 403\n"), "{ours:?}");
    assert!(
        ours[7].starts_with("<134>") && ours[7].ends_with("sep /fine 200\n"),
        "{ours:?}"
    );
    assert!(
        ours[8].starts_with("<131>") && ours[8].ends_with("sep /dead 503\n"),
        "{ours:?}"
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
