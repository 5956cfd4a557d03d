//! A response the proxy makes itself (HAProxy's "HTTP reply"): an error page, `errorfile`,
//! `return`, a redirect, `auth`'s 401, an applet's page, a cache hit, `monitor-uri`'s page.
//!
//! It is protocol-neutral, as what the server phases forward: a head ([`Message`]: status,
//! reason, header fields, version) and a body. The codecs encode it at the edge: the HTTP/1
//! writer ([`Response::write_h1`]), the HTTP/2 edge (`send_head` from the head, the body as
//! DATA frames). It is never written as HTTP/1 bytes to be parsed back. The only parse is of
//! a user's file (`errorfile`, `return errorfile`), once, when the configuration is read
//! ([`Response::from_http1`]), as HAProxy turns its error files into HTX at start-up.
//!
//! An answer made once and sent many times (a rule's static `return`: [`Response::fixed`])
//! also keeps its fields as an HTTP/2 map, made the first time it goes to an HTTP/2 client
//! ([`H2Fields`]): each later answer clones the map, no field name parsed nor value copied.

use super::message::{Message, Version};
use bytes::Bytes;
use std::sync::OnceLock;

#[derive(Debug, Clone, Default)]
pub struct Response {
    pub head: Message,
    pub body: Bytes,
    /// The head's fields as HTTP/2 sends them, for an answer sent many times.
    pub h2: H2Fields,
}

/// The fields of a [`Response::fixed`] answer as an HTTP/2 map, made once (by the HTTP/2 edge,
/// the first time the answer goes to an HTTP/2 client). Only a hint: the edge sends the map
/// only while it holds exactly the head's fields. A copy of the answer (which may be changed,
/// as `http-after-response` does) starts without one; an answer made per request has none.
#[derive(Debug, Default)]
pub struct H2Fields(Option<Box<OnceLock<Kept>>>);

/// What the HTTP/2 edge keeps of a [`Response::fixed`] answer ([`H2Fields`]).
#[derive(Debug)]
pub struct Kept {
    pub fields: http::HeaderMap,
    /// The head's `content-length` when the map was made: good while the map is (the head
    /// still holds exactly its fields, `content-length` among them).
    pub length: Option<u64>,
}

impl Clone for H2Fields {
    fn clone(&self) -> Self {
        H2Fields(None)
    }
}

impl H2Fields {
    /// Where the map is kept, for an answer sent many times (`None` otherwise).
    pub fn cell(&self) -> Option<&OnceLock<Kept>> {
        self.0.as_deref()
    }
}

/// Whether the HTTP/1 writer adds `connection: close` (when the head has no `connection`
/// field of its own): the connection ends after this answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// Nothing added (kept alive, or a page that says so itself).
    Silent,
    /// `connection: close` added as the last field.
    Announce,
}

/// Whether the body goes out: not for a HEAD request (HAProxy sends a reply's head only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Whole,
    HeadOnly,
}

impl Response {
    /// An HTTP/1.1-style answer with this status line, no fields and no body yet.
    pub fn new(status: u16, reason: &[u8]) -> Response {
        let mut head = Message::default();
        head.set_status(status, reason, Version::Http11);
        Response {
            head,
            body: Bytes::new(),
            h2: H2Fields::default(),
        }
    }

    /// The same answer, to be sent many times as it is (a rule's static `return`): its HTTP/2
    /// fields are kept once made ([`H2Fields`]).
    pub fn fixed(mut self) -> Response {
        self.h2 = H2Fields(Some(Box::default()));
        self
    }

    /// Appends a header field.
    pub fn field(mut self, name: &[u8], value: &[u8]) -> Response {
        self.head.append(name, value);
        self
    }

    /// Sets the body (the fields are not touched: the caller says `content-length`).
    pub fn body(mut self, body: impl Into<Bytes>) -> Response {
        self.body = body.into();
        self
    }

    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// A user's HTTP/1 response file (`errorfile`, `return errorfile`): the status line as
    /// written, field names in lower case (HAProxy turns the file into HTX, whose names are
    /// lower case, and sends those), the body what follows the head. `None` when the file
    /// holds no complete response head.
    pub fn from_http1(raw: &[u8]) -> Option<Response> {
        let mut parsed = Message::default();
        let n = parsed.parse_response(raw).ok()??;
        let mut head = Message::default();
        head.set_status(parsed.status, parsed.reason(), parsed.version);
        for f in &parsed.fields {
            head.append(&parsed.name(f).to_ascii_lowercase(), parsed.value(f));
        }
        Some(Response {
            head,
            body: Bytes::copy_from_slice(&raw[n..]),
            h2: H2Fields::default(),
        })
    }

    /// Writes the answer as HTTP/1: the head (with `connection: close` last on
    /// [`Close::Announce`], unless the head has a `connection` field), then the body unless
    /// [`Part::HeadOnly`].
    pub fn write_h1(&self, close: Close, part: Part, out: &mut Vec<u8>) {
        self.write_h1_cased(close, part, None, out)
    }

    /// [`Response::write_h1`] with the names `case` lists in its case.
    pub fn write_h1_cased(
        &self,
        close: Close,
        part: Part,
        case: Option<&super::h1_case::CaseMap>,
        out: &mut Vec<u8>,
    ) {
        let extra: &[(&[u8], &[u8])] =
            if close == Close::Announce && !self.head.has_header(b"connection") {
                &[(b"connection", b"close")]
            } else {
                &[]
            };
        self.head.write_response_cased(extra, case, out);
        if part == Part::Whole {
            out.extend_from_slice(&self.body);
        }
    }

    /// Whether the answer says where its body ends (a length, chunks, or a status without a
    /// body): a user page without one (an `errorfile` written without `content-length`) is
    /// delimited by the close, which HAProxy announces with `connection: close`.
    pub fn delimited(&self) -> bool {
        let s = self.head.status;
        (100..200).contains(&s)
            || s == 204
            || s == 304
            || self.head.has_header(b"content-length")
            || self.head.has_header(b"transfer-encoding")
    }

    /// The length of what [`Response::write_h1`] writes (without writing it).
    pub fn h1_len(&self, close: Close, part: Part) -> u64 {
        let h = &self.head;
        let fields: usize = h
            .fields
            .iter()
            .map(|f| h.name(f).len() + h.value(f).len() + 4)
            .sum();
        let extra = if close == Close::Announce && !h.has_header(b"connection") {
            b"connection: close\r\n".len()
        } else {
            0
        };
        // `HTTP/1.x NNN ` + reason + CRLF, the fields, the blank line.
        (13 + h.reason().len() + 2 + fields + extra + 2) as u64 + self.body_len(part)
    }

    /// The body length that goes out for `part`.
    pub fn body_len(&self, part: Part) -> u64 {
        match part {
            Part::Whole => self.body.len() as u64,
            Part::HeadOnly => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_as_http1_with_close_and_head_only() {
        let r = Response::new(200, b"OK")
            .field(b"content-length", b"2")
            .field(b"content-type", b"text/plain")
            .body(&b"hi"[..]);
        let mut out = Vec::new();
        r.write_h1(Close::Silent, Part::Whole, &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nhi"
        );
        out.clear();
        r.write_h1(Close::Announce, Part::HeadOnly, &mut out);
        assert_eq!(
            out,
            &b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n"[..]
        );
        assert_eq!(
            (r.body_len(Part::Whole), r.body_len(Part::HeadOnly)),
            (2, 0)
        );
        assert_eq!(r.h1_len(Close::Announce, Part::HeadOnly), out.len() as u64);
        out.clear();
        r.write_h1(Close::Silent, Part::Whole, &mut out);
        assert_eq!(r.h1_len(Close::Silent, Part::Whole), out.len() as u64);
    }

    #[test]
    fn a_user_file_keeps_its_status_line_with_names_in_lower_case() {
        let raw = b"HTTP/1.0 503 Busy Now\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<p>busy</p>\n";
        let r = Response::from_http1(raw).expect("parses");
        assert_eq!((r.status(), r.head.reason()), (503, &b"Busy Now"[..]));
        let mut out = Vec::new();
        // Its own `Connection` field: nothing added.
        r.write_h1(Close::Announce, Part::Whole, &mut out);
        assert_eq!(
            out,
            &b"HTTP/1.0 503 Busy Now\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n<p>busy</p>\n"[..]
        );
        assert!(Response::from_http1(b"no head here").is_none());
        assert!(Response::from_http1(b"HTTP/1.1 200 OK\r\nA: b\r\n").is_none());
    }
}
