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
