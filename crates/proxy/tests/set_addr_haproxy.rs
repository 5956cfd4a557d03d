//! `http-request set-src`, `set-dst`, `set-src-port`, `set-dst-port` as HAProxy 2.6 runs
//! them: later rules (a deny on the new source), rule values (`%[src]` ...) and the log line
//! (`%ci %cp %fi %fp`) see the new addresses; an address keeps the port and a port keeps the
//! address; a value that is not an address changes nothing. The same config is run by
//! fulcrum and by the real haproxy; answers and log lines (read from a UDP syslog socket of
//! the test) are compared once the client's and the listener's ports are masked.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend web\n  bind 127.0.0.1:{}\n  log-format \"ci=%ci cp=%cp fi=%fi fp=%fp ST=%ST\"\n\
         \x20 http-request set-src req.hdr(x-real-ip) if {{ req.hdr(x-real-ip) -m found }}\n\
         \x20 http-request set-src-port req.hdr(x-port) if {{ req.hdr(x-port) -m found }}\n\
         \x20 http-request set-dst str(10.9.8.7) if {{ path /dst }}\n\
         \x20 http-request set-dst-port int(8081) if {{ path /dst }}\n\
         \x20 http-request deny if {{ src 192.0.2.0/24 }}\n\
         \x20 http-request return status 200 content-type text/plain lf-string \"src=%[src] sp=%[src_port] dst=%[dst] dp=%[dst_port]\" if {{ path /show }}\n\
         \x20 http-request return status 200 content-type text/plain lf-string \"src=%[src] sp=%[src_port] dst=%[dst] dp=%[dst_port]\" if {{ path /dst }}\n\
         \x20 default_backend app\n\
         backend app\n  server s1 {}\n",
        s.head("http"),
        s.ports[0],
        s.backend
    )
}

const REQUESTS: &[&str] = &[
    "GET /show HTTP/1.1\r\nHost: h\r\nX-Real-IP: 10.1.2.3\r\nX-Port: 4444\r\nConnection: close\r\n\r\n",
    "GET /dst HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    "GET /x HTTP/1.1\r\nHost: h\r\nX-Real-IP: 192.0.2.5\r\nConnection: close\r\n\r\n",
    "GET /x HTTP/1.1\r\nHost: h\r\nX-Real-IP: 2001:db8::1\r\nConnection: close\r\n\r\n",
    "GET /show HTTP/1.1\r\nHost: h\r\nX-Real-IP: not-an-address\r\nConnection: close\r\n\r\n",
];

/// (status line, body, log line) per request, the client's and listener's ports masked.
async fn run(side: Arc<Side>) -> Vec<(String, String, String)> {
    let http = side.port(0);
    let mut out = Vec::new();
    for raw in REQUESTS {
        let mut s = tokio::net::TcpStream::connect(side.addr(0))
            .await
            .expect("connect");
        let cport = s.local_addr().expect("addr").port();
        s.write_all(raw.as_bytes()).await.expect("send");
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
        let mask = |t: &str| {
            t.replace(&format!("={cport}"), "=CP")
                .replace(&format!("={http}"), "=FP")
        };
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text.lines().next().unwrap_or("").to_string();
        let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
        out.push((status, mask(&body), mask(&side.line().await)));
    }
    out
}

#[tokio::test]
async fn set_src_and_dst_match_haproxy() {
    let (ours, theirs) = side_by_side(1, cfg, run).await;
    // Not vacuous: the new addresses are seen by values, rules and the log.
    assert_eq!(
        ours[0].1, "src=10.1.2.3 sp=4444 dst=127.0.0.1 dp=FP",
        "{ours:?}"
    );
    assert_eq!(ours[0].2, "ci=10.1.2.3 cp=4444 fi=127.0.0.1 fp=FP ST=200");
    assert_eq!(ours[1].1, "src=127.0.0.1 sp=CP dst=10.9.8.7 dp=8081");
    assert!(ours[2].0.contains(" 403 "), "{ours:?}");
    assert!(ours[3].2.starts_with("ci=2001:db8::1 cp=CP "), "{ours:?}");
    assert_eq!(ours[4].1, "src=127.0.0.1 sp=CP dst=127.0.0.1 dp=FP");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
