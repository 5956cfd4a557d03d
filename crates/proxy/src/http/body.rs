//! Message bodies: how long they are (framing), and streaming them from one socket to another.
//!
//! Bodies are never buffered whole: bytes go through the connection's read buffer to the peer
//! as they arrive. Chunked bodies are forwarded as they are (no re-encoding); the sans-IO
//! `Chunked` machine only finds where the message ends, so pipelined requests stay intact.

use super::message::Message;
use bytes::{Buf, BytesMut};
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
            let n: u64 = std::str::from_utf8(p)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(BadFraming)?;
            match found {
                Some(f) if f != n => return Err(BadFraming),
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

fn chunked_last(m: &Message) -> Option<bool> {
    let mut last: Option<&[u8]> = None;
    for v in m.headers(b"transfer-encoding") {
        for part in v.split(|&c| c == b',') {
            let p = super::message::trim(part);
            if !p.is_empty() {
                last = Some(p);
            }
        }
    }
    last.map(|l| l.eq_ignore_ascii_case(b"chunked"))
}

/// Request body framing (RFC 9112 6.3). With both TE and CL, TE wins and CL is dropped.
pub fn request_framing(m: &mut Message) -> Result<Framing, BadFraming> {
    match chunked_last(m) {
        Some(true) => {
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

/// Response body framing; `head` is whether the request was HEAD.
pub fn response_framing(m: &mut Message, head: bool) -> Result<Framing, BadFraming> {
    let s = m.status;
    if head || (100..200).contains(&s) || s == 204 || s == 304 {
        return Ok(Framing::None);
    }
    match chunked_last(m) {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Size,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    FinalLf,
    Done,
}

/// Finds the end of a chunked body in a byte stream (sans-IO).
#[derive(Debug)]
pub struct Chunked {
    st: St,
    size: u64,
    digits: u8,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            st: St::Size,
            size: 0,
            digits: 0,
        }
    }
}

impl Chunked {
    pub fn done(&self) -> bool {
        self.st == St::Done
    }

    /// Consumes bytes of `input` that belong to the body; returns how many.
    pub fn advance(&mut self, input: &[u8]) -> Result<usize, BadFraming> {
        self.advance_with(input, |_| {})
    }

    /// `advance`, also handing each piece of chunk payload to `data` (to re-encode a body).
    pub fn advance_with(
        &mut self,
        input: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<usize, BadFraming> {
        let mut i = 0;
        while i < input.len() && self.st != St::Done {
            if self.st == St::Data {
                let take = (self.size.min((input.len() - i) as u64)) as usize;
                data(&input[i..i + take]);
                i += take;
                self.size -= take as u64;
                if self.size == 0 {
                    self.st = St::DataCr;
                }
                continue;
            }
            let c = input[i];
            i += 1;
            self.st = match self.st {
                St::Size => match c {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if self.digits >= 15 {
                            return Err(BadFraming);
                        }
                        self.digits += 1;
                        let d = (c as char).to_digit(16).unwrap_or(0);
                        self.size = self.size * 16 + u64::from(d);
                        St::Size
                    }
                    b';' | b' ' | b'\t' if self.digits > 0 => St::Ext,
                    b'\r' if self.digits > 0 => St::SizeLf,
                    b'\n' if self.digits > 0 => self.line_end(),
                    _ => return Err(BadFraming),
                },
                St::Ext => match c {
                    b'\r' => St::SizeLf,
                    b'\n' => self.line_end(),
                    _ => St::Ext,
                },
                St::SizeLf => match c {
                    b'\n' => self.line_end(),
                    _ => return Err(BadFraming),
                },
                St::DataCr => match c {
                    b'\r' => St::DataLf,
                    b'\n' => self.next_chunk(),
                    _ => return Err(BadFraming),
                },
                St::DataLf => match c {
                    b'\n' => self.next_chunk(),
                    _ => return Err(BadFraming),
                },
                St::TrailerStart => match c {
                    b'\r' => St::FinalLf,
                    b'\n' => St::Done,
                    _ => St::TrailerLine,
                },
                St::TrailerLine => match c {
                    b'\n' => St::TrailerStart,
                    _ => St::TrailerLine,
                },
                St::FinalLf => match c {
                    b'\n' => St::Done,
                    _ => return Err(BadFraming),
                },
                St::Data | St::Done => self.st,
            };
        }
        Ok(i)
    }

    fn line_end(&mut self) -> St {
        if self.size == 0 {
            St::TrailerStart
        } else {
            St::Data
        }
    }

    fn next_chunk(&mut self) -> St {
        self.size = 0;
        self.digits = 0;
        St::Size
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
    let fut = s.read_buf(buf);
    let r = match t {
        Some(d) => tokio::time::timeout(d, fut)
            .await
            .map_err(|_| BodyError::SrcTimeout)?,
        None => fut.await,
    };
    r.map_err(|_| BodyError::SrcClosed)
}

pub async fn write_all<S: AsyncWrite + Unpin>(
    s: &mut S,
    data: &[u8],
    t: Option<Duration>,
) -> Result<(), BodyError> {
    let fut = s.write_all(data);
    let r = match t {
        Some(d) => tokio::time::timeout(d, fut)
            .await
            .map_err(|_| BodyError::DstTimeout)?,
        None => fut.await,
    };
    r.map_err(|_| BodyError::DstFailed)
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
    let mut sent = 0u64;
    let bufsize = bufsize.max(BODY_READ);
    match framing {
        Framing::None => Ok(0),
        Framing::Length(mut left) => loop {
            let n = (buf.len() as u64).min(left) as usize;
            if n > 0 {
                write_all(dst, &buf[..n], dst_timeout).await?;
                buf.advance(n);
                left -= n as u64;
                sent += n as u64;
            }
            if left == 0 {
                return Ok(sent);
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
                        sent += n as u64;
                    }
                }
                if ch.done() {
                    return Ok(sent);
                }
                if read_some(src, buf, bufsize, src_timeout).await? == 0 {
                    return Err(BodyError::SrcClosed);
                }
            }
        }
        Framing::UntilClose => loop {
            if !buf.is_empty() {
                write_all(dst, buf, dst_timeout).await?;
                sent += buf.len() as u64;
                buf.clear();
            }
            if read_some(src, buf, bufsize, src_timeout).await? == 0 {
                return Ok(sent);
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_finds_the_end_across_splits() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for split in 0..=body.len() - 4 {
            let mut c = Chunked::default();
            let a = c.advance(&body[..split]).unwrap_or(usize::MAX);
            assert_eq!(a, split);
            let b = c.advance(&body[split..]).unwrap_or(usize::MAX);
            assert!(c.done());
            assert_eq!(a + b, body.len() - 4);
        }
    }

    #[test]
    fn chunked_rejects_garbage_sizes() {
        assert!(Chunked::default().advance(b"zz\r\n").is_err());
        assert!(Chunked::default()
            .advance(b"ffffffffffffffffff\r\n")
            .is_err());
    }

    #[test]
    fn framing_rules() {
        let mut m = Message::new();
        let _ = m.parse_request(
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        assert_eq!(request_framing(&mut m), Ok(Framing::Chunked));
        assert!(!m.has_header(b"content-length"));
        let _ =
            m.parse_request(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
        assert_eq!(request_framing(&mut m), Err(BadFraming));
        let _ = m.parse_request(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
        assert_eq!(request_framing(&mut m), Err(BadFraming));
        let _ = m.parse_response(b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(response_framing(&mut m, false), Ok(Framing::UntilClose));
        assert_eq!(response_framing(&mut m, true), Ok(Framing::None));
    }
}
