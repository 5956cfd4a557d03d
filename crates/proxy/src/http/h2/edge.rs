//! The HTTP/2 codec's edge of one stream: what the HTTP session's phases read the request from
//! and write the answer to, in place of a client connection (a [`ClientStream`]).
//!
//! - The request head is handed over as the neutral head as the edge is made ([`H2Edge::new`],
//!   filled from the pseudo-headers by `convert::request_message`): never written as HTTP/1
//!   bytes. Its target and fields as received are kept beside it, for an HTTP/2 server: sent
//!   as they are if no rule changed them ([`H2Edge::take_request`]); likewise an HTTP/2
//!   server's answer for this client ([`H2Edge::carry_answer`]).
//! - The request body is a source (`frames::DataIn`, the stream's DATA frames; a body of
//!   unknown length is framed as chunks for the HTTP/1.1 server), its flow-control window
//!   given back as the session takes the bytes.
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

use super::convert;
use super::frames::{DataIn, DataOut, OutBody};
use crate::http::message::Message;
use crate::http::response::{Kept, Response};
use crate::stream::{ClientStream, PeekRead, TlsInfo};
use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One HTTP/2 stream as the HTTP session's client.
pub struct H2Edge {
    source: DataIn,
    sink: Sink,
    /// The connection's TLS handshake, when HTTP/2 runs over TLS.
    tls: Option<Arc<TlsInfo>>,
}

/// The last head received over HTTP/2 for this stream, kept beside the neutral head made of
/// it (`convert::Received`): the client's request until an HTTP/2 server's exchange takes it
/// ([`H2Edge::take_request`]), then that server's answer ([`H2Edge::carry_answer`]); the
/// answer sent takes whichever is there (its fields as they are, or its map reused).
type Carried = Option<convert::Received>;

impl H2Edge {
    /// The edge of stream `req` (its head in the box h2 decoded it into, and its body), its
    /// head handed over into `head` (the neutral head); also returns the head's size as
    /// HTTP/1 would write it. Inlined into the making of the stream's session
    /// (`http::session::serve_h2`): the edge is then made in place, not returned and copied
    /// (512 bytes).
    #[inline(always)]
    pub fn new(
        (mut req, body): (Box<http::Request<()>>, RecvStream),
        respond: SendResponse<Bytes>,
        tls: Option<Arc<TlsInfo>>,
        head: &mut Message,
    ) -> (H2Edge, usize) {
        let head_req = req.method() == http::Method::HEAD;
        let mut source = DataIn::new(body);
        let (framing, size) = convert::request_message_of(
            req.method(),
            req.uri(),
            req.headers(),
            source.ended_with_head(),
            head,
        );
        source.frame(framing);
        let edge = H2Edge {
            source,
            sink: Sink {
                respond: Some(respond),
                head_req,
                out: DataOut::new(h2::Reason::INTERNAL_ERROR),
                // Taken out of the head's box (not the whole head moved out of it).
                carried: Some(convert::Received {
                    uri: Some(std::mem::take(req.uri_mut())),
                    fields: std::mem::take(req.headers_mut()),
                }),
            },
            tls,
        };
        (edge, size)
    }

    /// Sends the response head from the neutral head `res` (the body follows as writes).
    pub fn send_head(&mut self, res: &Message) -> io::Result<()> {
        self.sink.send_head(res, None)
    }

    /// Sends the head of an answer the proxy made (`http::response`): as [`H2Edge::send_head`],
    /// its fields the map kept with the answer when it is one sent many times (made here the
    /// first time: `response::H2Fields`).
    pub fn send_answer_head(&mut self, res: &Response) -> io::Result<()> {
        self.sink.send_head(&res.head, res.h2.cell())
    }

    /// The client's request head as received (for an HTTP/2 server: sent on as it is if the
    /// neutral head still holds it), once.
    pub fn take_request(&mut self) -> Option<convert::Received> {
        match &self.sink.carried {
            Some(c) if c.uri.is_some() => self.sink.carried.take(),
            _ => None,
        }
    }

    /// Keeps the fields of an HTTP/2 server's answer, to be sent on as they are if the
    /// answer's neutral head still holds them when it is sent.
    pub fn carry_answer(&mut self, fields: http::HeaderMap) {
        if let Some(old) = self.sink.carried.take() {
            super::maps::give(old.fields);
        }
        self.sink.carried = Some(convert::Received { uri: None, fields });
    }

    /// Where the answer's body goes (after [`H2Edge::send_head`]): DATA frames.
    pub fn body_out(&mut self) -> &mut DataOut {
        &mut self.sink.out
    }

    /// Sends an interim (1xx) answer, e.g. `100 Continue`, before the final head.
    pub fn send_interim(&mut self, res: &Message) -> io::Result<()> {
        if self.sink.out.started() || !(100..200).contains(&res.status) {
            return Err(io::Error::other("not an interim answer before the head"));
        }
        self.sink
            .respond
            .as_mut()
            .ok_or_else(broken)?
            .send_informational(convert::response_head(res, None))
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

impl PeekRead for &mut DataIn {
    async fn peek_byte(&mut self) -> io::Result<usize> {
        poll_fn(|cx| self.poll_fill(cx)).await
    }
}

/// The response side of the stream: its head from the neutral head, then the body bytes the
/// session writes as DATA frames ([`DataOut`]: as they are for a known length, de-chunked for
/// a chunked answer, until the end otherwise).
pub struct Sink {
    /// Until the head is sent: the head's sending hands its stream reference to `out`.
    respond: Option<SendResponse<Bytes>>,
    head_req: bool,
    out: DataOut,
    carried: Carried,
}

fn broken() -> io::Error {
    io::ErrorKind::BrokenPipe.into()
}

impl Sink {
    /// `kept`: where an answer sent many times keeps its HTTP/2 fields (`response::H2Fields`).
    fn send_head(&mut self, res: &Message, kept: Option<&OnceLock<Kept>>) -> io::Result<()> {
        if self.out.started() {
            return Err(io::Error::other("response head sent twice"));
        }
        // A server's answer carried: its fields go as they are if `res` still holds them; a
        // request's map holds the answer's fields.
        let carried = self.carried.take().map(|c| c.fields);
        let (head, length) = match kept {
            // Its fields as made the first time: sent as they are while `res` holds them
            // (`convert::response_head`), its length with them; the received head's map goes
            // back to the thread's.
            Some(cell) => match cell.get() {
                Some(k) => {
                    if let Some(map) = carried {
                        super::maps::give(map);
                    }
                    let (head, same) = convert::response_head_carried(res, Some(k.fields.clone()));
                    (head, if same { k.length } else { content_length(res) })
                }
                None => {
                    let head = convert::response_head(res, carried);
                    let length = content_length(res);
                    let _ = cell.set(Kept {
                        fields: owned(head.headers()),
                        length,
                    });
                    (head, length)
                }
            },
            None => (convert::response_head(res, carried), content_length(res)),
        };
        let bodyless = self.head_req || res.status == 204 || res.status == 304;
        let chunked = convert::is_chunked(res);
        let length = if chunked { None } else { length };
        let body = if bodyless {
            OutBody::None
        } else if chunked {
            OutBody::Chunked
        } else if let Some(n) = length {
            OutBody::Length(n)
        } else {
            OutBody::UntilEnd
        };
        let end_now = matches!(body, OutBody::None | OutBody::Length(0));
        // The handle's stream reference goes to `out` (one reference per stream fewer to
        // make and drop: vendor/h2 patch 13).
        let respond = self.respond.take().ok_or_else(broken)?;
        match respond.send_response_owned(head, end_now) {
            Ok(send) => {
                self.out.start(send, body);
                Ok(())
            }
            Err((respond, _)) => {
                self.respond = Some(respond);
                Err(broken())
            }
        }
    }
}

/// A copy of `map` kept as long as an answer (`response::H2Fields`): its values in
/// allocations of their own, not pieces of the thread's block (`values`) they would keep
/// alive.
fn owned(map: &http::HeaderMap) -> http::HeaderMap {
    let mut own = http::HeaderMap::with_capacity(map.len());
    for (name, value) in map {
        if let Ok(mut v) = http::HeaderValue::from_bytes(value.as_bytes()) {
            v.set_sensitive(value.is_sensitive());
            own.append(name.clone(), v);
        }
    }
    own
}

/// The answer's `content-length` (its first value), as `str::parse::<u64>` reads it: the
/// digits folded at once when there are at most 19 of them (no overflow), the rare rest parsed.
fn content_length(res: &Message) -> Option<u64> {
    let v = crate::http::message::trim(res.header(b"content-length")?);
    let digits = v.strip_prefix(b"+").unwrap_or(v);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.len() > 19 {
        return std::str::from_utf8(digits).ok()?.parse().ok();
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
    )
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Unanswered: the client must not wait (an unfinished answer is reset by `out`).
        if !self.out.started() {
            if let Some(r) = &mut self.respond {
                r.send_reset(h2::Reason::INTERNAL_ERROR);
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
        Pin::new(&mut self.sink.out).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.sink.out).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.sink.out).poll_shutdown(cx)
    }
}

impl ClientStream for H2Edge {
    const UNIX: bool = false;
    const H2: bool = true;
    type Read<'a> = &'a mut DataIn;
    type Write<'a> = &'a mut DataOut;
    /// Resolves (0) when the client resets the stream: a stream has no half-close to wait for.
    async fn peek_byte(&mut self) -> io::Result<usize> {
        let _ = poll_fn(|cx| match &mut self.sink.respond {
            Some(r) => r.poll_reset(cx).map(|_| ()),
            // The head was sent (its handle went with it): at once, as the handle's
            // `poll_reset` did then (an error: `PollResetAfterSendResponse`).
            None => Poll::Ready(()),
        })
        .await;
        Ok(0)
    }
    fn split_halves(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        (&mut self.source, &mut self.sink.out)
    }
    fn tls(&self) -> Option<&Arc<TlsInfo>> {
        self.tls.as_ref()
    }
}

#[cfg(test)]
mod tests;
