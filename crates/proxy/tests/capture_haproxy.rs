//! `capture request|response header` in log lines, side by side with the real haproxy 2.6
//! on a UDP syslog socket: the `{...}` blocks of `option httplog` and `%hr`/`%hs` of
//! `log-format` (last value, cut to `len`, `"#{|}` and control bytes as `#XX`).
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

#[tokio::test]
async fn captures_are_logged_as_haproxy_logs_them() {
    let cfg = |s: &Setup<'_>| {
        format!(
            "{}  option dontlognull\n\
             frontend a\n  bind 127.0.0.1:{}\n  option httplog\n\
             \x20 capture request header Host len 5\n  capture request header X-A len 20\n\
             \x20 capture response header X-Server len 10\n  default_backend app\n\
             frontend b\n  bind 127.0.0.1:{}\n  log-format \"%ST %hr %hs end\"\n\
             \x20 capture request header X-A len 3\n  default_backend app\n\
             backend app\n  server s1 {}\n",
            s.head("http"),
            s.ports[0],
            s.ports[1],
            s.backend
        )
    };
    // The `{...}` blocks of the httplog lines, and the log-format lines.
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        let re = regex::Regex::new(r"\{[^}]*\}").expect("re");
        for (i, raw) in [
            (0, "GET / HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nX-A: a|b\"c{d}#\r\nConnection: close\r\n\r\n"),
            (0, "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
            (1, "GET / HTTP/1.1\r\nHost: h\r\nX-A: abcdef\r\nConnection: close\r\n\r\n"),
        ] {
            let line = side.request_line(i, raw).await;
            if i == 0 {
                let blocks: Vec<&str> = re.find_iter(&line).map(|m| m.as_str()).collect();
                out.push(blocks.join(" "));
            } else {
                out.push(line);
            }
        }
        out
    };
    let (ours, theirs) = side_by_side(2, cfg, drive).await;
    assert_eq!(ours[0], "{examp|a#7Cb#22c#7Bd#7D#23} {app}", "{ours:?}");
    assert_eq!(ours[1], "{h|} {app}", "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
