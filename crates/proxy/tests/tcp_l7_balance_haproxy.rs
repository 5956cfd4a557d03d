//! A `mode tcp` backend with a layer-7 `balance` (`uri`, `url_param`, `hdr`) has no request to
//! hash: haproxy 2.6 balances it by round robin (with a warning), and so does fulcrum (it sent
//! every connection to one server: the hash of an empty URI). Four sessions through each
//! proxy, two servers: two each. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the
//! test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn cfg(s: &Setup<'_>, a: SocketAddr, b: SocketAddr) -> String {
    format!(
        "{}listen uri\n  bind 127.0.0.1:{}\n  balance uri\n  server a {a}\n  server b {b}\n\
         listen hdr\n  bind 127.0.0.1:{}\n  balance hdr(host)\n  server a {a}\n  server b {b}\n",
        s.head("tcp"),
        s.ports[0],
        s.ports[1],
    )
}

/// Which server answered each of four sessions on port `i` (`a` or `b`), sorted.
async fn servers(side: &Side, i: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(side.addr(i)).await.expect("connect");
        s.write_all(b"x").await.expect("send");
        let _ = s.shutdown().await;
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut got)).await;
        out.push(String::from_utf8_lossy(&got).into_owned());
    }
    out.sort();
    out
}

#[tokio::test]
async fn layer7_balance_in_tcp_mode_is_round_robin_as_haproxy() {
    let a = echo("a").await;
    let b = echo("b").await;
    let drive =
        |side: Arc<Side>| async move { vec![servers(&side, 0).await, servers(&side, 1).await] };
    let (ours, theirs) = side_by_side(2, |s| cfg(s, a, b), drive).await;
    for got in &ours {
        assert_eq!(got, &["a:x", "a:x", "b:x", "b:x"], "{ours:?}");
    }
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
