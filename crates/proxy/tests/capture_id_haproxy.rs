//! `declare capture request|response len N` with `http-request capture SAMPLE id N` and
//! `http-response capture SAMPLE id N`, side by side with the real haproxy 2.6: the declared
//! slots take their place among the `capture ... header` slots (in the order written), the
//! rules fill them (cut to the declared length), and `%hr %hs %hrl %hsl` read from a UDP
//! syslog socket are the same bytes.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend f\n  bind 127.0.0.1:{}\n  log-format \"hr=%hr hs=%hs hrl=%hrl hsl=%hsl end\"\n\
         \x20 declare capture request len 8\n\
         \x20 capture request header Host len 10\n\
         \x20 declare capture response len 2\n\
         \x20 capture response header X-Server len 10\n\
         \x20 http-request capture req.hdr(user-agent) id 0\n\
         \x20 http-response capture res.hdr(x-server),upper id 0 if {{ status 200 }}\n\
         \x20 default_backend b\n\
         backend b\n  server s {}\n",
        s.head("http"),
        s.ports[0],
        s.backend
    )
}

const REQUESTS: &[&str] = &[
    "GET /p HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\nConnection: close\r\n\r\n",
    "GET /q HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
];

#[tokio::test]
async fn declared_captures_as_haproxy() {
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        for raw in REQUESTS {
            out.push(side.request_line(0, raw).await);
        }
        out
    };
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    assert_eq!(
        ours[0], "hr={Mozilla/|example.co} hs={AP|app} hrl=Mozilla/ example.co hsl=AP app end",
        "{ours:?}"
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}

/// `capture ... id N` naming a slot `capture request|response header` made: the rule's
/// sample replaces the header's value (cut to the slot's length) in `%hr`/`%hs` and in
/// `capture.req.hdr(N)` read by a later rule; a rule that does not run, or whose sample has
/// no value, leaves the header's value; a backend's rule fills the frontend's slot.
fn over_headers(s: &Setup<'_>) -> String {
    format!(
        "{}frontend f\n  bind 127.0.0.1:{}\n  log-format \"hr=%hr hs=%hs end\"\n\
         \x20 capture request header Host len 10\n\
         \x20 capture request header X-A len 4\n\
         \x20 capture response header X-Server len 10\n\
         \x20 capture response header Content-Length len 5\n\
         \x20 http-request capture req.hdr(user-agent) id 0\n\
         \x20 http-request capture str(zzzzzz) id 1 if {{ req.hdr(x-b) -m found }}\n\
         \x20 http-request set-header X-Cap %[capture.req.hdr(0)]/%[capture.req.hdr(1)]\n\
         \x20 http-response capture res.hdr(x-server),upper id 0 if {{ status 200 }}\n\
         \x20 default_backend b\n\
         backend b\n  server s {}\n\
         \x20 http-request set-var(txn.p) path\n\
         \x20 http-response capture str(be) id 1 if {{ var(txn.p) -m str /q }}\n",
        s.head("http"),
        s.ports[0],
        s.backend
    )
}

const OVER: &[&str] = &[
    "GET /p HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\nX-A: aaaaaa\r\nConnection: close\r\n\r\n",
    "GET /q HTTP/1.1\r\nHost: h\r\nX-A: a\r\nX-B: 1\r\nConnection: close\r\n\r\n",
    "GET /r HTTP/1.1\r\nHost: hh\r\nUser-Agent: \r\nConnection: close\r\n\r\n",
];

#[tokio::test]
async fn capture_id_over_header_slots_as_haproxy() {
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        for raw in OVER {
            out.push(side.request_line(0, raw).await);
        }
        for head in side.backend.heads() {
            out.extend(x_fields(&head));
        }
        out
    };
    let (ours, theirs) = side_by_side(1, over_headers, drive).await;
    assert_eq!(ours[0], "hr={Mozilla/5.|aaaa} hs={APP|3} end", "{ours:?}");
    assert_eq!(ours[1], "hr={h|zzzz} hs={APP|be} end", "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
