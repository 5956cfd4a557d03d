//! The request's facts HAProxy 2.6 keeps for the log line (its fetches valid at log end,
//! `haproxy -dKsmp`'s "logs" column) are written in `log-format` lines as haproxy writes them:
//! `method http_first_req req.proto_http prio_class prio_offset wait_end`, next to the
//! captures, the backend, the server and the status. The same config run by both proxies,
//! each logging to a UDP syslog socket of the test: two requests on one keep-alive connection
//! (the second is not the connection's first), one with a priority set by the rules, a
//! `HEAD`, and a TCP session; the lines compared byte for byte.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

const HTTP_FORMAT: &str = "m=%[method] first=%[http_first_req] proto=%[req.proto_http] \
     pc=%[prio_class] po=%[prio_offset] end=%[wait_end] cm=%[capture.req.method] \
     cu=%[capture.req.uri] be=%[be_name]/%[be_id] srv=%[srv_name]/%[srv_id] st=%[status] \
     fe=%[fe_name]";
const TCP_FORMAT: &str =
    "tcp m=%[method] proto=%[req.proto_http] pc=%[prio_class] end=%[wait_end] be=%[be_name]";

#[tokio::test]
async fn request_facts_in_log_lines_match_haproxy() {
    let raw = hello_server().await;
    let cfg = |s: &Setup<'_>| {
        format!(
            "{}frontend web\n  bind 127.0.0.1:{}\n  log-format \"{HTTP_FORMAT}\"\n\
             \x20 http-request set-priority-class int(7) if {{ path_beg /prio }}\n\
             \x20 http-request set-priority-offset int(-250) if {{ path_beg /prio }}\n\
             \x20 default_backend app\n\
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
        // two requests on one connection: the second is not the connection's first
        let mut c = Client::connect(side.addr(0)).await.expect("connect");
        for path in ["/one?a=1", "/prio/two"] {
            let raw = format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n");
            c.send_raw(raw.as_bytes()).await.expect("send");
            let r = c.read_response(false).await.expect("answer");
            assert_eq!(r.status, 200, "{}: {path}", side.who);
            out.push(side.line().await);
        }
        drop(c);
        out.push(
            side.request_line(0, "HEAD /h HTTP/1.0\r\nHost: h\r\n\r\n")
                .await,
        );
        out.push(
            side.request_line(
                0,
                "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab",
            )
            .await,
        );
        assert_eq!(side.exchange(1, b"hello").await, b"world");
        out.push(side.line().await);
        out
    };
    let (ours, theirs) = side_by_side(2, cfg, drive).await;
    // Not vacuous: the facts are written.
    assert!(
        ours[0].starts_with("m=GET first=1 proto=- pc=0 po=0 end=1 cm=GET cu=/one?a=1 "),
        "{ours:?}"
    );
    assert!(
        ours[1].contains(" first=0 ") && ours[1].contains(" pc=7 po=-250 "),
        "{ours:?}"
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
