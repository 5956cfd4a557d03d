//! HTTP/2 to servers, the codec side: the session's neutral request head as an HTTP/2
//! request (as HAProxy 2.6: an absolute target gives `:scheme` and `:authority` and no
//! `host`; an origin-form target only `:path`, `host` staying a field; HTTP/1's
//! connection-specific fields dropped, RFC 9113 8.2.2), an HTTP/2 response head into the
//! neutral head (no reason phrase, as HAProxy), the request body written by the session (HTTP/1 framing:
//! raw for a known length, chunked otherwise) sent as DATA frames (chunk trailers become
//! HTTP/2 trailers), and the response's DATA frames read back as HTTP/1 framing (chunked when
//! no `content-length`, with the server's HTTP/2 trailers as chunk trailers: a gRPC status
//! reaches HTTP/2 clients as trailers through the client codec's de-chunking sink).
//!
//! The connections themselves (multiplexed, shared by sessions) are `connect::h2`'s; the session
//! phase that runs one request over them is `http::session`'s `exchange_h2`.

use super::convert::{self, Piece};
use crate::http::message::{Message, Version};
use bytes::{Bytes, BytesMut};
use h2::{RecvStream, SendStream};
use http::header::{HeaderName, HeaderValue};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Fields HTTP/2 forbids (RFC 9113 8.2.2); `te` is kept when it says `trailers`.
fn connection_specific(name: &[u8]) -> bool {
    const FIXED: [&[u8]; 5] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
    ];
    FIXED.iter().any(|f| name.eq_ignore_ascii_case(f))
}

/// The HTTP/2 request for the neutral head `req` on a connection that is TLS or not.
pub fn request_head(req: &Message, tls: bool) -> Result<http::Request<()>, String> {
    let method = http::Method::from_bytes(req.method()).map_err(|e| e.to_string())?;
    let scheme = match req.scheme() {
        b"" => {
            if tls {
                "https"
            } else {
                "http"
            }
        }
        s => std::str::from_utf8(s).map_err(|e| e.to_string())?,
    };
    let authority = req.authority();
    let path = match req.uri() {
        b"" => &b"/"[..],
        p => p,
    };
    let uri = if authority.is_empty() {
        http::Uri::try_from(path).map_err(|e| e.to_string())?
    } else {
        let mut s = Vec::with_capacity(scheme.len() + 3 + authority.len() + path.len());
        s.extend_from_slice(scheme.as_bytes());
        s.extend_from_slice(b"://");
        s.extend_from_slice(authority);
        if path != b"*" {
            s.extend_from_slice(path);
        }
        http::Uri::try_from(s).map_err(|e| e.to_string())?
    };
    let mut out = http::Request::new(());
    *out.method_mut() = method;
    *out.uri_mut() = uri;
    // Relative targets: h2 sets `:scheme http` when the request says HTTP/1.1.
    *out.version_mut() = http::Version::HTTP_11;
    let close_named: Vec<Vec<u8>> = req
        .headers(b"connection")
        .flat_map(|v| v.split(|&c| c == b','))
        .map(|t| crate::http::message::trim(t).to_ascii_lowercase())
        .collect();
    let h = out.headers_mut();
    for f in &req.fields {
        let (name, value) = (req.name(f), req.value(f));
        if connection_specific(name)
            || close_named.iter().any(|c| name.eq_ignore_ascii_case(c))
            || (!authority.is_empty() && name.eq_ignore_ascii_case(b"host"))
        {
            continue;
        }
        if name.eq_ignore_ascii_case(b"te") && !value.eq_ignore_ascii_case(b"trailers") {
            continue;
        }
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            h.append(n, v);
        }
    }
    Ok(out)
}

/// How the response body follows the head in the HTTP/1 bytes the session relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResBody {
    /// None (END_STREAM on HEADERS, or a status or method without body).
    None,
    /// `content-length`: DATA frames as they are.
    Length,
    /// Chunks (and trailers) of unknown length.
    Chunked,
}

/// Fills `res` with the neutral head of an HTTP/2 response; returns how its body follows.
/// Without `content-length`, a body is framed as chunks (the caller adds
/// `transfer-encoding: chunked` after the response rules, where HAProxy's HTTP/1 encoder
/// puts it) and a response ended on its head gets `content-length: 0`, so that HTTP/1
/// clients see where it ends and HTTP/2 clients get it on one HEADERS frame (a gRPC
/// trailers-only answer).
pub fn response_message(
    parts: &http::response::Parts,
    end_stream: bool,
    head_req: bool,
    res: &mut Message,
) -> ResBody {
    res.clear();
    let status = parts.status;
    res.set_status(status.as_u16(), b"", Version::Http11);
    let mut has_length = false;
    for (name, value) in &parts.headers {
        let n = name.as_str().as_bytes();
        if connection_specific(n) {
            continue;
        }
        has_length |= n == b"content-length";
        res.append(n, value.as_bytes());
    }
    let code = status.as_u16();
    let bodiless_status = code == 204 || code == 304 || (100..200).contains(&code);
    if end_stream || head_req || bodiless_status {
        if !has_length && !bodiless_status && !head_req {
            res.append(b"content-length", b"0");
        }
        ResBody::None
    } else if has_length {
        ResBody::Length
    } else {
        ResBody::Chunked
    }
}

/// The response body as HTTP/1 bytes (see [`ResBody`]), its window given back as read.
pub struct ResSource {
    body: RecvStream,
    chunked: bool,
    pending: Bytes,
    unreleased: usize,
    done: bool,
    trailers_next: bool,
}

impl ResSource {
    pub fn new(body: RecvStream, framing: ResBody) -> ResSource {
        ResSource {
            body,
            chunked: framing == ResBody::Chunked,
            pending: Bytes::new(),
            unreleased: 0,
            done: framing == ResBody::None,
            trailers_next: false,
        }
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        loop {
            if !self.pending.is_empty() || self.done {
                return Poll::Ready(Ok(self.pending.len()));
            }
            if self.trailers_next {
                let t = ready!(self.body.poll_trailers(cx)).map_err(reset_error)?;
                self.done = true;
                self.pending = convert::last_chunk(t.as_ref()).into();
                continue;
            }
            match ready!(self.body.poll_data(cx)) {
                Some(Ok(data)) => {
                    self.unreleased += data.len();
                    if data.is_empty() {
                        continue;
                    }
                    self.pending = if self.chunked {
                        let mut framed = Vec::with_capacity(data.len() + 12);
                        convert::chunk(&data, &mut framed);
                        framed.into()
                    } else {
                        data
                    };
                }
                Some(Err(e)) => return Poll::Ready(Err(reset_error(e))),
                None if self.chunked => self.trailers_next = true,
                None => self.done = true,
            }
        }
    }
}

/// A stream error as an I/O error (the session logs it as the server's failure).
fn reset_error(e: h2::Error) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, e)
}

impl AsyncRead for ResSource {
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

/// How the request body bytes the session writes become DATA frames.
enum Mode {
    Length(u64),
    Chunked(convert::Dechunk, BytesMut),
    Ended,
}

/// The request side of a stream: HTTP/1 body bytes in, DATA frames (and trailers) out under
/// the server's window.
pub struct ReqSink {
    send: SendStream<Bytes>,
    mode: Mode,
    pending: Bytes,
    finish: Option<Option<http::HeaderMap>>,
    absorbed: Option<usize>,
}

fn broken() -> io::Error {
    io::ErrorKind::BrokenPipe.into()
}

impl ReqSink {
    /// `length`: the body's `content-length`, None for a chunked body.
    pub fn new(send: SendStream<Bytes>, length: Option<u64>) -> ReqSink {
        ReqSink {
            send,
            mode: match length {
                Some(n) => Mode::Length(n),
                None => Mode::Chunked(convert::Dechunk::default(), BytesMut::new()),
            },
            pending: Bytes::new(),
            finish: None,
            absorbed: None,
        }
    }

    /// Whether the whole body (and its end) went out.
    pub fn finished(&self) -> bool {
        matches!(self.mode, Mode::Ended) && self.pending.is_empty() && self.finish.is_none()
    }

    fn absorb(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.mode {
            Mode::Length(left) => {
                let n = (*left).min(data.len() as u64) as usize;
                *left -= n as u64;
                self.pending = Bytes::copy_from_slice(&data[..n]);
                if *left == 0 {
                    self.finish = Some(None);
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
                            self.finish = Some((!t.is_empty()).then_some(t));
                            break;
                        }
                    }
                }
                self.pending = out.freeze();
                if self.finish.is_some() {
                    self.mode = Mode::Ended;
                }
            }
            Mode::Ended => {}
        }
        Ok(())
    }

    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            self.send.reserve_capacity(self.pending.len());
            let cap = match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(c)) => c,
                Some(Err(_)) | None => return Poll::Ready(Err(broken())),
            };
            if cap == 0 {
                continue;
            }
            let part = self.pending.split_to(cap.min(self.pending.len()));
            self.send.send_data(part, false).map_err(|_| broken())?;
        }
        if let Some(f) = self.finish.take() {
            match f {
                None => self.send.send_data(Bytes::new(), true),
                Some(t) => self.send.send_trailers(t),
            }
            .map_err(|_| broken())?;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ReqSink {
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
        self.poll_send(cx)
    }
}

impl Drop for ReqSink {
    fn drop(&mut self) {
        // An unfinished upload: the server must not wait for the rest.
        if !self.finished() {
            self.send.send_reset(h2::Reason::CANCEL);
        }
    }
}

/// How a stream failed before its response head, as HAProxy answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The server refused the stream unprocessed (REFUSED_STREAM, or a GOAWAY below its id):
    /// the request may go again on another connection.
    Unprocessed,
    /// Reset or connection lost after the request may have been processed: 502.
    Broken,
}

/// Classifies a stream error seen before the response head (RFC 9113 8.7).
pub fn failure(e: &h2::Error) -> Failure {
    if e.reason() == Some(h2::Reason::REFUSED_STREAM) && e.is_remote() {
        return Failure::Unprocessed;
    }
    if e.is_go_away() && e.is_remote() && e.reason() == Some(h2::Reason::NO_ERROR) {
        return Failure::Unprocessed;
    }
    Failure::Broken
}

#[cfg(test)]
mod tests;
