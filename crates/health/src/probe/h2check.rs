//! HTTP/2 health checks (`http-check connect proto h2`, `check-proto h2`, ALPN `h2` on a TLS
//! check) with the `h2` crate: the check's HTTP/1 request bytes (built as for an HTTP/1 check)
//! become one HTTP/2 stream, and the answer is written back in HTTP/1 form (`HTTP/1.1 CODE`
//! with an empty reason, as HAProxy's HTTP/2 start line has none, then the headers and the
//! body) so the same expect rules judge it. One connection per check, as HAProxy's; each
//! `send` of the check is a new stream on it.
//!
//! As HAProxy 2.6's checks (compared): the path is sent without `:authority`, a `Host` header
//! as written, and HTTP/1 connection headers are not sent.

use bytes::Bytes;
use h2::client::{ResponseFuture, SendRequest};
use tokio::io::{AsyncRead, AsyncWrite};

/// An HTTP/2 check connection: the stream sender, the connection's task (ended on drop),
/// and the answer awaited.
pub struct H2Link {
    send: SendRequest<Bytes>,
    task: tokio::task::JoinHandle<()>,
    pending: Option<ResponseFuture>,
    /// The last answer was read whole: reads give end of file until the next send.
    drained: bool,
}

impl Drop for H2Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An HTTP/2 protocol error found by our side (a frame it cannot take, e.g. an HTTP/1 answer
/// to the preface): HAProxy reports it as "Socket error" without an info text (compared).
#[derive(Debug)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Whether `e` is an HTTP/2 protocol error found by our side ([`ProtocolError`]).
pub fn is_protocol_error(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<ProtocolError>())
}

fn io_err(e: h2::Error) -> std::io::Error {
    if e.is_io() {
        e.into_io()
            .unwrap_or_else(|| std::io::Error::other("HTTP/2 error"))
    } else if e.is_library() {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            ProtocolError(e.to_string()),
        )
    } else {
        std::io::Error::other(e.to_string())
    }
}

impl H2Link {
    /// The HTTP/2 preface and settings exchange on a connected stream.
    pub async fn handshake<S>(io: S) -> std::io::Result<H2Link>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (send, conn) = h2::client::handshake(io).await.map_err(io_err)?;
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(H2Link {
            send,
            task,
            pending: None,
            drained: false,
        })
    }

    /// Sends the HTTP/1 `request` (head and body) as one stream.
    pub async fn send(&mut self, request: &[u8]) -> std::io::Result<()> {
        let (req, body) = to_h2(request)?;
        let ready = self.send.clone().ready().await.map_err(io_err)?;
        self.send = ready;
        let (resp, mut stream) = self
            .send
            .send_request(req, body.is_empty())
            .map_err(io_err)?;
        if !body.is_empty() {
            stream.send_data(body, true).map_err(io_err)?;
        }
        self.pending = Some(resp);
        self.drained = false;
        Ok(())
    }

    /// The answer in HTTP/1 form (at most `limit` bytes) appended to `buf`: its length, or 0
    /// (end of file) once it was read.
    pub async fn read(&mut self, buf: &mut Vec<u8>, limit: usize) -> std::io::Result<usize> {
        let Some(resp) = self.pending.take() else {
            return if self.drained {
                Ok(0)
            } else {
                Err(std::io::ErrorKind::NotConnected.into())
            };
        };
        self.drained = true;
        let resp = resp.await.map_err(io_err)?;
        let (head, mut body) = resp.into_parts();
        let before = buf.len();
        buf.extend_from_slice(format!("HTTP/1.1 {} \r\n", head.status.as_u16()).as_bytes());
        for (name, value) in &head.headers {
            buf.extend_from_slice(name.as_str().as_bytes());
            buf.extend_from_slice(b": ");
            buf.extend_from_slice(value.as_bytes());
            buf.extend_from_slice(b"\r\n");
        }
        buf.extend_from_slice(b"\r\n");
        while buf.len() - before < limit {
            match body.data().await {
                Some(Ok(chunk)) => {
                    let _ = body.flow_control().release_capacity(chunk.len());
                    buf.extend_from_slice(&chunk);
                }
                Some(Err(e)) => return Err(io_err(e)),
                None => break,
            }
        }
        buf.truncate(before + limit);
        Ok(buf.len() - before)
    }
}

/// HTTP/1 connection headers HTTP/2 forbids (RFC 9113 8.2.2).
const CONNECTION_HEADERS: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// The check's HTTP/1 request as an HTTP/2 request and its body.
fn to_h2(request: &[u8]) -> std::io::Result<(http::Request<()>, Bytes)> {
    let bad = |what: &str| std::io::Error::other(format!("HTTP/2 check request: {what}"));
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    // `ver HTTP/2` (or any version) is written on the start line: parse it as HTTP/1.1
    let line_end = request
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| bad("no request line"))?;
    let line = &request[..line_end];
    let fixed;
    let request = match line.iter().rposition(|b| *b == b' ') {
        Some(sp) if !line[sp + 1..].starts_with(b"HTTP/1.") => {
            let mut v = line[..sp].to_vec();
            v.extend_from_slice(b" HTTP/1.1");
            v.extend_from_slice(&request[line_end..]);
            fixed = v;
            &fixed[..]
        }
        _ => request,
    };
    let head_len = match req.parse(request) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err(bad("not a complete request head")),
    };
    let method = req.method.unwrap_or("GET");
    let path = req.path.unwrap_or("/");
    // a relative request, its `Host` a header as written (haproxy 2.6's checks send no
    // `:authority`); the h2 crate gives it `:scheme` http
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .version(http::Version::HTTP_11);
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        if CONNECTION_HEADERS.contains(&name.as_str()) {
            continue;
        }
        if name == "te" && !h.value.eq_ignore_ascii_case(b"trailers") {
            continue;
        }
        builder = builder.header(name, h.value);
    }
    let req = builder.body(()).map_err(|e| bad(&e.to_string()))?;
    Ok((req, Bytes::copy_from_slice(&request[head_len..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http1_requests_become_http2_requests() {
        let (r, body) = to_h2(
            b"POST /health?x=1 HTTP/1.1\r\nHost: svc.example\r\nConnection: close\r\nX-A: b\r\ncontent-length: 2\r\n\r\nhi",
        )
        .expect("request");
        assert_eq!(r.method(), "POST");
        assert_eq!(r.uri().to_string(), "/health?x=1");
        assert_eq!(
            r.headers().get("host").map(|v| v.as_bytes()),
            Some(&b"svc.example"[..])
        );
        assert_eq!(
            r.headers().get("x-a").map(|v| v.as_bytes()),
            Some(&b"b"[..])
        );
        assert!(r.headers().get("connection").is_none());
        assert_eq!(&body[..], b"hi");
        // `ver HTTP/2` and no Host: a relative request
        let (r, body) = to_h2(b"OPTIONS / HTTP/2\r\n\r\n").expect("request");
        assert_eq!(
            (r.method().as_str(), r.uri().to_string()),
            ("OPTIONS", "/".into())
        );
        assert!(body.is_empty());
        assert!(to_h2(b"garbage").is_err());
    }
}
