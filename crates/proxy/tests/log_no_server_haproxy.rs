//! A backend with no server to give (none declared, or all `disabled`) logs `Tw` -1, as
//! haproxy 2.6 does (the request never reached a queue): `option httplog` and `option
//! tcplog` lines of the same config run by fulcrum and by the real haproxy, read from a UDP
//! syslog socket and compared once ports and dates are masked. Under
//! FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend f\n  bind 127.0.0.1:{}\n  option httplog\n\
         \x20 use_backend off if {{ path /off }}\n  default_backend empty\n\
         frontend t\n  mode tcp\n  bind 127.0.0.1:{}\n  option tcplog\n  default_backend emptyt\n\
         backend empty\n\
         backend off\n  server s1 {} disabled\n\
         backend emptyt\n  mode tcp\n",
        s.head("http"),
        s.ports[0],
        s.ports[1],
        s.backend
    )
}

/// Masks the client ports and dates, the total time (the last timer, 0 unless slow), an HTTP
/// line's `%TR` (0 unless slow: a loaded machine made it 1 ms) and the process's and the
/// frontend's connection counts `%ac/%fc` (the previous request's connection, or the readiness
/// probe's, may still be closing when the next line is written: haproxy 2.6 once logged
/// `%ac` 2 where fulcrum logged 1, and under CI load `%fc` 2 on the TCP line).
fn mask(line: &str) -> String {
    let line = mask_ports(line);
    let tr = regex::Regex::new(r"> [0-9]+(/-?[0-9]+/-?[0-9]+/-?[0-9]+/)").expect("re");
    let line = tr.replacen(&line, 1, "> TR$1").into_owned();
    let ac = regex::Regex::new(r" [0-9]+/[0-9]+(/[0-9]+/[0-9]+/[0-9]+ )").expect("re");
    let line = ac.replacen(&line, 1, " AC/FC$1").into_owned();
    let date = regex::Regex::new(r"\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:.]+\]").expect("re");
    let line = date.replace_all(&line, "[DATE]");
    let total = regex::Regex::new(r"(/-?[0-9]+)/[0-9]+ ").expect("re");
    total.replacen(&line, 1, "$1/N ").into_owned()
}

#[tokio::test]
async fn no_server_logs_tw_minus_one_as_haproxy() {
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        for path in ["/x", "/off"] {
            let raw = format!("GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
            let answer = side.exchange(0, raw.as_bytes()).await;
            assert!(answer.starts_with(b"HTTP/1.1 503"), "{}", side.who);
            out.push(mask(&side.line().await));
        }
        let _ = side.exchange(1, b"hello").await;
        out.push(mask(&side.line().await));
        out
    };
    let (ours, theirs) = side_by_side(2, cfg, drive).await;
    // Not vacuous without haproxy: what haproxy 2.6.12 writes.
    assert!(
        ours[0].contains(" f empty/<NOSRV> TR/-1/-1/-1/N 503 "),
        "{ours:?}"
    );
    assert!(
        ours[1].contains(" f off/<NOSRV> TR/-1/-1/-1/N 503 "),
        "{ours:?}"
    );
    assert!(
        ours[2].contains(" t emptyt/<NOSRV> -1/-1/N 0 SC "),
        "{ours:?}"
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
