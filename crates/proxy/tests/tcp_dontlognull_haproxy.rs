//! `option dontlognull` and `option dontlog-normal` in `mode tcp`, side by side with the real
//! haproxy 2.6: a session whose client sent no byte is not logged under `dontlognull`, however
//! it ended (a server's banner read and the connection closed, a `tcp-request content reject`,
//! a backend without servers, a refused server connection); a client that sent bytes is
//! logged with them (`%U`), also where the session ended early (rejected after inspection, no
//! server). The legacy line of a frontend without a log format ("Connect from") is written
//! at accept, `dontlognull` or not. `dontlog-normal` logs only the sessions that ended in an
//! error. Log lines are read from a UDP syslog socket. Under FULCRUM_REQUIRE_NETNS=1 a missing
//! haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A server that writes `hello\n` on each connection, then reads it to its end.
async fn banner_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let _ = s.write_all(b"hello\n").await;
                let mut sink = Vec::new();
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut sink)).await;
            });
        }
    });
    addr
}

const FORMAT: &str = "log-format \"%ft %b/%s %ts %U %B\"";

fn cfg(s: &Setup<'_>, banner: SocketAddr, echo: SocketAddr, dead: u16) -> String {
    let p = s.ports;
    format!(
        "{head}\
         frontend banner\n  bind 127.0.0.1:{}\n  option dontlognull\n  {FORMAT}\n  default_backend banner_be\n\
         frontend reject\n  bind 127.0.0.1:{}\n  option dontlognull\n  {FORMAT}\n\
         \x20 tcp-request inspect-delay 2s\n  tcp-request content reject if {{ req.len ge 3 }}\n\
         \x20 default_backend echo_be\n\
         frontend reject_now\n  bind 127.0.0.1:{}\n  option dontlognull\n  {FORMAT}\n  tcp-request content reject\n  default_backend echo_be\n\
         frontend noserver\n  bind 127.0.0.1:{}\n  option dontlognull\n  {FORMAT}\n\
         \x20 tcp-request inspect-delay 2s\n  tcp-request content accept if {{ req.len gt 0 }}\n  default_backend empty\n\
         frontend dead\n  bind 127.0.0.1:{}\n  option dontlognull\n  {FORMAT}\n  default_backend dead_be\n\
         frontend echo\n  bind 127.0.0.1:{}\n  option dontlognull\n  {FORMAT}\n  default_backend echo_be\n\
         frontend legacy\n  bind 127.0.0.1:{}\n  option dontlognull\n  default_backend echo_be\n\
         frontend normal\n  bind 127.0.0.1:{}\n  option dontlog-normal\n  {FORMAT}\n  default_backend echo_be\n\
         frontend normal_dead\n  bind 127.0.0.1:{}\n  option dontlog-normal\n  {FORMAT}\n  default_backend dead_be\n\
         frontend asap\n  bind 127.0.0.1:{}\n  option dontlognull\n  option logasap\n  {FORMAT}\n  default_backend banner_be\n\
         backend banner_be\n  server s {banner}\n\
         backend echo_be\n  server s {echo}\n\
         backend dead_be\n  retries 0\n  server s 127.0.0.1:{dead}\n\
         backend empty\n",
        p[0],
        p[1],
        p[2],
        p[3],
        p[4],
        p[5],
        p[6],
        p[7],
        p[8],
        p[9],
        head = s.head("tcp"),
    )
}

/// What a client does on a connection.
#[derive(Clone, Copy, Debug)]
enum Client {
    /// Sends nothing, reads until the proxy closes or 500 ms pass, closes.
    Quiet,
    /// Sends `abc`, half-closes, reads until the proxy closes.
    Sends,
}

/// Runs `client` against port `i`; the log line it caused (the message after the syslog
/// header), if one comes within 1 s, and what the client read.
async fn case(side: &Side, i: usize, client: Client) -> String {
    let mut s = TcpStream::connect(side.addr(i)).await.expect("connect");
    let mut got = Vec::new();
    match client {
        Client::Quiet => {
            let _ = tokio::time::timeout(Duration::from_millis(500), s.read_to_end(&mut got)).await;
        }
        Client::Sends => {
            s.write_all(b"abc").await.expect("send");
            let _ = s.shutdown().await;
            let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut got)).await;
        }
    }
    drop(s);
    let line = side.datagram(Duration::from_secs(1)).await.map(|d| {
        let msg = d.split_once("]: ").map_or(d.as_str(), |x| x.1).trim();
        mask_ports(msg)
    });
    format!(
        "port {i} {client:?}: read {:?}, line {line:?}",
        String::from_utf8_lossy(&got)
    )
}

#[tokio::test]
async fn tcp_sessions_without_client_bytes_are_not_logged_as_haproxy() {
    let banner = banner_server().await;
    let echo = echo("echo").await;
    let dead = free_port();
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        // (No client that sends to a refused server: whether haproxy reads its bytes before
        // it sees the refusal varies from run to run.)
        for (i, client) in [
            (0, Client::Quiet),
            (0, Client::Sends),
            (1, Client::Quiet),
            (1, Client::Sends),
            (2, Client::Quiet),
            (3, Client::Quiet),
            (3, Client::Sends),
            (4, Client::Quiet),
            (5, Client::Sends),
            (6, Client::Quiet),
            (7, Client::Sends),
            (8, Client::Quiet),
            (9, Client::Quiet),
        ] {
            out.push(case(&side, i, client).await);
        }
        out
    };
    let (ours, theirs) = side_by_side(10, |s| cfg(s, banner, echo, dead), drive).await;
    // Not vacuous without haproxy: what haproxy 2.6.12 does.
    assert!(ours[0].ends_with("line None"), "banner, quiet: {ours:#?}");
    assert!(ours[4].ends_with("line None"), "rejected, quiet: {ours:#?}");
    assert!(
        ours[5].ends_with("line None"),
        "no server, quiet: {ours:#?}"
    );
    assert!(ours[7].ends_with("line None"), "refused, quiet: {ours:#?}");
    assert!(
        ours[3].ends_with("line Some(\"reject reject/<NOSRV> PR 3 0\")"),
        "rejected after inspecting 3 bytes: {ours:#?}"
    );
    assert!(ours[9].contains("(legacy/TCP)"), "legacy line: {ours:#?}");
    assert!(
        ours[12].contains("asap banner_be/s -- 0 +0"),
        "logasap: {ours:#?}"
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
