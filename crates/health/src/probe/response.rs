//! Reads one HTTP/1 response for a check: sends the request, then reads until the server
//! closes, the announced body is complete, or `limit` bytes are held (HAProxy also judges a
//! check on its first buffer). Timeouts and protocol errors come back as outcomes.

use crate::probe::addr::{CheckAddr, Conn};
use crate::probe::tcp;
use crate::status::{CheckOutcome, CheckStatus};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A parsed check response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResponse {
    pub status: u16,
    pub reason: String,
    /// Header lines as received (name, value), for `http-check expect hdr|fhdr`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Connect (`connect_timeout`), send `request`, read the answer (`read_timeout`).
pub async fn exchange(
    addr: &CheckAddr,
    request: &[u8],
    connect_timeout: Duration,
    read_timeout: Duration,
    limit: usize,
) -> Result<(CheckResponse, Duration), CheckOutcome> {
    let start = crate::clock::now();
    match tcp::connect_to(addr, connect_timeout).await? {
        Conn::Tcp(s) => exchange_on(s, start, request, read_timeout, limit).await,
        Conn::Unix(s) => exchange_on(s, start, request, read_timeout, limit).await,
    }
}

/// [`exchange`] on a stream already connected (plain TCP, or TLS for SSL_GET) at `start`.
pub async fn exchange_on<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    start: Instant,
    request: &[u8],
    read_timeout: Duration,
    limit: usize,
) -> Result<(CheckResponse, Duration), CheckOutcome> {
    let io = async {
        stream.write_all(request).await?;
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 4096];
        loop {
            // A TLS peer closing without close_notify is the end of the answer too (HTTP/1.0
            // servers close to end the body, as genhash accepts).
            let n = match stream.read(&mut chunk).await {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                r => r?,
            };
            if n == 0 {
                return Ok::<_, std::io::Error>((buf, true));
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() >= limit || complete(&buf) {
                buf.truncate(limit);
                return Ok((buf, false));
            }
        }
    };
    let (buf, _closed) = match tokio::time::timeout(read_timeout, io).await {
        Err(_) => {
            return Err(CheckOutcome::new(
                CheckStatus::L7Timeout,
                crate::clock::since(start),
            ))
        }
        Ok(Err(e)) => {
            return Err(
                CheckOutcome::new(CheckStatus::L7Response, crate::clock::since(start))
                    .with_info(tcp::io_error_info(&e)),
            )
        }
        Ok(Ok(v)) => v,
    };
    let elapsed = crate::clock::since(start);
    match parse(&buf) {
        Some(resp) => Ok((resp, elapsed)),
        None if buf.is_empty() => {
            Err(CheckOutcome::new(CheckStatus::L7Response, elapsed).with_info("Empty response"))
        }
        None => {
            Err(CheckOutcome::new(CheckStatus::L7Response, elapsed)
                .with_info("Invalid HTTP response"))
        }
    }
}

/// Head complete and, with a Content-Length, the body too.
pub fn complete(buf: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(head)) => match content_length(resp.headers) {
            Some(len) => buf.len() >= head.saturating_add(len),
            // a chunked body is complete at its last-chunk marker (servers that ignore
            // "Connection: close" would otherwise hold the check until its timeout)
            None if chunked(resp.headers) => buf[head..].ends_with(b"0\r\n\r\n"),
            None => false,
        },
        _ => false,
    }
}

/// How many body bytes came, once the head is complete (None before).
pub fn body_len(buf: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(head)) => {
            let n = buf.len() - head;
            Some(content_length(resp.headers).map_or(n, |len| n.min(len)))
        }
        _ => None,
    }
}

fn chunked(headers: &[httparse::Header<'_>]) -> bool {
    headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked")
    })
}

fn content_length(headers: &[httparse::Header<'_>]) -> Option<usize> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Parses status, reason and the raw bytes after the head (not de-chunked: keepalived's
/// digest is over the bytes as received).
pub fn parse(buf: &[u8]) -> Option<CheckResponse> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(head)) => {
            let status = resp.code?;
            let reason = resp.reason.unwrap_or("").to_string();
            let mut body = buf[head..].to_vec();
            if let Some(len) = content_length(resp.headers) {
                body.truncate(len);
            }
            let headers = resp
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).trim().to_string(),
                    )
                })
                .collect();
            Some(CheckResponse {
                status,
                reason,
                headers,
                body,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_head_and_body() {
        let r = parse(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nokEXTRA")
            .expect("valid");
        assert_eq!(r.status, 500);
        assert_eq!(r.reason, "Internal Server Error");
        assert_eq!(r.body, b"ok");
        assert!(parse(b"garbage\r\n\r\n").is_none());
        assert!(
            parse(b"HTTP/1.1 200 OK\r\nX: y\r\n").is_none(),
            "incomplete head"
        );
    }

    #[test]
    fn completeness() {
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab"));
        assert!(!complete(b"HTTP/1.0 200 OK\r\n\r\nbody until close"));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n";
        assert!(!complete(chunked));
        assert!(complete(&[&chunked[..], b"0\r\n\r\n"].concat()));
    }
}
