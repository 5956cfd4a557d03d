//! The floor of HTTP/2 proxying with the `h2` crate and tokio: how little CPU a proxy built on
//! them can spend per request, to put fulcrum's figure (and HAProxy's) beside it.
//!
//! One thread (a current-thread runtime, as fulcrum's `nbthread 1`); an HTTP/2 server (h2c,
//! prior knowledge) for the clients; one HTTP/2 connection to the server, shared by every
//! stream; one client stream in → one server stream out: the request head copied (method,
//! target, fields), the response head copied back, the DATA frames relayed under flow
//! control. No rules, no logs, no timeouts, no counters.
//!
//!     h2-floor LISTEN_ADDR SERVER_ADDR [MAX_STREAMS]
//!
//! `FLOOR_SPAWN=1` runs each stream as a task of its own (tokio::spawn) instead of inside its
//! connection's task. `FLOOR_PAD=1` makes each stream's future [`PAD`] bytes larger (state
//! held across its awaits, as a proxy's session state is): what a large stream future costs.

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use h2::client::SendRequest;
use h2::{RecvStream, SendStream};
use std::future::poll_fn;
use std::task::Poll;
use tokio::net::{TcpListener, TcpStream};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let listen = args
        .next()
        .ok_or("usage: h2-floor LISTEN SERVER [MAX_STREAMS]")?;
    let server = args
        .next()
        .ok_or("usage: h2-floor LISTEN SERVER [MAX_STREAMS]")?;
    let max_streams: u32 = args.next().map_or(Ok(100), |s| s.parse())?;
    let spawn = std::env::var_os("FLOOR_SPAWN").is_some_and(|v| v == "1");
    let pad = std::env::var_os("FLOOR_PAD").is_some_and(|v| v == "1");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                let upstream = connect(&server).await?;
                let listener = TcpListener::bind(&listen).await?;
                loop {
                    let (sock, _) = listener.accept().await?;
                    sock.set_nodelay(true)?;
                    let up = upstream.clone();
                    tokio::task::spawn_local(async move {
                        let served = if pad {
                            serve::<PAD>(sock, up, max_streams, spawn).await
                        } else {
                            serve::<0>(sock, up, max_streams, spawn).await
                        };
                        if let Err(e) = served {
                            eprintln!("client connection: {e}");
                        }
                    });
                }
            })
            .await
    })
}

/// The one connection to the server, its driver a task of its own.
async fn connect(addr: &str) -> Result<SendRequest<Bytes>, Error> {
    let sock = TcpStream::connect(addr).await?;
    sock.set_nodelay(true)?;
    let (send, conn) = h2::client::Builder::new()
        .initial_window_size(65_535)
        .initial_connection_window_size(16 * 65_535)
        .enable_push(false)
        .handshake::<_, Bytes>(sock)
        .await?;
    tokio::task::spawn_local(async move {
        if let Err(e) = conn.await {
            eprintln!("server connection: {e}");
        }
    });
    Ok(send)
}

/// One client connection: its streams run inside its task (or each in its own).
async fn serve<const N: usize>(
    sock: TcpStream,
    up: SendRequest<Bytes>,
    max_streams: u32,
    spawn: bool,
) -> Result<(), Error> {
    let mut conn = h2::server::Builder::new()
        .initial_window_size(65_535)
        .initial_connection_window_size(16 * 65_535)
        .max_concurrent_streams(max_streams)
        .handshake::<_, Bytes>(sock)
        .await?;
    if spawn {
        while let Some(next) = conn.accept().await {
            let (req, respond) = next?;
            let up = up.clone();
            tokio::task::spawn_local(async move {
                let _ = stream::<N>(req, respond, up).await;
            });
        }
        return Ok(());
    }
    let mut streams = FuturesUnordered::new();
    loop {
        tokio::select! {
            next = conn.accept() => match next {
                Some(Ok((req, respond))) => streams.push(stream::<N>(req, respond, up.clone())),
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            // Every stream that can move moves (as fulcrum's `http::h2::serve`).
            () = drain(&mut streams), if !streams.is_empty() => {}
        }
    }
    while streams.next().await.is_some() {}
    Ok(())
}

async fn drain<F: std::future::Future>(streams: &mut FuturesUnordered<F>) {
    poll_fn(|cx| loop {
        match streams.poll_next_unpin(cx) {
            Poll::Ready(Some(_)) => continue,
            Poll::Ready(None) => return Poll::Ready(()),
            Poll::Pending => return Poll::Pending,
        }
    })
    .await
}

/// The extra state of a stream's future with `FLOOR_PAD=1`.
const PAD: usize = 8192;

/// One stream in, one stream out (with `N` bytes of state held across its awaits).
async fn stream<const N: usize>(
    req: http::Request<RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    mut up: SendRequest<Bytes>,
) -> Result<(), Error> {
    let mut state = [0u8; N];
    std::hint::black_box(&mut state);
    let (parts, mut body_in) = req.into_parts();
    let mut out = http::Request::new(());
    *out.method_mut() = parts.method;
    *out.uri_mut() = parts.uri;
    *out.headers_mut() = parts.headers;
    let end = body_in.is_end_stream();
    up = up.ready().await?;
    let (response, mut body_up) = up.send_request(out, end)?;
    if !end {
        relay(&mut body_in, &mut body_up).await?;
    }
    let (parts, mut body_down) = response.await?.into_parts();
    let end = body_down.is_end_stream();
    let mut head = http::Response::new(());
    *head.status_mut() = parts.status;
    *head.headers_mut() = parts.headers;
    let mut send = respond.send_response(head, end)?;
    if !end {
        relay(&mut body_down, &mut send).await?;
    }
    std::hint::black_box(&mut state);
    Ok(())
}

/// DATA frames from one stream to the other, each sent once the peer's window has room.
async fn relay(from: &mut RecvStream, to: &mut SendStream<Bytes>) -> Result<(), Error> {
    while let Some(chunk) = from.data().await {
        let mut chunk = chunk?;
        let n = chunk.len();
        while !chunk.is_empty() {
            to.reserve_capacity(chunk.len());
            let room = match poll_fn(|cx| to.poll_capacity(cx)).await {
                Some(r) => r?,
                None => return Err("stream closed".into()),
            };
            let part = chunk.split_to(room.min(chunk.len()));
            to.send_data(part, false)?;
        }
        from.flow_control().release_capacity(n)?;
    }
    match from.trailers().await? {
        Some(t) => to.send_trailers(t)?,
        None => to.send_data(Bytes::new(), true)?,
    }
    Ok(())
}
