//! The HTTP/2 codec's edge of one stream: what the HTTP session's phases read the request from
//! and write the answer to, in place of a client connection (a [`ClientStream`]).
//!
//! - The request head is handed over as the neutral head ([`H2Edge::take_request`], filled
//!   from the pseudo-headers by `convert::request_message`): never written as HTTP/1 bytes.
//! - The request body is a source ([`Source`], the stream's DATA frames; a body of unknown
//!   length is framed as chunks for the HTTP/1.1 server), its flow-control window given back
//!   as the session takes the bytes.
//! - The response head is sent from the neutral head ([`H2Edge::send_head`]); the body bytes
//!   the session writes then go out as DATA frames under the client's window ([`Sink`]): as
//!   they are for a known length, de-chunked (trailers become HTTP/2 trailers) for a chunked
//!   answer. An answer the proxy makes itself (an error page, `return`, a redirect, an
//!   applet, a cache hit: `http::response`) goes the same way: its neutral head through
//!   [`H2Edge::send_head`], its body as writes. Bytes written before a head are refused:
//!   nothing here parses HTTP/1.
//! - An interim answer (`100 Continue`, the server's or the proxy's) goes as an informational
//!   HEADERS frame ([`H2Edge::send_interim`]).
//! - A stream reset by the client is seen as a failed write, or by [`ClientStream::peek_byte`]
//!   (`option abortonclose`); a stream the session leaves unanswered or unfinished is reset.

use super::convert::{self, Piece, ReqBody};
use crate::http::message::Message;
use crate::stream::{ClientStream, PeekRead, TlsInfo};
use bytes::{Bytes, BytesMut};
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One HTTP/2 stream as the HTTP session's client.
pub struct H2Edge {
    /// The request head, until the session takes it.
    head: Option<http::request::Parts>,
    source: Source,
    sink: Sink,
    /// The connection's TLS handshake, when HTTP/2 runs over TLS.
    tls: Option<Arc<TlsInfo>>,
}

impl H2Edge {
    pub fn new(
        req: http::Request<RecvStream>,
        respond: SendResponse<Bytes>,
        tls: Option<Arc<TlsInfo>>,
    ) -> H2Edge {
        let (parts, body) = req.into_parts();
        let head_req = parts.method == http::Method::HEAD;
        H2Edge {
            head: Some(parts),
            source: Source {
                body,
                framing: ReqBody::None,
                pending: Bytes::new(),
                unreleased: 0,
                done: false,
            },
            sink: Sink {
                respond,
                send: None,
                mode: Mode::NoHead,
                head_req,
                pending: Bytes::new(),
                finish: None,
                absorbed: None,
            },
            tls,
        }
    }

    /// Fills `req` with the request head (once); returns its size as HTTP/1 would write it.
    pub fn take_request(&mut self, req: &mut Message) -> usize {
        let Some(parts) = self.head.take() else {
            return 0;
        };
        let (framing, size) =
            convert::request_message(&parts, self.source.body.is_end_stream(), req);
        self.source.framing = framing;
        self.source.done = framing == ReqBody::None;
        size
    }

    /// Sends the response head from the neutral head `res` (the body follows as writes).
    pub fn send_head(&mut self, res: &Message) -> io::Result<()> {
        self.sink.send_head(res)
    }

    /// Sends an interim (1xx) answer, e.g. `100 Continue`, before the final head.
    pub fn send_interim(&mut self, res: &Message) -> io::Result<()> {
        if !matches!(self.sink.mode, Mode::NoHead) || !(100..200).contains(&res.status) {
            return Err(io::Error::other("not an interim answer before the head"));
        }
        self.sink
            .respond
            .send_informational(convert::response_head(res))
            .map_err(|_| broken())
    }
}

/// The size of a response head written as HTTP/1 (what the byte counters count for it).
pub fn h1_size(res: &Message) -> u64 {
    let fields: usize = res
        .fields
        .iter()
        .map(|f| res.name(f).len() + res.value(f).len() + 4)
        .sum();
    (fields + res.reason().len() + 15) as u64
}

/// The request body, as the HTTP/1 framing of the head says (chunks for an unknown length).
pub struct Source {
    body: RecvStream,
    framing: ReqBody,
    /// Framed bytes not yet read by the session.
    pending: Bytes,
    /// Window to give back once `pending` is read.
    unreleased: usize,
    /// The body (and its last chunk) is in `pending` or read.
    done: bool,
}

impl Source {
    /// Ready with how many bytes wait (0: the body ended), taking the next DATA frame if none.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        loop {
            if !self.pending.is_empty() || self.done {
                return Poll::Ready(Ok(self.pending.len()));
            }
            match ready!(self.body.poll_data(cx)) {
                Some(Ok(data)) => {
                    self.unreleased += data.len();
                    if data.is_empty() {
                        continue;
                    }
                    self.pending = if self.framing == ReqBody::Chunked {
                        let mut framed = Vec::with_capacity(data.len() + 12);
                        convert::chunk(&data, &mut framed);
                        framed.into()
                    } else {
                        data
                    };
                }
                Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
                None => {
                    if self.framing == ReqBody::Chunked {
                        // The client's trailers (gRPC, HTTP/2 servers) as chunk trailers.
                        let t = ready!(self.body.poll_trailers(cx)).ok().flatten();
                        self.pending = convert::last_chunk(t.as_ref()).into();
                    }
                    self.done = true;
                }
            }
        }
    }
}

impl AsyncRead for Source {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_fill(cx))?;
        let n = this.pending.len().min(buf.remaining());
        buf.put_slice(&this.pending.split_to(n));
        if this.pending.is_empty() && this.unreleased > 0 {
            let _ = this.body.flow_control().release_capacity(this.unreleased);
            this.unreleased = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl PeekRead for &mut Source {
    async fn peek_byte(&mut self) -> io::Result<usize> {
        poll_fn(|cx| self.poll_fill(cx)).await
    }
}

/// How the body bytes the session writes become DATA frames.
enum Mode {
    /// No head sent yet: a write is refused (the head goes first, from a neutral head).
    NoHead,
    /// This many bytes left (a `content-length`).
    Length(u64),
    Chunked(convert::Dechunk, BytesMut),
    /// Until the session shuts the stream (an answer closed by the server).
    UntilEnd,
    /// The stream's end is sent or queued: later bytes are dropped.
    Ended,
}

/// How the stream ends once the pending data is out.
enum Finish {
    Data,
    Trailers(http::HeaderMap),
}

/// The response side of the stream.
pub struct Sink {
    respond: SendResponse<Bytes>,
    send: Option<SendStream<Bytes>>,
    mode: Mode,
    head_req: bool,
    /// Data waiting for the client's window.
    pending: Bytes,
    finish: Option<Finish>,
    /// How much of the caller's buffer the pending data stands for (a write in progress).
    absorbed: Option<usize>,
}

fn broken() -> io::Error {
    io::ErrorKind::BrokenPipe.into()
}

impl Sink {
    fn send_head(&mut self, res: &Message) -> io::Result<()> {
        if !matches!(self.mode, Mode::NoHead) {
            return Err(io::Error::other("response head sent twice"));
        }
        let bodyless = self.head_req || res.status == 204 || res.status == 304;
        let chunked = convert::is_chunked(res);
        let length = if chunked { None } else { content_length(res) };
        let end_now = bodyless || length == Some(0);
        let send = self
            .respond
            .send_response(convert::response_head(res), end_now)
            .map_err(|_| broken())?;
        self.mode = if end_now {
            Mode::Ended
        } else if chunked {
            Mode::Chunked(convert::Dechunk::default(), BytesMut::new())
        } else if let Some(n) = length {
            Mode::Length(n)
        } else {
            Mode::UntilEnd
        };
        self.send = Some(send);
        Ok(())
    }

    /// Takes the caller's bytes into `pending` (and `finish`) as the mode says.
    fn absorb(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.mode {
            Mode::NoHead => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "body bytes before the response head",
                ))
            }
            Mode::Length(left) => {
                let n = (*left).min(data.len() as u64) as usize;
                *left -= n as u64;
                self.pending = Bytes::copy_from_slice(&data[..n]);
                if *left == 0 {
                    self.finish = Some(Finish::Data);
                    self.mode = Mode::Ended;
                }
            }
            Mode::Chunked(d, buf) => {
                buf.extend_from_slice(data);
                let mut out = BytesMut::new();
                while let Some(p) = d
                    .next(buf)
                    .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?
                {
                    match p {
                        Piece::Data(b) => out.extend_from_slice(&b),
                        Piece::End(t) => {
                            self.finish = Some(if t.is_empty() {
                                Finish::Data
                            } else {
                                Finish::Trailers(t)
                            });
                            break;
                        }
                    }
                }
                self.pending = out.freeze();
                if self.finish.is_some() {
                    self.mode = Mode::Ended;
                }
            }
            Mode::UntilEnd => self.pending = Bytes::copy_from_slice(data),
            Mode::Ended => {}
        }
        Ok(())
    }

    /// Sends `pending` as the client's window allows, then the end of the stream if due.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let Some(send) = self.send.as_mut() else {
                return Poll::Ready(Err(broken()));
            };
            send.reserve_capacity(self.pending.len());
            let cap = match ready!(send.poll_capacity(cx)) {
                Some(Ok(c)) => c,
                Some(Err(_)) | None => return Poll::Ready(Err(broken())),
            };
            if cap == 0 {
                continue;
            }
            let part = self.pending.split_to(cap.min(self.pending.len()));
            send.send_data(part, false).map_err(|_| broken())?;
        }
        if let Some(f) = self.finish.take() {
            let Some(send) = self.send.as_mut() else {
                return Poll::Ready(Err(broken()));
            };
            match f {
                Finish::Data => send.send_data(Bytes::new(), true),
                Finish::Trailers(t) => send.send_trailers(t),
            }
            .map_err(|_| broken())?;
        }
        Poll::Ready(Ok(()))
    }
}

fn content_length(res: &Message) -> Option<u64> {
    let v = res.header(b"content-length")?;
    std::str::from_utf8(crate::http::message::trim(v))
        .ok()?
        .parse()
        .ok()
}

impl AsyncWrite for Sink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.absorbed.is_none() {
            this.absorb(data)?;
            this.absorbed = Some(data.len());
        }
        ready!(this.poll_send(cx))?;
        Poll::Ready(Ok(this.absorbed.take().unwrap_or(data.len())))
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_send(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if matches!(this.mode, Mode::UntilEnd) {
            this.mode = Mode::Ended;
            this.finish = Some(Finish::Data);
        }
        this.poll_send(cx)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Unanswered, or the answer not finished: the client must not wait for more.
        let finished =
            matches!(self.mode, Mode::Ended) && self.pending.is_empty() && self.finish.is_none();
        if !finished {
            match self.send.as_mut() {
                Some(s) => s.send_reset(h2::Reason::INTERNAL_ERROR),
                None => self.respond.send_reset(h2::Reason::INTERNAL_ERROR),
            }
        }
    }
}

impl AsyncRead for H2Edge {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.source).poll_read(cx, buf)
    }
}

impl AsyncWrite for H2Edge {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.sink).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.sink).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.sink).poll_shutdown(cx)
    }
}

impl ClientStream for H2Edge {
    const UNIX: bool = false;
    const H2: bool = true;
    type Read<'a> = &'a mut Source;
    type Write<'a> = &'a mut Sink;
    /// Resolves (0) when the client resets the stream: a stream has no half-close to wait for.
    async fn peek_byte(&mut self) -> io::Result<usize> {
        let _ = poll_fn(|cx| self.sink.respond.poll_reset(cx)).await;
        Ok(0)
    }
    fn split_halves(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        (&mut self.source, &mut self.sink)
    }
    fn tls(&self) -> Option<&Arc<TlsInfo>> {
        self.tls.as_ref()
    }
}

#[cfg(test)]
mod tests;
