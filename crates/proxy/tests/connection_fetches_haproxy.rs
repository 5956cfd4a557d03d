//! Fetches naming the `Connection` header, side by side with the real haproxy 2.6: its
//! HTTP/1 parser drops the `close`/`keep-alive` tokens (a line left empty is gone), so
//! `req.hdr_cnt(connection)`, `req.fhdr_cnt(connection)`, `req.hdr(connection)`,
//! `req.fhdr(connection)` and `hdr_cnt(Connection)` read what is left; the answers are compared.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend f\n  bind 127.0.0.1:{}\n\
         \x20 http-request return status 200 content-type text/plain lf-string \"cnt=%[req.hdr_cnt(connection)] all=%[req.hdr_cnt] f=%[req.fhdr_cnt(connection)] v=%[req.hdr(connection)] fv=%[req.fhdr(connection)] hc=%[hdr_cnt(Connection)] up=%[req.hdr(connection,1)]\"\n",
        s.head("http"),
        s.ports[0],
    )
}

const CONNECTIONS: &[&str] = &[
    "Connection: close\r\n",
    "Connection: keep-alive\r\n",
    "Connection: Upgrade, close\r\n",
    "Connection: foo\r\n",
    "Connection: close, foo\r\n",
    "Connection: foo\r\nConnection: close\r\n",
    "",
];

#[tokio::test]
async fn connection_header_fetches_as_haproxy() {
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        for c in CONNECTIONS {
            let raw = format!("GET / HTTP/1.1\r\nHost: h\r\n{c}\r\n");
            let mut c2 = Client::connect(side.addr(0)).await.expect("connect");
            c2.send_raw(raw.as_bytes()).await.expect("send");
            let r = c2.read_response(false).await.expect("answer");
            out.push(format!("{c:?} => {}", r.text()));
        }
        out
    };
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    assert!(
        ours[0].ends_with("cnt=0 all=1 f=0 v= fv= hc=0 up="),
        "{ours:?}"
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
