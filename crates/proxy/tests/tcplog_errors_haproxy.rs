//! How `mode tcp` sessions that end in an error are logged, side by side with the real
//! haproxy 2.6: a server that does not answer within `timeout server` (`sD`), a client idle
//! past `timeout client` (`cD`), a server that resets the connection (`SD`), a client that
//! resets it (`CD`), a server that closes after its banner (`--`), both timeouts equal and
//! a client that sent nothing (`cD`; after a client's bytes haproxy's choice varies from run
//! to run): the termination state, `%U`, `%B` and the retries of each line, read from a UDP
//! syslog socket. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the
//! test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a test server treats each connection.
#[derive(Clone, Copy)]
enum Server {
    /// Reads to the end, never writes.
    Mute,
    /// Reads 3 bytes, then resets the connection.
    Resets,
    /// Writes `hello\n` and closes.
    Banner,
}

async fn server(kind: Server) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                match kind {
                    Server::Mute => {
                        let mut sink = Vec::new();
                        let _ =
                            tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut sink))
                                .await;
                    }
                    Server::Resets => {
                        let mut b = [0u8; 3];
                        let _ = s.read_exact(&mut b).await;
                        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                    }
                    Server::Banner => {
                        let _ = s.write_all(b"hello\n").await;
                    }
                }
            });
        }
    });
    addr
}

const FORMAT: &str = "log-format \"%ft %b/%s %ts %U %B %rc\"";

fn cfg(s: &Setup<'_>, mute: SocketAddr, resets: SocketAddr, banner: SocketAddr) -> String {
    let p = s.ports;
    format!(
        "global\n  log 127.0.0.1:{} local0\n\
         defaults\n  mode tcp\n  log global\n  {FORMAT}\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend stimeout\n  bind 127.0.0.1:{}\n  default_backend mute_slow\n\
         frontend ctimeout\n  bind 127.0.0.1:{}\n  timeout client 300ms\n  default_backend mute\n\
         frontend sreset\n  bind 127.0.0.1:{}\n  default_backend resets\n\
         frontend creset\n  bind 127.0.0.1:{}\n  default_backend mute\n\
         frontend banner\n  bind 127.0.0.1:{}\n  default_backend banner\n\
         frontend equal\n  bind 127.0.0.1:{}\n  timeout client 300ms\n  default_backend mute_slow\n\
         backend mute_slow\n  timeout server 300ms\n  server s {mute}\n\
         backend mute\n  server s {mute}\n\
         backend resets\n  server s {resets}\n\
         backend banner\n  server s {banner}\n",
        s.syslog, p[0], p[1], p[2], p[3], p[4], p[5],
    )
}

/// What a client does.
#[derive(Clone, Copy, Debug)]
enum Client {
    /// Sends `abc` and reads until the proxy closes (5 s at most).
    Sends,
    /// Sends `abc`, waits 300 ms, resets the connection.
    Resets,
    /// Reads until the proxy closes (5 s at most), sending nothing.
    Reads,
}

async fn case(side: &Side, i: usize, client: Client) -> String {
    let mut s = TcpStream::connect(side.addr(i)).await.expect("connect");
    let mut got = Vec::new();
    match client {
        Client::Sends => {
            s.write_all(b"abc").await.expect("send");
            let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got)).await;
        }
        Client::Resets => {
            s.write_all(b"abc").await.expect("send");
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
        }
        Client::Reads => {
            let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got)).await;
        }
    }
    drop(s);
    let line = side.datagram(Duration::from_secs(5)).await.map(|d| {
        let msg = d.split_once("]: ").map_or(d.as_str(), |x| x.1).trim();
        msg.to_string()
    });
    format!(
        "port {i} {client:?}: read {:?}, line {line:?}",
        String::from_utf8_lossy(&got)
    )
}

#[tokio::test]
async fn tcp_error_lines_are_haproxys() {
    let mute = server(Server::Mute).await;
    let resets = server(Server::Resets).await;
    let banner = server(Server::Banner).await;
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        for (i, client) in [
            (0, Client::Sends),
            (1, Client::Sends),
            (2, Client::Sends),
            (3, Client::Resets),
            (4, Client::Reads),
            (5, Client::Reads),
        ] {
            out.push(case(&side, i, client).await);
        }
        out
    };
    let (ours, theirs) = side_by_side(6, |s| cfg(s, mute, resets, banner), drive).await;
    // Not vacuous without haproxy: what haproxy 2.6.12 writes.
    for want in [
        "stimeout mute_slow/s sD 3 0 0",
        "ctimeout mute/s cD 3 0 0",
        "creset mute/s CD 3 0 0",
        "equal mute_slow/s cD 0 0 0",
    ] {
        assert!(ours.iter().any(|l| l.contains(want)), "{want}: {ours:#?}");
    }
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
