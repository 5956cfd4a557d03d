//! Pure conversions at the HTTP/2 edge (no I/O): an HTTP/2 request head to the neutral head
//! the session's phases read (`message::Message`), the neutral response head to an HTTP/2
//! response head, a chunk framer for request bodies of unknown length (the server is spoken
//! to in HTTP/1.1) and a de-chunker for chunked answers.
//!
//! The request follows HAProxy 2.6 (`h2_make_htx_request`): the target is
//! `scheme://authority/path` when `:authority` is present (what `%r` and `url` show; the
//! server gets origin form), `host` comes first from `:authority` (a later `host` field is
//! dropped), `cookie` fields are merged into one at the end, and a body of unknown length
//! goes chunked. The response loses HTTP/1's hop-by-hop fields.

use crate::http::message::{Message, Version};
use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use std::fmt::Write as _;

/// How a body read from a stream's DATA frames follows its head in the HTTP/1 framing the
/// session relays (a request's from a client, an answer's from a server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InBody {
    /// No body (END_STREAM on the HEADERS frame, or a status or method without body).
    None,
    /// `content-length` given: DATA frames go as they are.
    Length,
    /// Unknown length: DATA frames go as chunks (the trailers as chunk trailers).
    Chunked,
}

/// Fills `m` with the neutral head of an HTTP/2 request (no HTTP/1 bytes in between);
/// returns how its body follows and the head's size as HTTP/1 would write it (what the
/// counters count as the request's head bytes).
pub fn request_message(
    parts: &http::request::Parts,
    end_stream: bool,
    m: &mut Message,
) -> (InBody, usize) {
    request_message_of(&parts.method, &parts.uri, &parts.headers, end_stream, m)
}

/// [`request_message`] from the request's pieces (a head left in its box: `edge::H2Edge::new`).
pub fn request_message_of(
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
    end_stream: bool,
    m: &mut Message,
) -> (InBody, usize) {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = uri.authority().map(|a| a.as_str());
    let scheme = uri
        .scheme_str()
        .filter(|_| authority.is_some())
        .unwrap_or("");
    let method = method.as_str().as_bytes();
    m.clear();
    m.set_request(
        method,
        scheme.as_bytes(),
        authority.unwrap_or("").as_bytes(),
        path.as_bytes(),
        Version::Http2,
    );
    // Start line and the final CRLF: `M T HTTP/1.1\r\n` ... `\r\n`.
    let mut size = method.len() + m.target().len() + 14;
    let mut field = |m: &mut Message, name: &[u8], value: &[u8]| {
        size += name.len() + value.len() + 4;
        m.append(name, value);
    };
    if let Some(a) = authority {
        field(m, b"host", a.as_bytes());
    }
    let mut has_length = false;
    let mut cookies: Vec<&[u8]> = Vec::new();
    for (name, value) in headers {
        match name.as_str() {
            "host" if authority.is_some() => continue,
            "cookie" => {
                cookies.push(value.as_bytes());
                continue;
            }
            "content-length" => has_length = true,
            _ => {}
        }
        field(m, name.as_str().as_bytes(), value.as_bytes());
    }
    if !cookies.is_empty() {
        field(m, b"cookie", &cookies.join(&b"; "[..]));
    }
    let body = if end_stream {
        InBody::None
    } else if has_length {
        InBody::Length
    } else {
        field(m, b"transfer-encoding", b"chunked");
        InBody::Chunked
    };
    (body, size)
}

/// One chunk of a chunked request body (empty `data`: the last chunk).
pub fn chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        out.extend_from_slice(b"0\r\n\r\n");
        return;
    }
    let mut size = String::new();
    let _ = write!(size, "{:x}\r\n", data.len());
    out.extend_from_slice(size.as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk of a chunked body, carrying HTTP/2 trailers as chunk trailers.
pub fn last_chunk(trailers: Option<&http::HeaderMap>) -> Vec<u8> {
    let mut out = Vec::from(&b"0\r\n"[..]);
    for (n, v) in trailers.into_iter().flatten() {
        out.extend_from_slice(n.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// HTTP/1's connection-specific fields, which HTTP/2 forbids (RFC 9113 8.2.2; `te` aside).
/// Told apart by length first: most names are compared with none of them.
pub fn connection_specific(name: &[u8]) -> bool {
    let fixed: &[u8] = match name.len() {
        7 => b"upgrade",
        10 if name[0].eq_ignore_ascii_case(&b'c') => b"connection",
        10 => b"keep-alive",
        16 => b"proxy-connection",
        17 => b"transfer-encoding",
        _ => return false,
    };
    name.eq_ignore_ascii_case(fixed)
}

/// A head received over HTTP/2, kept beside the neutral head made of it: when the neutral
/// head goes on to an HTTP/2 peer unchanged (no rule edited its fields), these go as they are
/// ([`carries`]), no name parsed nor value copied again. A request's keeps its `uri`; an
/// answer's has none.
#[derive(Debug)]
pub struct Received {
    pub uri: Option<http::Uri>,
    pub fields: http::HeaderMap,
}

/// Which fields of the neutral head `m` an HTTP/2 head carries (RFC 9113 8.2.2): not HTTP/1's
/// connection-specific fields, nor the fields `connection` names, nor `te` unless it says
/// `trailers` in a request (never in an answer), nor what `skip` names.
fn sent_fields<'a>(
    m: &'a Message,
    request: bool,
    skip: impl Fn(&[u8]) -> bool + 'a,
) -> impl Fn(&[u8], &[u8]) -> bool + 'a {
    // Most heads have no `connection` field: nothing to collect then.
    let named: Vec<&[u8]> = m
        .headers(b"connection")
        .flat_map(|v| v.split(|&c| c == b','))
        .map(crate::http::message::trim)
        .collect();
    move |name: &[u8], value: &[u8]| {
        !(connection_specific(name)
            || named.iter().any(|c| name.eq_ignore_ascii_case(c))
            || skip(name)
            || (name.len() == 2
                && name.eq_ignore_ascii_case(b"te")
                && !(request && value.eq_ignore_ascii_case(b"trailers"))))
    }
}

/// Whether `map` (a received head's fields, in their order) holds exactly the fields of `m`
/// that `kept` lets through: the same names (as HTTP/2 writes them, lower case) and values in
/// the same order, none marked sensitive. `left_out`: a name of `map` the head sent leaves
/// out (a request's `host` beside `:authority`). `Some(true)` when `map` has a `left_out`.
fn carries(
    map: &http::HeaderMap,
    m: &Message,
    kept: &impl Fn(&[u8], &[u8]) -> bool,
    left_out: Option<&HeaderName>,
) -> Option<bool> {
    let mut fields = m.fields.iter().filter(|f| kept(m.name(f), m.value(f)));
    let mut seen = false;
    for (name, value) in map {
        if left_out == Some(name) {
            seen = true;
            continue;
        }
        let f = fields.next()?;
        if m.name(f) != name.as_str().as_bytes()
            || m.value(f) != value.as_bytes()
            || value.is_sensitive()
        {
            return None;
        }
    }
    fields.next().is_none().then_some(seen)
}

/// The fields of an HTTP/2 head for the neutral head `m` (requests to servers, answers to
/// clients), filtered as [`sent_fields`] says. `carried`: the fields of the head `m` was made
/// of, sent as they are when nothing changed them ([`carries`]; `left_out` removed), else its
/// map is refilled. Fields HTTP/2 cannot carry (not a valid name or value) are dropped.
/// `lead`: pieces put first in the values' buffer, returned as one `Bytes` (a request's
/// target shares the head's one allocation). The `bool`: `carried` went as it is.
pub fn h2_fields(
    m: &Message,
    request: bool,
    carried: Option<http::HeaderMap>,
    skip: impl Fn(&[u8]) -> bool,
    left_out: Option<&HeaderName>,
    lead: &[&[u8]],
) -> (http::HeaderMap, Bytes, bool) {
    let kept = sent_fields(m, request, skip);
    let first: usize = lead.iter().map(|p| p.len()).sum();
    let mut out = match carried {
        Some(mut map) => {
            if let Some(seen) = carries(&map, m, &kept, left_out) {
                if let Some(n) = left_out.filter(|_| seen) {
                    map.remove(n);
                }
                let lead = match first {
                    0 => Bytes::new(),
                    _ => super::values::cut(first, |buf| {
                        for p in lead {
                            buf.extend_from_slice(p);
                        }
                    }),
                };
                return (map, lead, true);
            }
            // Its tables hold the head instead.
            super::maps::recycle(map)
        }
        None => super::maps::take(),
    };
    // The values share one buffer, cut from the thread's block (`values`): no allocation
    // per field, nor per head. Which fields go is asked once per field: the first 64 are
    // remembered as bits for the two passes after this one, the rare others asked again.
    let (mut size, mut count, mut going) = (first, 0, 0u64);
    for (i, f) in m.fields.iter().enumerate() {
        if kept(m.name(f), m.value(f)) {
            size += m.value(f).len();
            count += 1;
            if i < 64 {
                going |= 1 << i;
            }
        }
    }
    let goes = |i: usize, f: &crate::http::message::Field| {
        if i < 64 {
            going >> i & 1 == 1
        } else {
            kept(m.name(f), m.value(f))
        }
    };
    let values = super::values::cut(size, |buf| {
        for p in lead {
            buf.extend_from_slice(p);
        }
        for (i, f) in m.fields.iter().enumerate() {
            if goes(i, f) {
                buf.extend_from_slice(m.value(f));
            }
        }
    });
    // Room for the fields kept (a recycled map mostly has it already).
    out.reserve(count);
    let mut at = first;
    for (i, f) in m.fields.iter().enumerate() {
        if !goes(i, f) {
            continue;
        }
        let (name, value) = (m.name(f), m.value(f));
        let shared = values.slice(at..at + value.len());
        at += value.len();
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_maybe_shared(shared),
        ) {
            out.append(n, v);
        }
    }
    (out, values.slice(..first), false)
}

/// The HTTP/2 response head for the session's answer `res`; `carried`: the fields of the
/// head received from an HTTP/2 server (sent on as they are if `res` still holds them), or
/// of any received head (its map reused).
pub fn response_head(res: &Message, carried: Option<http::HeaderMap>) -> http::Response<()> {
    response_head_carried(res, carried).0
}

/// [`response_head`], and whether `carried` went as it is (`res` holds exactly its fields).
pub fn response_head_carried(
    res: &Message,
    carried: Option<http::HeaderMap>,
) -> (http::Response<()>, bool) {
    let mut out = http::Response::new(());
    *out.status_mut() =
        http::StatusCode::from_u16(res.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    let (fields, _, same) = h2_fields(res, false, carried, |_| false, None, &[]);
    *out.headers_mut() = fields;
    (out, same)
}

/// Whether the answer is chunked (the session only forwards chunked as the last coding).
pub fn is_chunked(res: &Message) -> bool {
    res.has_token(b"transfer-encoding", b"chunked")
}

#[derive(Debug, PartialEq, Eq)]
pub struct BadChunk;

/// What the de-chunker found.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    Data(Bytes),
    /// The last chunk, with its trailer fields.
    End(http::HeaderMap),
}

/// Takes the data out of a chunked body, piece by piece (sans-IO).
#[derive(Debug, Default)]
pub struct Dechunk {
    /// Data bytes left in the current chunk.
    left: u64,
    /// A CRLF ends the chunk's data.
    crlf: bool,
    /// The last chunk was read: trailers (or the final CRLF) follow.
    trailers: bool,
}

impl Dechunk {
    /// The next piece from `buf` (consumed), or `None` when more bytes are needed.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Piece>, BadChunk> {
        loop {
            if self.left > 0 {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = self.left.min(buf.len() as u64) as usize;
                self.left -= n as u64;
                self.crlf = self.left == 0;
                return Ok(Some(Piece::Data(buf.split_to(n).freeze())));
            }
            if self.crlf {
                if buf.len() < 2 {
                    return Ok(None);
                }
                if &buf[..2] != b"\r\n" {
                    return Err(BadChunk);
                }
                buf.advance(2);
                self.crlf = false;
            }
            if self.trailers {
                return self.trailer_fields(buf);
            }
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((n, size))) => {
                    buf.advance(n);
                    if size == 0 {
                        self.trailers = true;
                    } else {
                        self.left = size;
                    }
                }
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(_) => return Err(BadChunk),
            }
        }
    }

    fn trailer_fields(&mut self, buf: &mut BytesMut) -> Result<Option<Piece>, BadChunk> {
        let mut map = http::HeaderMap::new();
        if buf.starts_with(b"\r\n") {
            buf.advance(2);
            return Ok(Some(Piece::End(map)));
        }
        let mut fields = [httparse::EMPTY_HEADER; crate::http::h1::MAX_HEADERS];
        match httparse::parse_headers(buf, &mut fields) {
            Ok(httparse::Status::Complete((n, parsed))) => {
                for h in parsed.iter() {
                    if let (Ok(k), Ok(v)) = (
                        HeaderName::from_bytes(h.name.as_bytes()),
                        HeaderValue::from_bytes(h.value),
                    ) {
                        map.append(k, v);
                    }
                }
                buf.advance(n);
                Ok(Some(Piece::End(map)))
            }
            Ok(httparse::Status::Partial) => Ok(None),
            Err(_) => Err(BadChunk),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(req: http::Request<()>) -> http::request::Parts {
        req.into_parts().0
    }

    #[test]
    fn request_message_as_haproxy_builds_it() {
        let p = parts(
            http::Request::builder()
                .method("POST")
                .uri("http://x.example:8080/a?b=1")
                .header("cookie", "a=1")
                .header("user-agent", "t")
                .header("cookie", "b=2")
                .header("host", "ignored")
                .body(())
                .expect("request"),
        );
        let mut m = Message::default();
        let (body, size) = request_message(&p, false, &mut m);
        assert_eq!(body, InBody::Chunked);
        let h1 = "POST http://x.example:8080/a?b=1 HTTP/1.1\r\nhost: x.example:8080\r\nuser-agent: t\r\ncookie: a=1; b=2\r\ntransfer-encoding: chunked\r\n\r\n";
        assert_eq!(size, h1.len());
        assert_eq!(m.version, Version::Http2);
        assert_eq!(m.uri(), b"/a?b=1");
        assert_eq!(m.target(), b"http://x.example:8080/a?b=1");
        assert_eq!(m.authority(), b"x.example:8080");
        // The same head as the HTTP/1 codec gives for those bytes (as HTTP/2: the server
        // gets the origin form, as from HAProxy).
        let mut parsed = Message::default();
        assert_eq!(parsed.parse_request(h1.as_bytes()), Ok(Some(h1.len())));
        parsed.version = Version::Http2;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        m.write_request(&mut a);
        parsed.write_request(&mut b);
        assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
        let p = parts(
            http::Request::builder()
                .uri("/only-path")
                .header("content-length", "3")
                .body(())
                .expect("request"),
        );
        assert_eq!(request_message(&p, false, &mut m).0, InBody::Length);
        assert_eq!((m.method(), m.uri()), (&b"GET"[..], &b"/only-path"[..]));
        assert_eq!(m.header(b"content-length"), Some(&b"3"[..]));
        assert_eq!(request_message(&p, true, &mut m).0, InBody::None);
    }

    /// `validate::request` skips its host and authority checks for a head made here from
    /// `:authority`: the answer must be the one the full checks give, for every kind of
    /// request head this makes.
    #[test]
    fn validation_shortcut_answers_as_the_full_checks() {
        use crate::http::validate;
        type Head<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let heads: [Head; 12] = [
            ("GET", "https://t.example/a", &[]),
            ("GET", "https://t.example/a@b", &[("host", "x")]),
            ("GET", "https://T.Example:443/a?b", &[("host", "other")]),
            ("GET", "http://t:80/", &[("host", "t"), ("host", "u")]),
            ("GET", "https://[::1]:8443/x", &[]),
            ("GET", "https://u@t/a", &[]),
            ("GET", "https://u:p@t:443/a", &[("host", "t")]),
            ("POST", "https://t/a", &[("content-length", "3")]),
            ("POST", "https://t/a", &[]),
            ("GET", "/no-authority", &[("host", "a"), ("host", "b")]),
            ("CONNECT", "https://t:443/", &[]),
            ("GET", "https://t/a%20b", &[]),
        ];
        let mut m = Message::default();
        for (method, uri, fields) in heads {
            let mut b = http::Request::builder().method(method).uri(uri);
            for (n, v) in fields {
                b = b.header(*n, *v);
            }
            let p = parts(b.body(()).expect("request"));
            for end in [false, true] {
                request_message(&p, end, &mut m);
                for lax in [false, true] {
                    assert_eq!(
                        validate::request(&m, lax),
                        validate::request_fully_checked(&m, lax),
                        "{method} {uri} {fields:?}"
                    );
                }
            }
        }
        // A `:path` not starting with `/` (`http` lets `*` and `?x` through): the target runs
        // it into the authority (`https://t*`), which the full checks compare with `host`.
        for path in ["*", "?x"] {
            let uri = http::Uri::builder()
                .scheme("https")
                .authority("t")
                .path_and_query(path)
                .build()
                .expect("uri");
            let p = parts(http::Request::get(uri).body(()).expect("request"));
            request_message(&p, true, &mut m);
            assert_eq!(
                validate::request(&m, false),
                validate::request_fully_checked(&m, false),
                "{path}"
            );
        }
        // A CONNECT as HTTP/2 sends it (`:authority` only) goes through the full checks.
        let p = parts(
            http::Request::builder()
                .method("CONNECT")
                .uri("t:443")
                .body(())
                .expect("request"),
        );
        request_message(&p, true, &mut m);
        assert_eq!(
            validate::request(&m, false),
            validate::request_fully_checked(&m, false)
        );
    }

    #[test]
    fn connection_specific_names_in_any_case() {
        for n in [
            "Connection",
            "keep-alive",
            "Proxy-Connection",
            "TRANSFER-ENCODING",
            "upgrade",
        ] {
            assert!(connection_specific(n.as_bytes()), "{n}");
        }
        for n in ["te", "connectiox", "keep-alivf", "upgrades", "x", ""] {
            assert!(!connection_specific(n.as_bytes()), "{n}");
        }
    }

    #[test]
    fn response_head_drops_hop_by_hop_fields() {
        let mut m = Message::default();
        let raw = b"HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: t=1\r\nTransfer-Encoding: chunked\r\nX-Kept: 2\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n\r\n";
        assert!(matches!(m.parse_response(raw), Ok(Some(_))));
        assert!(is_chunked(&m));
        let r = response_head(&m, None);
        assert_eq!(r.status(), 200);
        let names: Vec<&str> = r.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-kept", "set-cookie"]);
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
    }

    /// An HTTP/2 server's answer the rules left alone goes to an HTTP/2 client with the
    /// fields it came with (the same values, not copies); once a field changes, the head is
    /// made from the neutral head, as without them.
    #[test]
    fn an_unchanged_answer_goes_on_with_its_own_fields() {
        let mut map = http::HeaderMap::new();
        map.append("content-type", HeaderValue::from_static("text/plain"));
        map.append("x-a", HeaderValue::from_static("1"));
        map.append("x-a", HeaderValue::from_static("2"));
        let came = |h: &http::HeaderMap| h.get("content-type").map(|v| v.as_bytes().as_ptr());
        let mut m = Message::default();
        m.set_status(200, b"", Version::Http11);
        for (n, v) in &map {
            m.append(n.as_str().as_bytes(), v.as_bytes());
        }
        // HTTP/1 framing the session adds is not sent over HTTP/2 either way.
        m.append(b"transfer-encoding", b"chunked");
        let r = response_head(&m, Some(map.clone()));
        assert_eq!(r.headers(), &map);
        assert_eq!(came(r.headers()), came(&map));
        // Built without them: the same head.
        assert_eq!(response_head(&m, None).headers(), &map);
        // A rule's change: made from the neutral head.
        m.set_value_at(1, b"one");
        let r = response_head(&m, Some(map.clone()));
        let got: Vec<_> = r.headers().get_all("x-a").iter().collect();
        assert_eq!(got, ["one", "2"]);
        assert_ne!(came(r.headers()), came(&map));
        m.append(b"x-b", b"3");
        let r = response_head(&m, Some(map.clone()));
        assert_eq!(r.headers().len(), 4);
        // The same fields in another order are another head.
        let mut m = Message::default();
        m.set_status(200, b"", Version::Http11);
        m.append(b"x-a", b"1");
        m.append(b"x-a", b"2");
        m.append(b"content-type", b"text/plain");
        let r = response_head(&m, Some(map.clone()));
        let names: Vec<&str> = r.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-a", "content-type"]);
    }

    #[test]
    fn dechunks_across_splits_with_trailers() {
        let wire = b"5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\ngrpc-status: 0\r\n\r\n";
        // Every split point gives the same pieces.
        for cut in 0..wire.len() {
            let mut d = Dechunk::default();
            let mut buf = BytesMut::from(&wire[..cut]);
            let mut data = Vec::new();
            let mut end = None;
            let mut feed =
                |buf: &mut BytesMut, data: &mut Vec<u8>, end: &mut Option<http::HeaderMap>| {
                    while let Some(p) = d.next(buf).expect("valid") {
                        match p {
                            Piece::Data(b) => data.extend_from_slice(&b),
                            Piece::End(t) => *end = Some(t),
                        }
                    }
                };
            feed(&mut buf, &mut data, &mut end);
            buf.extend_from_slice(&wire[cut..]);
            feed(&mut buf, &mut data, &mut end);
            assert_eq!(data, b"hello!", "cut at {cut}");
            let t = end.expect("end");
            assert_eq!(t.get("grpc-status").map(|v| v.as_bytes()), Some(&b"0"[..]));
        }
        let mut d = Dechunk::default();
        assert_eq!(d.next(&mut BytesMut::from(&b"zz\r\n"[..])), Err(BadChunk));
    }

    #[test]
    fn chunks_are_framed() {
        let mut out = Vec::new();
        chunk(&[7u8; 26], &mut out);
        assert!(out.starts_with(b"1a\r\n"));
        out.clear();
        chunk(b"", &mut out);
        assert_eq!(out, b"0\r\n\r\n");
    }
}
