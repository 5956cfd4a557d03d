//! HTTP/2 DATA frames ⇄ the HTTP/1 body bytes the session relays, one piece for both
//! codecs' edges (the client edge `edge.rs`: request body in, answer out; the server side
//! `upstream.rs`: request body out, answer in):
//!
//! - [`DataIn`] reads a stream's DATA frames as body bytes: as they are for a known length,
//!   as chunks for a body of unknown length (the stream's trailers become chunk trailers),
//!   giving the flow-control window back as the session takes the bytes.
//! - [`DataOut`] sends the body bytes the session writes as DATA frames under the peer's
//!   window: as they are for a known length, de-chunked for a chunked body (chunk trailers
//!   become HTTP/2 trailers), or until the session shuts it; END_STREAM rides on the last
//!   DATA frame (no empty frame after it). A stream it leaves unfinished is reset.
//! - [`relay`]: a body of known length from an HTTP/2 server to an HTTP/2 client, the DATA
//!   frames' bytes handed on as they are (no copy, no HTTP/1 framing in between).

pub use super::convert::InBody;
use super::convert::{self, Piece};
use crate::http::body::BodyError;
use bytes::{Bytes, BytesMut};
use h2::{RecvStream, SendStream};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream's DATA frames (and trailers) as HTTP/1 body bytes.
pub struct DataIn {
    body: RecvStream,
    chunked: bool,
    /// Framed bytes not yet read by the session.
    pending: Bytes,
    /// Window to give back once `pending` is read.
    unreleased: usize,
    /// The body (and its last chunk) is in `pending` or read.
    done: bool,
    /// The DATA frames ended: the trailers (a chunked body's last chunk) come next.
    trailers_next: bool,
}

impl DataIn {
    /// A body without framing yet (none): see [`DataIn::frame`].
    pub fn new(body: RecvStream) -> DataIn {
        DataIn {
            body,
            chunked: false,
            pending: Bytes::new(),
            unreleased: 0,
            done: true,
            trailers_next: false,
        }
    }

    /// Reads the body as `framing` says (`None`: there is none).
    pub fn frame(&mut self, framing: InBody) {
        self.chunked = framing == InBody::Chunked;
        self.done = framing == InBody::None;
    }

    /// Whether the peer ended the stream with its head (no DATA frame follows), as known when
    /// the stream was accepted (vendor/h2 patch 14: no streams lock taken).
    pub fn ended_with_head(&self) -> bool {
        self.body.ended_with_head()
    }

    /// Ready with how many bytes wait (0: the body ended), taking the next DATA frame if none.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
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

impl DataIn {
    /// The next DATA frame's bytes as they came (its window given back), None at the end.
    /// For a body read as it is (not chunked).
    fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        ready!(self.poll_fill(cx))?;
        if self.pending.is_empty() {
            return Poll::Ready(Ok(None));
        }
        if self.unreleased > 0 {
            let _ = self.body.flow_control().release_capacity(self.unreleased);
            self.unreleased = 0;
        }
        Poll::Ready(Ok(Some(std::mem::take(&mut self.pending))))
    }
}

/// A stream error as an I/O error (a reset peer, as a closed connection).
fn reset_error(e: h2::Error) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, e)
}

impl AsyncRead for DataIn {
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

/// The largest last piece of a body [`DataOut`] hands to the stream without reserving the
/// peer's window first (h2 keeps it until the window opens): one buffer's worth, what the
/// sender would hold as `pending` anyway.
const LAST_UNRESERVED: usize = 16 * 1024;

/// How the body bytes written to a [`DataOut`] are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutBody {
    /// Nothing follows (the head carried END_STREAM): later bytes are dropped.
    None,
    /// This many bytes (a `content-length`).
    Length(u64),
    /// HTTP/1 chunks, up to the last chunk and its trailers.
    Chunked,
    /// Until the session shuts the stream (an answer closed by the server).
    UntilEnd,
}

enum Mode {
    /// Not started (no head sent): a write is refused.
    NotStarted,
    Length(u64),
    Chunked(convert::Dechunk, BytesMut),
    UntilEnd,
    /// The stream's end is sent or queued: later bytes are dropped.
    Ended,
}

/// How the stream ends once the pending data is out.
enum Finish {
    Data,
    Trailers(http::HeaderMap),
}

/// HTTP/1 body bytes in, DATA frames (and trailers) out.
pub struct DataOut {
    send: Option<SendStream<Bytes>>,
    mode: Mode,
    /// Data waiting for the peer's window.
    pending: Bytes,
    finish: Option<Finish>,
    /// How much of the caller's buffer the pending data stands for (a write in progress).
    absorbed: Option<usize>,
    /// The reset sent if the stream is left unfinished.
    unfinished: h2::Reason,
}

fn broken() -> io::Error {
    io::ErrorKind::BrokenPipe.into()
}

impl DataOut {
    /// Not started: writes are refused until [`DataOut::start`]; dropped unfinished, the
    /// stream is reset with `unfinished`.
    pub fn new(unfinished: h2::Reason) -> DataOut {
        DataOut {
            send: None,
            mode: Mode::NotStarted,
            pending: Bytes::new(),
            finish: None,
            absorbed: None,
            unfinished,
        }
    }

    /// Starts the body on `send` (its head sent, with END_STREAM for [`OutBody::None`]).
    pub fn start(&mut self, send: SendStream<Bytes>, body: OutBody) {
        self.mode = match body {
            OutBody::None | OutBody::Length(0) => Mode::Ended,
            OutBody::Length(n) => Mode::Length(n),
            OutBody::Chunked => Mode::Chunked(convert::Dechunk::default(), BytesMut::new()),
            OutBody::UntilEnd => Mode::UntilEnd,
        };
        self.send = Some(send);
    }

    /// Whether a head was sent (the body may follow).
    pub fn started(&self) -> bool {
        !matches!(self.mode, Mode::NotStarted)
    }

    /// Whether the whole body (and its end) went out.
    pub fn finished(&self) -> bool {
        matches!(self.mode, Mode::Ended) && self.pending.is_empty() && self.finish.is_none()
    }

    /// Whether bytes go out as they are (a known length, or until the end): [`relay`] may
    /// hand DATA frames on without framing.
    pub fn takes_raw(&self) -> bool {
        matches!(self.mode, Mode::Length(_) | Mode::UntilEnd | Mode::Ended)
    }

    /// Queues `data` as it is (see [`DataOut::takes_raw`]; a known length takes no more).
    fn queue(&mut self, mut data: Bytes) {
        match &mut self.mode {
            Mode::Length(left) => {
                data.truncate((*left).min(data.len() as u64) as usize);
                *left -= data.len() as u64;
                if *left == 0 {
                    self.finish = Some(Finish::Data);
                    self.mode = Mode::Ended;
                }
                self.pending = data;
            }
            Mode::UntilEnd => self.pending = data,
            _ => {}
        }
    }

    /// Takes the caller's bytes into `pending` (and `finish`) as the mode says.
    fn absorb(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.mode {
            Mode::NotStarted => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "body bytes before the head",
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

    /// Sends `pending` as the peer's window allows, then the end of the stream if due (on
    /// the last DATA frame when it is one).
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let Some(send) = self.send.as_mut() else {
                return Poll::Ready(Err(broken()));
            };
            if matches!(self.finish, Some(Finish::Data)) && self.pending.len() <= LAST_UNRESERVED {
                // The body's last bytes (a small answer's only DATA frame): handed to the
                // stream at once with END_STREAM, which sends them as the peer's window
                // allows. Nothing follows them, so there is no writer to hold back: the
                // reservation and capacity round trips (a lock of the connection each) are
                // skipped.
                self.finish = None;
                let last = std::mem::take(&mut self.pending);
                send.send_data(last, true).map_err(|_| broken())?;
                break;
            }
            send.reserve_capacity(self.pending.len());
            let cap = match ready!(send.poll_capacity(cx)) {
                Some(Ok(c)) => c,
                Some(Err(_)) | None => return Poll::Ready(Err(broken())),
            };
            if cap == 0 {
                continue;
            }
            let part = self.pending.split_to(cap.min(self.pending.len()));
            let last = self.pending.is_empty() && matches!(self.finish, Some(Finish::Data));
            if last {
                self.finish = None;
            }
            send.send_data(part, last).map_err(|_| broken())?;
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

impl AsyncWrite for DataOut {
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
    /// Ends a body sent until the end; sends what is pending.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if matches!(this.mode, Mode::UntilEnd) {
            this.mode = Mode::Ended;
            this.finish = Some(Finish::Data);
        }
        this.poll_send(cx)
    }
}

impl Drop for DataOut {
    fn drop(&mut self) {
        // Unfinished: the peer must not wait for the rest.
        if !self.finished() {
            if let Some(s) = self.send.as_mut() {
                s.send_reset(self.unfinished);
            }
        }
    }
}

/// Relays a body read as it is (`src`, a known length) to `dst` (which [`DataOut::takes_raw`])
/// frame by frame, without copying; returns the bytes relayed. Timeouts as `body::forward`'s.
pub async fn relay(
    src: &mut DataIn,
    dst: &mut DataOut,
    src_timeout: Option<Duration>,
    dst_timeout: Option<Duration>,
) -> Result<u64, BodyError> {
    let mut sent = 0u64;
    loop {
        let data = match within(src_timeout, poll_fn(|cx| src.poll_take(cx))).await {
            None => return Err(BodyError::SrcTimeout),
            Some(Err(_)) => return Err(BodyError::SrcClosed),
            Some(Ok(None)) => break,
            Some(Ok(Some(d))) => d,
        };
        sent += data.len() as u64;
        dst.queue(data);
        match within(dst_timeout, poll_fn(|cx| dst.poll_send(cx))).await {
            None => return Err(BodyError::DstTimeout),
            Some(Err(_)) => return Err(BodyError::DstFailed),
            Some(Ok(())) => {}
        }
    }
    if matches!(dst.mode, Mode::Length(_)) {
        // Ended short of its length: `dst` stays unfinished (reset when dropped).
        return Err(BodyError::SrcClosed);
    }
    Ok(sent)
}

/// Sends `data`, a whole body (or its last part) the session holds as `Bytes` (a local
/// answer's), on `dst` (which [`DataOut::takes_raw`]) as it is: no copy into a write.
pub async fn send_all(
    dst: &mut DataOut,
    data: Bytes,
    t: Option<Duration>,
) -> Result<(), BodyError> {
    dst.queue(data);
    match within(t, poll_fn(|cx| dst.poll_send(cx))).await {
        None => Err(BodyError::DstTimeout),
        Some(Err(_)) => Err(BodyError::DstFailed),
        Some(Ok(())) => Ok(()),
    }
}

/// `f`, unless `t` passes first (None); no timer when `f` is ready at once.
pub async fn within<F: Future>(t: Option<Duration>, f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    if let Poll::Ready(v) = poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await {
        return Some(v);
    }
    match t {
        Some(t) => tokio::time::timeout(t, f).await.ok(),
        None => Some(f.await),
    }
}
