//! Message bodies: how long they are (framing), and streaming them from one socket to another.
//!
//! Bodies are never buffered whole: bytes go through the connection's read buffer to the peer
//! as they arrive. Chunked bodies are forwarded as they are (no re-encoding); the sans-IO
//! `Chunked` machine only finds where the message ends, so pipelined requests stay intact.

use super::body_splice::{splice_some, Splicing};
use super::message::Message;
use bytes::{Buf, BytesMut};
pub use chunked::Chunked;
use std::future::Future;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Response delimited by the server closing the connection.
    UntilClose,
}

#[derive(Debug, PartialEq, Eq)]
pub struct BadFraming;

fn content_length(m: &Message) -> Result<Option<u64>, BadFraming> {
    let mut found: Option<u64> = None;
    for v in m.headers(b"content-length") {
        for part in v.split(|&c| c == b',') {
            let p = super::message::trim(part);
            if p.is_empty() || p.len() > 19 || !p.iter().all(u8::is_ascii_digit) {
                return Err(BadFraming);
            }
            // At most 19 digits: below u64::MAX, no overflow (no `str` parse per request).
            let n = p.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
            match found {
                Some(f) if f != n => return Err(BadFraming),
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

/// Whether `chunked` is the last transfer coding (None: no Transfer-Encoding). `chunked`
/// applied twice is refused, as HAProxy does.
fn chunked_last(m: &Message) -> Result<Option<bool>, BadFraming> {
    let mut last: Option<&[u8]> = None;
    let mut chunked = 0;
    for v in m.headers(b"transfer-encoding") {
        for part in v.split(|&c| c == b',') {
            let p = super::message::trim(part);
            if !p.is_empty() {
                last = Some(p);
                chunked += usize::from(p.eq_ignore_ascii_case(b"chunked"));
            }
        }
    }
    if chunked > 1 {
        return Err(BadFraming);
    }
    Ok(last.map(|l| l.eq_ignore_ascii_case(b"chunked")))
}

/// Checks the part of a chunked body already received (`buf`, from the body's first byte):
/// an error found there is answered 400 before anything is forwarded, as HAProxy does.
pub fn check_chunked_prefix(buf: &[u8]) -> Result<(), BadFraming> {
    Chunked::default().advance(buf).map(|_| ())
}

/// Request body framing (RFC 9112 6.3). With both TE and CL, TE wins and CL is dropped; an
/// invalid CL is refused even then, as HAProxy does (found by the differential fuzz).
pub fn request_framing(m: &mut Message) -> Result<Framing, BadFraming> {
    match chunked_last(m)? {
        Some(true) => {
            content_length(m)?;
            m.remove(b"content-length");
            Ok(Framing::Chunked)
        }
        Some(false) => Err(BadFraming),
        None => match content_length(m)? {
            Some(0) | None => Ok(Framing::None),
            Some(n) => Ok(Framing::Length(n)),
        },
    }
}

/// Whether a request's framing fields are what [`request_framing`] accepts: checked with the
/// head, before any rule runs, as HAProxy 2.6's H1 parser refuses them (`Content-Length: zz`
/// is a `<BADREQ>` line `PR--`, not a request that reached a backend).
pub fn request_framing_valid(m: &Message) -> bool {
    match chunked_last(m) {
        Ok(Some(true) | None) => content_length(m).is_ok(),
        Ok(Some(false)) | Err(_) => false,
    }
}

/// Response body framing of `m`, the answer to `req` (an answer to HEAD has no body).
pub fn response_framing(m: &mut Message, req: &Message) -> Result<Framing, BadFraming> {
    let s = m.status;
    if req.is_head() || (100..200).contains(&s) || s == 204 || s == 304 {
        return Ok(Framing::None);
    }
    match chunked_last(m).unwrap_or(Some(false)) {
        Some(true) => {
            m.remove(b"content-length");
            Ok(Framing::Chunked)
        }
        Some(false) => Ok(Framing::UntilClose),
        None => match content_length(m)? {
            Some(0) => Ok(Framing::None),
            Some(n) => Ok(Framing::Length(n)),
            None => Ok(Framing::UntilClose),
        },
    }
}

/// Why streaming a body stopped early.
#[derive(Debug)]
pub enum BodyError {
    /// The sending side closed or failed before the end of the body.
    SrcClosed,
    SrcTimeout,
    /// The receiving side failed.
    DstFailed,
    DstTimeout,
    Invalid,
}

pub async fn read_some<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut BytesMut,
    limit: usize,
    t: Option<Duration>,
) -> Result<usize, BodyError> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(limit.max(4096));
    }
    let mut fut = std::pin::pin!(s.read_buf(buf));
    let r = match t {
        // Bytes already there need no timer: one poll first, a timer only if it waits.
        Some(d) => match std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
            Poll::Ready(r) => r,
            Poll::Pending => tokio::time::timeout(d, fut)
                .await
                .map_err(|_| BodyError::SrcTimeout)?,
        },
        None => fut.await,
    };
    r.map_err(|_| BodyError::SrcClosed)
}

pub async fn write_all<S: AsyncWrite + Unpin>(
    s: &mut S,
    data: &[u8],
    t: Option<Duration>,
) -> Result<(), BodyError> {
    // Flushed: a TLS stream holds encrypted bytes until flushed (a no-op on TCP).
    let mut fut = std::pin::pin!(async {
        s.write_all(data).await?;
        s.flush().await
    });
    let r = match t {
        // A write the socket takes at once (the usual case) needs no timer.
        Some(d) => match std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
            Poll::Ready(r) => r,
            Poll::Pending => tokio::time::timeout(d, fut)
                .await
                .map_err(|_| BodyError::DstTimeout)?,
        },
        None => fut.await,
    };
    r.map_err(|_| BodyError::DstFailed)
}

impl From<crate::splice::Fail> for BodyError {
    fn from(f: crate::splice::Fail) -> Self {
        use crate::splice::Fail;
        use std::io::ErrorKind::TimedOut;
        match f {
            Fail::Src(e) if e.kind() == TimedOut => BodyError::SrcTimeout,
            Fail::Src(_) | Fail::NoPipe => BodyError::SrcClosed,
            Fail::Dst(e) if e.kind() == TimedOut => BodyError::DstTimeout,
            Fail::Dst(_) => BodyError::DstFailed,
        }
    }
}

/// Smallest read size while streaming a body. Measured (bench/proxy, 100 KB responses):
/// 64 KiB reads were slower than `tune.bufsize`-sized (16 KiB) ones and held more memory.
const BODY_READ: usize = 16 * 1024;

/// Streams one body of `framing` from `src` (with already-read bytes in `buf`) to `dst`.
/// Bytes after the body stay in `buf`. Returns the number of body bytes forwarded.
pub async fn forward<S: AsyncRead + Unpin, D: AsyncWrite + Unpin>(
    framing: Framing,
    src: &mut S,
    buf: &mut BytesMut,
    dst: &mut D,
    bufsize: usize,
    src_timeout: Option<Duration>,
    dst_timeout: Option<Duration>,
) -> Result<u64, BodyError> {
    forward_htx(framing, src, buf, dst, bufsize, src_timeout, dst_timeout)
        .await
        .map(|(sent, _)| sent)
}

/// [`forward`], also returning the body's HTX size (what HAProxy logs in `%B`: a chunked
/// body's payload and trailers without the chunk framing, see [`Chunked::htx`]).
pub async fn forward_htx<S: AsyncRead + Unpin, D: AsyncWrite + Unpin>(
    framing: Framing,
    src: &mut S,
    buf: &mut BytesMut,
    dst: &mut D,
    bufsize: usize,
    src_timeout: Option<Duration>,
    dst_timeout: Option<Duration>,
) -> Result<(u64, u64), BodyError> {
    let (t, mut sent) = ((src_timeout, dst_timeout), 0);
    let htx = forward_spliced(framing, src, buf, dst, bufsize, t, None, &mut sent).await?;
    Ok((sent, htx))
}

/// [`forward_htx`], splicing where `splicing` allows (`body_splice`): the bytes already in
/// `buf` are written as they are, the rest of the body may be moved by the kernel. `sent`
/// counts the body bytes `dst` took, also when forwarding fails half-way (the log's `%B`,
/// `%U`); returns the body's HTX size.
#[allow(clippy::too_many_arguments)]
pub async fn forward_spliced<S: AsyncRead + Unpin, D: AsyncWrite + Unpin>(
    framing: Framing,
    src: &mut S,
    buf: &mut BytesMut,
    dst: &mut D,
    bufsize: usize,
    (src_timeout, dst_timeout): (Option<Duration>, Option<Duration>),
    splicing: Option<Splicing<S, D>>,
    sent: &mut u64,
) -> Result<u64, BodyError> {
    let start = *sent;
    let bufsize = bufsize.max(BODY_READ);
    let mut sp = splicing.map(|s| s.start(bufsize));
    let t = (src_timeout, dst_timeout);
    match framing {
        Framing::None => Ok(0),
        Framing::Length(mut left) => loop {
            let n = (buf.len() as u64).min(left) as usize;
            if n > 0 {
                write_all(dst, &buf[..n], dst_timeout).await?;
                buf.advance(n);
                left -= n as u64;
                *sent += n as u64;
            }
            if left == 0 {
                return Ok(*sent - start);
            }
            if let Some(k) = splice_some(&mut sp, src, dst, left, t, sent).await? {
                if k == 0 {
                    return Err(BodyError::SrcClosed);
                }
                left -= k;
                continue;
            }
            if read_some(src, buf, bufsize, src_timeout).await? == 0 {
                return Err(BodyError::SrcClosed);
            }
        },
        Framing::Chunked => {
            let mut ch = Chunked::default();
            loop {
                if !buf.is_empty() {
                    let n = ch.advance(buf).map_err(|_| BodyError::Invalid)?;
                    if n > 0 {
                        write_all(dst, &buf[..n], dst_timeout).await?;
                        buf.advance(n);
                        *sent += n as u64;
                    }
                }
                if ch.done() {
                    return Ok(ch.htx());
                }
                let data = ch.data_left();
                if buf.is_empty() && data > 0 {
                    if let Some(k) = splice_some(&mut sp, src, dst, data, t, sent).await? {
                        if k == 0 {
                            return Err(BodyError::SrcClosed);
                        }
                        ch.skip_data(k);
                        continue;
                    }
                }
                if read_some(src, buf, bufsize, src_timeout).await? == 0 {
                    return Err(BodyError::SrcClosed);
                }
            }
        }
        Framing::UntilClose => loop {
            if !buf.is_empty() {
                write_all(dst, buf, dst_timeout).await?;
                *sent += buf.len() as u64;
                buf.clear();
            }
            match splice_some(&mut sp, src, dst, u64::MAX, t, sent).await? {
                Some(0) => return Ok(*sent - start),
                Some(_) => continue,
                None => {}
            }
            if read_some(src, buf, bufsize, src_timeout).await? == 0 {
                return Ok(*sent - start);
            }
        },
    }
}

mod chunked;
#[cfg(test)]
mod tests;
