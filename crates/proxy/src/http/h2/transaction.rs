//! One HTTP/2 stream as one transaction: the request goes to an HTTP session
//! (`http::session::serve`, all phases: rules, route, balancing, persistence, logs,
//! counters) through an in-memory pipe, and the session's answer comes back on the stream.
//! Bodies stream both ways under HTTP/2 flow control: a request DATA frame's window is given
//! back once the session has taken its bytes, and response data is sent only as the
//! client's window allows. A reset stream (either way) drops the pipes, which the session sees
//! as its client going away.

use super::convert::{self, Piece, ReqBody};
use super::pipe::{pipe, Receiver, Sender, StreamIo};
use crate::http::message::Message;
use crate::state::Frontend;
use bytes::{Bytes, BytesMut};
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// Bytes in flight in each direction between the stream and its session.
const PIPE: usize = 64 * 1024;

/// Why a stream ended early (it is reset).
#[derive(Debug)]
enum Abort {
    /// The client reset the stream or the connection failed.
    Client,
    /// The session's answer was not valid HTTP/1 or ended too soon.
    Answer,
}

/// Serves one stream to completion.
pub async fn serve(
    fe: Arc<Frontend>,
    req: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    peer: SocketAddr,
    local: SocketAddr,
    stop: watch::Receiver<bool>,
    track: Option<std::sync::Arc<crate::track::Tracking>>,
    tls: Option<Arc<crate::stream::TlsInfo>>,
) {
    let (parts, body) = req.into_parts();
    if parts.method == http::Method::CONNECT {
        // Tunnels over HTTP/2 are not done: the client is told to use HTTP/1.1 for it.
        respond.send_reset(h2::Reason::HTTP_1_1_REQUIRED);
        return;
    }
    let head_req = parts.method == http::Method::HEAD;
    let mut head = Vec::with_capacity(512);
    let framing = convert::request_head(&parts, body.is_end_stream(), &mut head);
    let (to_session, request) = pipe(PIPE.max(head.len()));
    let (answer, from_session) = pipe(PIPE);
    // The head fits: the pipe is empty and at least this large.
    if to_session.send(&head).await.is_err() {
        return;
    }
    let io = StreamIo {
        request,
        answer,
        tls,
    };
    let session = crate::http::session::serve(fe, io, peer, local, stop, track);
    let edge = async move {
        let pumping = async {
            if pump(body, &to_session, framing).await.is_ok() {
                // The whole request is with the session; it reads on until the answer ends.
                std::future::pending::<()>().await;
            }
            Err(Abort::Client)
        };
        let result = tokio::select! {
            r = pumping => r,
            r = answer_back(&from_session, &mut respond, head_req) => r,
        };
        if let Err(why) = result {
            tracing::debug!("h2 stream reset: {why:?}");
            respond.send_reset(match why {
                Abort::Client => h2::Reason::CANCEL,
                Abort::Answer => h2::Reason::INTERNAL_ERROR,
            });
        }
        // Dropping both ends here: the session sees end of file (after a complete answer:
        // the connection "closes" idle) or a broken pipe (an aborted stream).
        drop(to_session);
        drop(from_session);
    };
    tokio::join!(session, edge);
}

/// Feeds the request body to the session, giving back flow-control window as it goes.
async fn pump(mut body: RecvStream, to: &Sender, framing: ReqBody) -> Result<(), Abort> {
    let mut framed = Vec::new();
    if framing == ReqBody::None {
        return Ok(());
    }
    while let Some(data) = body.data().await {
        let data = data.map_err(|_| Abort::Client)?;
        let n = data.len();
        match framing {
            ReqBody::Chunked if n > 0 => {
                framed.clear();
                convert::chunk(&data, &mut framed);
                to.send(&framed).await
            }
            ReqBody::Chunked => Ok(()),
            _ => to.send(&data).await,
        }
        .map_err(|_| Abort::Client)?;
        let _ = body.flow_control().release_capacity(n);
    }
    if framing == ReqBody::Chunked {
        framed.clear();
        convert::chunk(b"", &mut framed);
        to.send(&framed).await.map_err(|_| Abort::Client)?;
    }
    Ok(())
}

/// Reads the session's HTTP/1 answer and sends it on the stream.
async fn answer_back(
    from: &Receiver,
    respond: &mut SendResponse<Bytes>,
    head_req: bool,
) -> Result<(), Abort> {
    let mut buf = BytesMut::new();
    let mut res = Message::new();
    // The head (interim 1xx answers are skipped: HTTP/2 has its own `100-continue`).
    loop {
        match res.parse_response(&buf) {
            Ok(Some(n)) if (100..200).contains(&res.status) => {
                let _ = buf.split_to(n);
                continue;
            }
            Ok(Some(n)) => {
                let _ = buf.split_to(n);
                break;
            }
            Ok(None) => {}
            Err(_) => return Err(Abort::Answer),
        }
        // While the server thinks, a client's RST_STREAM ends the transaction now.
        let more = tokio::select! {
            more = from.recv(PIPE) => more,
            _ = poll_fn(|cx| respond.poll_reset(cx)) => return Err(Abort::Client),
        };
        if more.is_empty() {
            return Err(Abort::Answer);
        }
        buf.extend_from_slice(&more);
    }
    let bodyless = head_req || res.status == 204 || res.status == 304;
    let chunked = convert::is_chunked(&res);
    let length = if chunked { None } else { content_length(&res) };
    let head = convert::response_head(&res);
    let end_now = bodyless || length == Some(0);
    let mut send = respond
        .send_response(head, end_now)
        .map_err(|_| Abort::Client)?;
    if end_now {
        return Ok(());
    }
    if chunked {
        let mut d = convert::Dechunk::default();
        loop {
            match d.next(&mut buf).map_err(|_| Abort::Answer)? {
                Some(Piece::Data(b)) => send_data(&mut send, b).await?,
                Some(Piece::End(trailers)) => {
                    return if trailers.is_empty() {
                        send.send_data(Bytes::new(), true)
                    } else {
                        send.send_trailers(trailers)
                    }
                    .map_err(|_| Abort::Client);
                }
                None => {
                    let more = from.recv(PIPE).await;
                    if more.is_empty() {
                        return Err(Abort::Answer);
                    }
                    buf.extend_from_slice(&more);
                }
            }
        }
    }
    // Content-length or until the session closes.
    let mut left = length;
    let mut chunk = buf.freeze();
    loop {
        if let Some(l) = left.as_mut() {
            let n = (*l).min(chunk.len() as u64) as usize;
            chunk.truncate(n);
            *l -= n as u64;
        }
        if !chunk.is_empty() {
            send_data(&mut send, chunk).await?;
        }
        if left == Some(0) {
            break;
        }
        chunk = from.recv(PIPE).await;
        if chunk.is_empty() {
            if left.is_some() {
                return Err(Abort::Answer);
            }
            break;
        }
    }
    send.send_data(Bytes::new(), true)
        .map_err(|_| Abort::Client)
}

fn content_length(res: &Message) -> Option<u64> {
    let v = res.header(b"content-length")?;
    std::str::from_utf8(crate::http::message::trim(v))
        .ok()?
        .parse()
        .ok()
}

/// Sends `data` as the client's window allows.
async fn send_data(send: &mut SendStream<Bytes>, mut data: Bytes) -> Result<(), Abort> {
    while !data.is_empty() {
        send.reserve_capacity(data.len());
        let cap = match poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(Ok(c)) => c,
            Some(Err(_)) | None => return Err(Abort::Client),
        };
        if cap == 0 {
            continue;
        }
        let part = data.split_to(cap.min(data.len()));
        send.send_data(part, false).map_err(|_| Abort::Client)?;
    }
    Ok(())
}
