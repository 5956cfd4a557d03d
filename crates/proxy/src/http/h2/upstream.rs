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

use super::convert::{connection_specific, h2_fields, Received};
use super::frames::{DataIn, DataOut, InBody, OutBody};
use crate::http::message::{Message, Version};
use bytes::Bytes;
use h2::{RecvStream, SendStream};

/// The HTTP/2 request for the neutral head `req` on a connection that is TLS or not. Its
/// target and field values share one buffer (one allocation for the head). `carried`: the
/// head `req` was made of, when an HTTP/2 client sent it: its target and fields go as they
/// are if `req` still holds them (nothing parsed nor copied again), else its map is reused.
pub fn request_head(
    req: &Message,
    tls: bool,
    carried: Option<Received>,
) -> Result<http::Request<()>, String> {
    let method = http::Method::from_bytes(req.method()).map_err(|e| e.to_string())?;
    let scheme = match req.scheme() {
        b"" => {
            if tls {
                &b"https"[..]
            } else {
                &b"http"[..]
            }
        }
        s => s,
    };
    let authority = req.authority();
    let path = match req.uri() {
        b"" => &b"/"[..],
        p => p,
    };
    let absolute = !authority.is_empty();
    let target: [&[u8]; 4] = if !absolute {
        [path, b"", b"", b""]
    } else if path == b"*" {
        [scheme, b"://", authority, b""]
    } else {
        [scheme, b"://", authority, path]
    };
    let (uri, fields) = match carried {
        Some(Received { uri, fields }) => (
            uri.filter(|u| absolute && same_target(u, scheme, authority, path)),
            Some(fields),
        ),
        None => (None, None),
    };
    // The client's `host` beside its `:authority` is not sent (the server gets `:authority`).
    let host = absolute.then_some(&http::header::HOST);
    let lead: &[&[u8]] = if uri.is_some() { &[] } else { &target };
    let (fields, target, _) = h2_fields(
        req,
        true,
        fields,
        |name| absolute && name.eq_ignore_ascii_case(b"host"),
        host,
        lead,
    );
    let uri = match uri {
        Some(u) => u,
        None => http::Uri::from_maybe_shared(target).map_err(|e| e.to_string())?,
    };
    let mut out = http::Request::new(());
    *out.headers_mut() = fields;
    *out.method_mut() = method;
    *out.uri_mut() = uri;
    // Relative targets: h2 sets `:scheme http` when the request says HTTP/1.1.
    *out.version_mut() = http::Version::HTTP_11;
    Ok(out)
}

/// Whether the client's `uri` is the absolute target `scheme://authority` + `path` (which
/// `request_head` would otherwise build and parse).
fn same_target(uri: &http::Uri, scheme: &[u8], authority: &[u8], path: &[u8]) -> bool {
    path.first() == Some(&b'/')
        && uri.scheme_str().map(str::as_bytes) == Some(scheme)
        && uri.authority().map(|a| a.as_str().as_bytes()) == Some(authority)
        && uri.path_and_query().map(|p| p.as_str().as_bytes()) == Some(path)
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
) -> InBody {
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
        InBody::None
    } else if has_length {
        InBody::Length
    } else {
        InBody::Chunked
    }
}

/// The request body's sink on the server's stream: the session's HTTP/1 body bytes (a
/// `content-length`, or chunks when `length` is None) as DATA frames; an unfinished upload
/// is cancelled (the server must not wait for the rest).
pub fn request_sink(send: SendStream<Bytes>, length: Option<u64>) -> DataOut {
    let mut out = DataOut::new(h2::Reason::CANCEL);
    out.start(
        send,
        match length {
            Some(n) => OutBody::Length(n),
            None => OutBody::Chunked,
        },
    );
    out
}

/// The response body read from the server's DATA frames, as `framing` says.
pub fn response_source(body: RecvStream, framing: InBody) -> DataIn {
    let mut src = DataIn::new(body);
    src.frame(framing);
    src
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
