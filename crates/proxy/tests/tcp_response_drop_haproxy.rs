//! `tcp-response content silent-drop` side by side with the real haproxy 2.6 on the same
//! config, in a TCP listen (on the server's first bytes, `res.len`) and in HTTP listens
//! (before the answer, and on its head, `status`): the client gets nothing of the answer,
//! and the log line says what haproxy's says (`PR`, as haproxy logs every silent drop, with
//! the server's bytes or status). The close is silenced: haproxy (root: TCP_REPAIR) sends
//! nothing at all, fulcrum lowers the socket's TTL and lingers 0, so on loopback its client
//! sees a reset; either way not the FIN of a plain close, which is what it was before.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cfg(s: &Setup<'_>) -> String {
    let (p, be) = (s.ports, s.backend);
    format!(
        "{}\
         listen t\n  mode tcp\n  bind 127.0.0.1:{}\n  option tcplog\n\
         \x20 tcp-response inspect-delay 2s\n\
         \x20 tcp-response content silent-drop if {{ res.len gt 0 }}\n\
         \x20 server s {be}\n\
         listen h\n  bind 127.0.0.1:{}\n  option httplog\n\
         \x20 tcp-response content silent-drop\n  server s {be}\n\
         listen r\n  bind 127.0.0.1:{}\n  option httplog\n\
         \x20 tcp-response inspect-delay 2s\n\
         \x20 tcp-response content silent-drop if {{ status 200 }}\n  server s {be}\n",
        s.head("http"),
        p[0],
        p[1],
        p[2],
    )
}

/// What the client got: the bytes, and how the connection ended within 1 s.
async fn talk(side: &Side, i: usize) -> (usize, &'static str) {
    let mut s = tokio::net::TcpStream::connect(side.addr(i))
        .await
        .expect("connect");
    s.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .expect("send");
    let mut got = 0;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            Ok(Ok(0)) => return (got, "closed"),
            Ok(Ok(n)) => got += n,
            Ok(Err(_)) => return (got, "reset"),
            Err(_) => return (got, "waiting"),
        }
    }
}

/// A tcplog line's proxy, backend/server, bytes and termination state. Its connection
/// counts are left out: fulcrum's (2/2/1/1/0) count another session still open there (most
/// likely the readiness probe's, whose TCP session waits for the server's first byte), haproxy's
/// 1/1/0/0/0.
fn tcp_fields(line: &str) -> String {
    let w: Vec<&str> = line.split_whitespace().collect();
    format!("{} {} {}", w[2..4].join(" "), w[5], w[6])
}

async fn drive(side: Arc<Side>) -> (Vec<String>, Vec<(usize, &'static str)>) {
    let mut lines = Vec::new();
    let mut ends = Vec::new();
    for i in 0..3 {
        ends.push(talk(&side, i).await);
        let line = side.line().await;
        lines.push(if i == 0 {
            tcp_fields(&line)
        } else {
            status_bytes_state(&line)
        });
    }
    (lines, ends)
}

#[tokio::test]
async fn tcp_response_silent_drop_as_haproxy() {
    let (ours, theirs) = side_by_side(3, cfg, drive).await;
    for (got, end) in &ours.1 {
        assert_eq!(
            *got, 0,
            "nothing of the answer reaches the client: {ours:?}"
        );
        assert_ne!(*end, "closed", "a silent drop sends no plain FIN: {ours:?}");
    }
    let Some(theirs) = theirs else { return };
    assert!(theirs.1.iter().all(|(got, _)| *got == 0), "{theirs:?}");
    assert_same(&ours.0, &theirs.0);
}
