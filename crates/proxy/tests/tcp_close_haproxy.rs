//! How a `mode tcp` session ends, side by side with the real HAProxy 2.6: a server that
//! half-closes first still receives what the client sends after and then its end of stream;
//! a client that half-closes first still receives the server's answer and then its end; the
//! log line's `%ts %U %B`, and `%bi %bp` (the server connection's own address, asked of the
//! socket only when a format writes it) are what HAProxy writes. Under FULCRUM_REQUIRE_NETNS=1
//! a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a server saw of one connection: the proxy's port, the bytes, whether the end of
/// stream came (within 3 s).
type Seen = (u16, Vec<u8>, bool);

/// A server of one behaviour: `first` writes `hello\n` and half-closes, then reads to the
/// end; otherwise it reads to the end, then answers `got N\n` and closes.
struct CloseServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn close_server(first: bool) -> CloseServer {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, peer)) = l.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                if first {
                    let _ = s.write_all(b"hello\n").await;
                    let _ = s.shutdown().await;
                }
                let mut got = Vec::new();
                let end = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut got))
                    .await
                    .is_ok_and(|r| r.is_ok());
                if !first {
                    let _ = s.write_all(format!("got {}\n", got.len()).as_bytes()).await;
                }
                record.lock().expect("seen").push((peer.port(), got, end));
            });
        }
    });
    CloseServer { addr, seen }
}

fn re(pattern: &str) -> regex::Regex {
    regex::Regex::new(pattern).expect("re")
}

/// The record of the connection a log line's `bp=PORT` names, once the server has it
/// (bounded: 3 s).
async fn seen_for(srv: &CloseServer, line: &str) -> Seen {
    let bp: u16 = re(r"bp=([0-9]+)").captures(line).expect("bp in the line")[1]
        .parse()
        .expect("port");
    for _ in 0..300 {
        let hit = srv
            .seen
            .lock()
            .expect("seen")
            .iter()
            .find(|s| s.0 == bp)
            .cloned();
        if let Some(s) = hit {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no server connection from port {bp}: {line}");
}

/// Reads until the end of stream (3 s at most): the bytes, and whether the end came.
async fn to_end(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let end = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut got))
        .await
        .is_ok_and(|r| r.is_ok());
    (got, end)
}

#[tokio::test]
async fn half_closes_and_the_lines_as_haproxy() {
    let cfg = |s: &Setup<'_>| {
        let dir = s.dir;
        let server = |name: &str| std::fs::read_to_string(dir.join(name)).expect("server addr");
        format!(
            "{}listen first\n  bind 127.0.0.1:{}\n  log-format \"first %ts %U %B bi=%bi bp=%bp %b/%s\"\n  server s {}\n\
             listen last\n  bind 127.0.0.1:{}\n  log-format \"last %ts %U %B bi=%bi bp=%bp %b/%s\"\n  server s {}\n",
            s.head("tcp"),
            s.ports[0],
            server("first").trim(),
            s.ports[1],
            server("last").trim(),
        )
    };
    // Each side's two servers, named in its config through files of its dir.
    let servers: Arc<Mutex<Vec<(CloseServer, CloseServer)>>> = Arc::new(Mutex::new(Vec::new()));
    let prepare = |dir: std::path::PathBuf| {
        let servers = servers.clone();
        async move {
            let first = close_server(true).await;
            let last = close_server(false).await;
            std::fs::write(dir.join("first"), first.addr.to_string()).expect("write");
            std::fs::write(dir.join("last"), last.addr.to_string()).expect("write");
            servers.lock().expect("servers").push((first, last));
        }
    };
    let drive = |side: Arc<Side>| {
        let servers = servers.clone();
        async move {
            let (first, last) = servers.lock().expect("servers").pop().expect("servers");
            let mut out = Vec::new();
            // The server half-closes first: the client gets its bytes and end, then sends
            // more and closes; the server gets those bytes and the end.
            let mut c = TcpStream::connect(side.addr(0)).await.expect("connect");
            let (got, end) = to_end(&mut c).await;
            out.push(format!(
                "client: {:?} end {end}",
                String::from_utf8_lossy(&got)
            ));
            c.write_all(b"bye\n")
                .await
                .expect("write after the server's end");
            c.shutdown().await.expect("half-close");
            let line = side.line().await;
            let (_, bytes, end) = seen_for(&first, &line).await;
            out.push(format!(
                "server: {:?} end {end}",
                String::from_utf8_lossy(&bytes)
            ));
            out.push(re(r"bp=[0-9]+").replace(&line, "bp=PORT").into_owned());
            drop(c);
            // The client half-closes first: the server reads to the end, answers, closes.
            let mut c = TcpStream::connect(side.addr(1)).await.expect("connect");
            c.write_all(b"ping").await.expect("write");
            c.shutdown().await.expect("half-close");
            let (got, end) = to_end(&mut c).await;
            out.push(format!(
                "client: {:?} end {end}",
                String::from_utf8_lossy(&got)
            ));
            let line = side.line().await;
            let (_, bytes, end) = seen_for(&last, &line).await;
            out.push(format!(
                "server: {:?} end {end}",
                String::from_utf8_lossy(&bytes)
            ));
            out.push(re(r"bp=[0-9]+").replace(&line, "bp=PORT").into_owned());
            out
        }
    };
    let (ours, theirs) = side_by_side_with(2, prepare, cfg, drive).await;
    assert_eq!(
        ours,
        [
            "client: \"hello\\n\" end true",
            "server: \"bye\\n\" end true",
            "first -- 4 6 bi=127.0.0.1 bp=PORT first/s",
            "client: \"got 4\\n\" end true",
            "server: \"ping\" end true",
            "last -- 4 6 bi=127.0.0.1 bp=PORT last/s",
        ],
        "fulcrum"
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
