//! How an HTTP/2 connection writes the answers of requests that arrive together (`serve_io`):
//! one write for the batch, not one per answer; and the clock read once per burst (`Clock`).

use super::*;
use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

/// The server's end of the pipe, counting its writes.
struct Counted {
    io: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(_))) {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

fn frontend() -> Arc<Frontend> {
    let text = "defaults\n  mode http\n  timeout client 5s\n\
                frontend f\n  bind 127.0.0.1:1 proto h2\n\
                  http-request return status 200 content-type text/plain string ok\n";
    let source = fulcrum_config::Source { name: "t", text };
    let cfg = fulcrum_config::load_sources(&[source]).config;
    let g = crate::state::build(&cfg, None).expect("build");
    g.frontends["f"].clone()
}

/// 50 requests sent together are answered in one write (the random order of the
/// connection's select took one or two answers per write).
#[tokio::test]
async fn the_answers_of_requests_sent_together_go_in_one_write() {
    let fe = frontend();
    let (c, s) = tokio::io::duplex(1 << 20);
    let writes = Arc::new(AtomicUsize::new(0));
    let io = Counted {
        io: s,
        writes: writes.clone(),
    };
    let addr: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    let conn = Conn {
        tls: None,
        peer: addr,
        local: addr,
        counted: crate::counters::SessionGuard::start(&fe.counters),
    };
    let (_stop_tx, stop) = watch::channel(false);
    let tune = fe.tune_h2;
    tokio::spawn(serve_io(fe, io, conn, stop, tune, None));
    let (client, h2conn) = h2::client::handshake(c).await.expect("client handshake");
    tokio::spawn(h2conn);
    let mut client = client.ready().await.expect("ready");
    let get = || {
        http::Request::get("http://a.test/")
            .body(())
            .expect("request")
    };
    // One request first: the settings exchanged, the connection settled.
    let (resp, _) = client.send_request(get(), true).expect("send");
    assert_eq!(resp.await.expect("answer").status(), 200);
    let before = writes.load(Ordering::Relaxed);
    let mut answers = Vec::new();
    for _ in 0..50 {
        let (resp, _) = client.send_request(get(), true).expect("send");
        answers.push(resp);
    }
    for resp in answers {
        let mut body = resp.await.expect("answer").into_body();
        let mut got = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk: Bytes = chunk.expect("data");
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, b"ok");
    }
    let batch = writes.load(Ordering::Relaxed) - before;
    assert!(batch <= 2, "{batch} writes for 50 answers sent together");
}

#[test]
fn the_clock_is_read_once_per_burst() {
    let mut clock = Clock::default();
    let first = clock.now();
    std::thread::sleep(std::time::Duration::from_millis(2));
    assert_eq!(clock.now(), first, "the same burst");
    clock.waited();
    assert!(clock.now().1 > first.1, "read again after a wait");
}
