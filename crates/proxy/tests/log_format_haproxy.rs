//! `log-format` traffic lines are the real HAProxy's: the same config (an HTTP frontend and
//! a TCP listen with custom formats of `%` variables, flags and `%[...]` sample expressions)
//! run by both proxies, each logging to a UDP syslog socket of the test, the same requests,
//! and the lines compared byte for byte once client ports are masked.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

const HTTP_FORMAT: &str = "%ci %ft %b/%s %ST %ts %tsc %rc %sq/%bq %{+Q}r %HM %HU %HP %HQ %HV \
     src=%[src] low=%[str(AbC),lower] q=%{+Q}[str(x)] none=%[env(FULCRUM_NO_SUCH_VAR)] \
     qnone=%{+Q}[env(FULCRUM_NO_SUCH_VAR)] sum=%[int(5),add(3)] cc=%CC %{+Q}HU lit=%% end";
const TCP_FORMAT: &str = "%ci %ft %b/%s %ts %rc src=%[src] m=%[str(x),upper] %{+Q}[str(q)]";

const REQUESTS: &[&str] = &[
    "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: Example.COM\r\nUser-Agent: ua \"quoted\"\r\nX-Esc: a\"b]c\r\nConnection: close\r\n\r\n",
    "HEAD /plain HTTP/1.0\r\nHost: h\r\n\r\n",
];

#[tokio::test]
async fn log_format_lines_match_haproxy() {
    let raw = hello_server().await;
    let cfg = |s: &Setup<'_>| {
        format!(
            "{}  option dontlognull\n\
             frontend web\n  bind 127.0.0.1:{}\n  log-format \"{HTTP_FORMAT}\"\n  default_backend app\n\
             backend app\n  server s1 {}\n\
             listen raw\n  mode tcp\n  bind 127.0.0.1:{}\n  log-format \"{TCP_FORMAT}\"\n  server s1 {raw}\n",
            s.head("http"),
            s.ports[0],
            s.backend,
            s.ports[1]
        )
    };
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        for raw in REQUESTS {
            out.push(mask_ports(&side.request_line(0, raw).await));
        }
        assert_eq!(side.exchange(1, b"hello").await, b"world");
        out.push(mask_ports(&side.line().await));
        out
    };
    let (ours, theirs) = side_by_side(2, cfg, drive).await;
    // Not vacuous: the custom format is what is written.
    assert!(
        ours[0].contains("src=127.0.0.1 low=abc q=\"x\" none=- qnone=\"\" sum=8 "),
        "{ours:?}"
    );
    assert!(ours[2].contains("src=127.0.0.1 m=X \"q\""), "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
