//! The HTTP/1 codec: parses a request or response head off the wire into the
//! protocol-neutral [`Message`] (httparse, the target split into scheme, authority and path),
//! and writes a [`Message`] back as an HTTP/1 head. The session calls it at the edge only
//! (reading a head, sending one); an HTTP/2 codec would be a sibling producing and consuming
//! the same type. Limits: the caller's `tune.bufsize` and `tune.http.maxhdr` ([`Limits`]).

use super::h1_case::CaseMap;
use super::message::{Message, TargetForm, Version};
use std::mem::MaybeUninit;

/// HAProxy's `tune.http.maxhdr` default.
pub const MAX_HEADERS: usize = 101;

/// What the HTTP/1 parser accepts on one side of a proxy (HAProxy's H1 settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `tune.http.maxhdr`: a head with this many fields or more is refused (HAProxy keeps
    /// one of its slots for the end of the list: 100 fields pass by default, 101 do not).
    pub max_headers: usize,
    /// `option accept-invalid-http-request` (frontend) or `-response` (backend): any byte
    /// but CR/LF in header names, control bytes in values, bytes above 127 and `#` in a
    /// request target.
    pub accept_invalid: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_headers: MAX_HEADERS,
            accept_invalid: false,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not HTTP/1.x or not well formed.
    Invalid,
    /// `tune.http.maxhdr` header fields or more.
    TooManyHeaders,
}

fn status<T>(r: httparse::Result<T>) -> Result<Option<T>, ParseError> {
    match r {
        Ok(httparse::Status::Complete(n)) => Ok(Some(n)),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(ParseError::TooManyHeaders),
        Err(_) => Err(ParseError::Invalid),
    }
}

/// Room for the header fields `limits` allows, and a few more for the `Connection` fields
/// HAProxy does not count: on the stack up to the default, else on the heap. Left
/// uninitialised (httparse fills what it parses): a hundred empty fields cost more to write
/// than a small head costs to parse.
fn with_headers<'b, R>(
    limits: &Limits,
    f: impl FnOnce(&mut [MaybeUninit<httparse::Header<'b>>]) -> R,
) -> R {
    const ROOM: usize = MAX_HEADERS + SLACK;
    let n = limits.max_headers.saturating_sub(1) + SLACK;
    if n <= ROOM {
        let mut stack = [MaybeUninit::<httparse::Header<'b>>::uninit(); ROOM];
        f(&mut stack[..n])
    } else {
        let mut heap = vec![MaybeUninit::<httparse::Header<'b>>::uninit(); n];
        f(&mut heap)
    }
}

/// Parsing room beyond `tune.http.maxhdr` for uncounted `Connection` fields.
const SLACK: usize = 4;

/// Whether `fields` are more than `limits` allows, counted as HAProxy's HTTP/1 parser counts
/// them: a `Connection` field holding only `close`/`keep-alive` is taken out, not counted.
fn too_many(fields: &[httparse::Header<'_>], limits: &Limits) -> bool {
    // Below the limit even with every field counted: nothing to look at (the usual case).
    if fields.len() < limits.max_headers {
        return false;
    }
    let dropped = |h: &&httparse::Header<'_>| {
        h.name.eq_ignore_ascii_case("connection")
            && h.value.split(|&b| b == b',').all(|t| {
                let t = super::message::trim(t);
                t.is_empty()
                    || t.eq_ignore_ascii_case(b"close")
                    || t.eq_ignore_ascii_case(b"keep-alive")
            })
    };
    let counted = fields.iter().filter(|h| !dropped(h)).count();
    counted >= limits.max_headers
}

/// The bytes of `orig` at the place `part` has in `copy` (a same-length copy of `orig`).
fn back<'a>(orig: &'a [u8], copy: &[u8], part: &[u8]) -> &'a [u8] {
    let at = (part.as_ptr() as usize).saturating_sub(copy.as_ptr() as usize);
    orig.get(at..at + part.len()).unwrap_or(b"")
}

impl Message {
    /// Parses an HTTP/1 request head from `buf`: `Ok(Some(len))` when complete (`len` bytes
    /// of head), `Ok(None)` when more bytes are needed.
    pub fn parse_request(&mut self, buf: &[u8]) -> Result<Option<usize>, ParseError> {
        self.parse_request_with(buf, &Limits::default())
    }

    /// [`Message::parse_request`] within `limits`; what HAProxy tolerates and httparse does
    /// not (`h1_relax`) is parsed from a same-length copy and read back from `buf`.
    pub fn parse_request_with(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<usize>, ParseError> {
        match super::h1_fast::request(self, buf, limits.max_headers) {
            Some(n) => Ok(Some(n)),
            None => self.parse_request_slow(buf, limits),
        }
    }

    /// [`Message::parse_request_with`] by httparse alone, for what `h1_fast` leaves.
    pub(super) fn parse_request_slow(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<usize>, ParseError> {
        match self.parse_request_in(buf, buf, limits) {
            Err(ParseError::Invalid) if limits.accept_invalid => {
                self.parse_request_relaxed(buf, limits)
            }
            r => r,
        }
    }

    /// Under `option accept-invalid-http-request`: what HAProxy 2.6 tolerates (`h1_relax`),
    /// a version such as `HTTP/1.10` (handled as HTTP/1.0), an HTTP/0.9 `GET TARGET` line
    /// (forwarded as `GET TARGET HTTP/1.0` without fields).
    fn parse_request_relaxed(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<usize>, ParseError> {
        use super::h1_relax as relax;
        let mut copy = relax::relax(buf, true, true);
        let mut r = match &copy {
            Some(c) => self.parse_request_in(c, buf, limits),
            None => Err(ParseError::Invalid),
        };
        if r == Err(ParseError::Invalid) {
            let mut c = copy.take().unwrap_or_else(|| buf.to_vec());
            if relax::legacy_version(&mut c) {
                r = self.parse_request_in(&c, buf, limits);
            }
        }
        if r == Err(ParseError::Invalid) {
            if let Some((target, len)) = relax::http09(buf) {
                self.clear();
                self.set_request_target(b"GET", &buf[target], Version::Http10);
                return Ok(Some(len));
            }
        }
        r
    }

    fn parse_request_in(
        &mut self,
        copy: &[u8],
        orig: &[u8],
        limits: &Limits,
    ) -> Result<Option<usize>, ParseError> {
        with_headers(limits, |headers| {
            let mut req = httparse::Request::new(&mut []);
            // HAProxy accepts runs of spaces between the request line's words.
            let parsed = httparse::ParserConfig::default()
                .allow_multiple_spaces_in_request_line_delimiters(true)
                .parse_request_with_uninit_headers(&mut req, copy, headers);
            let Some(len) = status(parsed)? else {
                return Ok(None);
            };
            if too_many(req.headers, limits) {
                return Err(ParseError::TooManyHeaders);
            }
            self.clear();
            self.set_request_target(
                req.method.unwrap_or("GET").as_bytes(),
                req.path
                    .map_or(&b"/"[..], |p| back(orig, copy, p.as_bytes())),
                Version::http1(req.version.unwrap_or(1)),
            );
            self.append_fields(req.headers, copy, orig, len);
            Ok(Some(len))
        })
    }

    /// Appends the parsed `fields` (slices of `copy`, a head of `len` bytes) with their bytes
    /// from `orig` (the same places): the field lines copied in one piece.
    fn append_fields(
        &mut self,
        fields: &[httparse::Header<'_>],
        copy: &[u8],
        orig: &[u8],
        len: usize,
    ) {
        let Some(first) = fields.first() else {
            return;
        };
        let at = |part: &[u8]| (part.as_ptr() as usize).saturating_sub(copy.as_ptr() as usize);
        let from = at(first.name.as_bytes());
        let Some(lines) = orig.get(from..len) else {
            // (not reached: the fields are in the head)
            for h in fields {
                self.append(
                    back(orig, copy, h.name.as_bytes()),
                    back(orig, copy, h.value),
                );
            }
            return;
        };
        // (clamped: a slice httparse did not take from the head would read as empty)
        let span = |part: &[u8]| {
            let start = at(part).saturating_sub(from).min(lines.len());
            (start as u32, (start + part.len()).min(lines.len()) as u32)
        };
        let mut names = 0;
        let places: Vec<[u32; 4]> = fields
            .iter()
            .map(|h| {
                names |= super::message::name_bit(h.name.as_bytes());
                let (n, v) = (span(h.name.as_bytes()), span(h.value));
                [n.0, n.1, v.0, v.1]
            })
            .collect();
        self.append_lines(lines, &places, names);
    }

    /// Parses an HTTP/1 response head; as `parse_request`.
    pub fn parse_response(&mut self, buf: &[u8]) -> Result<Option<usize>, ParseError> {
        self.parse_response_with(buf, &Limits::default())
    }

    /// [`Message::parse_response`] within `limits`; as [`Message::parse_request_with`].
    pub fn parse_response_with(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<usize>, ParseError> {
        match super::h1_fast::response(self, buf, limits.max_headers) {
            Some(n) => Ok(Some(n)),
            None => self.parse_response_slow(buf, limits),
        }
    }

    /// [`Message::parse_response_with`] by httparse alone, for what `h1_fast` leaves.
    pub(super) fn parse_response_slow(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<usize>, ParseError> {
        match self.parse_response_in(buf, buf, limits) {
            Err(ParseError::Invalid) => {
                match super::h1_relax::relax(buf, limits.accept_invalid, false) {
                    Some(copy) => self.parse_response_in(&copy, buf, limits),
                    None => Err(ParseError::Invalid),
                }
            }
            r => r,
        }
    }

    fn parse_response_in(
        &mut self,
        copy: &[u8],
        orig: &[u8],
        limits: &Limits,
    ) -> Result<Option<usize>, ParseError> {
        with_headers(limits, |headers| {
            let mut res = httparse::Response::new(&mut []);
            let parsed = httparse::ParserConfig::default()
                .parse_response_with_uninit_headers(&mut res, copy, headers);
            let Some(len) = status(parsed)? else {
                return Ok(None);
            };
            if too_many(res.headers, limits) {
                return Err(ParseError::TooManyHeaders);
            }
            self.clear();
            self.set_status(
                res.code.unwrap_or(502),
                res.reason.unwrap_or("").as_bytes(),
                Version::http1(res.version.unwrap_or(1)),
            );
            self.append_fields(res.headers, copy, orig, len);
            Ok(Some(len))
        })
    }

    /// Writes the request as an HTTP/1 head: `METHOD TARGET HTTP/1.x`, fields, blank line.
    /// An HTTP/1 target goes out as it came; a request from another protocol goes out in
    /// origin form as HTTP/1.1, with field names in lower case and `transfer-encoding` last
    /// (HAProxy's HTX names are lower case and its H1 output adds the framing field last).
    pub fn write_request(&self, out: &mut Vec<u8>) {
        self.write_request_cased(None, out)
    }

    /// [`Message::write_request`] with the names `case` lists in its case
    /// (`option h1-case-adjust-bogus-server`).
    pub fn write_request_cased(&self, case: Option<&CaseMap>, out: &mut Vec<u8>) {
        out.extend_from_slice(self.method());
        out.push(b' ');
        match self.version {
            Version::Http10 | Version::Http11 => out.extend_from_slice(self.target()),
            Version::Http2 if self.form == TargetForm::Authority => {
                out.extend_from_slice(self.authority())
            }
            Version::Http2 => out.extend_from_slice(self.uri()),
        }
        out.extend_from_slice(http1_version(
            self.version,
            b" HTTP/1.0\r\n",
            b" HTTP/1.1\r\n",
        ));
        if self.version == Version::Http2 {
            self.write_fields_from_h2(case, out);
        } else {
            self.write_fields_with(&[], case, out);
        }
    }

    fn write_fields_from_h2(&self, case: Option<&CaseMap>, out: &mut Vec<u8>) {
        let te = |m: &Message, f: &super::message::Field| {
            m.name(f).eq_ignore_ascii_case(b"transfer-encoding")
        };
        for last in [false, true] {
            for f in self.fields.iter().filter(|f| te(self, f) == last) {
                match case {
                    Some(c) => c.write(self.name(f), out),
                    None => out.extend(self.name(f).iter().map(u8::to_ascii_lowercase)),
                }
                out.extend_from_slice(b": ");
                out.extend_from_slice(self.value(f));
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Writes the response as an HTTP/1 head with the status line as received.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        self.write_response_with(&[], out)
    }

    /// As [`Message::write_response`], with `extra` fields after the head's own (what the
    /// codec adds for this connection, e.g. `connection: close`).
    pub fn write_response_with(&self, extra: &[(&[u8], &[u8])], out: &mut Vec<u8>) {
        self.write_response_cased(extra, None, out)
    }

    /// [`Message::write_response_with`] with the names `case` lists in its case
    /// (`option h1-case-adjust-bogus-client`).
    pub fn write_response_cased(
        &self,
        extra: &[(&[u8], &[u8])],
        case: Option<&CaseMap>,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(http1_version(self.version, b"HTTP/1.0 ", b"HTTP/1.1 "));
        let mut code = [b'0'; 3];
        let s = self.status.min(999);
        code[0] = b'0' + (s / 100) as u8;
        code[1] = b'0' + (s / 10 % 10) as u8;
        code[2] = b'0' + (s % 10) as u8;
        out.extend_from_slice(&code);
        out.push(b' ');
        out.extend_from_slice(self.reason());
        out.extend_from_slice(b"\r\n");
        self.write_fields_with(extra, case, out);
    }

    fn write_fields_with(
        &self,
        extra: &[(&[u8], &[u8])],
        case: Option<&CaseMap>,
        out: &mut Vec<u8>,
    ) {
        match case {
            Some(c) => {
                for f in &self.fields {
                    c.write(self.name(f), out);
                    out.extend_from_slice(b": ");
                    out.extend_from_slice(self.value(f));
                    out.extend_from_slice(b"\r\n");
                }
            }
            None => self.write_lines(out, |f, out| {
                out.extend_from_slice(self.name(f));
                out.extend_from_slice(b": ");
                out.extend_from_slice(self.value(f));
                out.extend_from_slice(b"\r\n");
            }),
        }
        for (name, value) in extra {
            match case {
                Some(c) => c.write(name, out),
                None => out.extend_from_slice(name),
            }
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// HTTP/1.0 stays 1.0; everything else is written as HTTP/1.1.
fn http1_version(v: Version, ten: &'static [u8], eleven: &'static [u8]) -> &'static [u8] {
    if v == Version::Http10 {
        ten
    } else {
        eleven
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rewrites_a_request() {
        let mut m = Message::new();
        let raw = b"GET http://x.example/a/b?q=1 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Foo\r\n\r\nBODY";
        let n = m.parse_request(raw).ok().flatten().unwrap_or(0);
        assert_eq!(&raw[n..], b"BODY");
        assert_eq!(m.path(), b"/a/b");
        assert_eq!(m.uri(), b"/a/b?q=1");
        assert_eq!(m.authority(), b"x.example");
        assert!(m.has_token(b"connection", b"foo"));
        m.remove(b"connection");
        m.append(b"X-Forwarded-For", b"1.2.3.4");
        let mut out = Vec::new();
        m.write_request(&mut out);
        assert_eq!(
            out,
            b"GET http://x.example/a/b?q=1 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n"
        );
    }

    #[test]
    fn versions_round_trip_and_other_protocols_go_out_as_http11() {
        let mut m = Message::new();
        let _ = m.parse_request(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(m.version, Version::Http10);
        let mut out = Vec::new();
        m.write_request(&mut out);
        assert_eq!(out, b"GET / HTTP/1.0\r\n\r\n");
        let _ = m.parse_response(b"HTTP/1.0 404 Not Here\r\nA: b\r\n\r\n");
        assert_eq!((m.status, m.reason()), (404, &b"Not Here"[..]));
        out.clear();
        m.write_response(&mut out);
        assert_eq!(out, b"HTTP/1.0 404 Not Here\r\nA: b\r\n\r\n");
        // As an HTTP/2 codec would fill it: origin form, HTTP/1.1, fields kept.
        m.clear();
        m.set_request(b"POST", b"https", b"x.example", b"/p?q", Version::Http2);
        m.append(b"host", b"x.example");
        m.append(b"transfer-encoding", b"chunked");
        m.append(b"X-Added", b"By-Rule");
        out.clear();
        m.write_request(&mut out);
        assert_eq!(
            out,
            &b"POST /p?q HTTP/1.1\r\nhost: x.example\r\nx-added: By-Rule\r\ntransfer-encoding: chunked\r\n\r\n"[..]
        );
        m.clear();
        m.set_status(204, b"", Version::Http2);
        out.clear();
        m.write_response(&mut out);
        assert_eq!(out, b"HTTP/1.1 204 \r\n\r\n");
    }

    #[test]
    fn partial_and_garbage() {
        let mut m = Message::new();
        assert_eq!(m.parse_request(b"GET / HTTP/1.1\r\nHost"), Ok(None));
        assert_eq!(
            m.parse_request(b"\x00\x01 garbage\r\n\r\n"),
            Err(ParseError::Invalid)
        );
    }
}

#[cfg(test)]
mod legacy_tests {
    use super::*;

    #[test]
    fn http09_and_legacy_versions_under_accept_invalid() {
        let loose = Limits {
            accept_invalid: true,
            ..Limits::default()
        };
        for (head, target, len, fields) in [
            (&b"GET /x\r\n\r\n"[..], &b"/x"[..], 8, 0),
            (b"GET /\r\n", b"/", 7, 0),
            (b"GET / HTTP/1.10\r\nHost: a\r\n\r\n", b"/", 28, 1),
            (b"GET / HTTP/10.1\r\nHost: a\r\n\r\n", b"/", 28, 1),
        ] {
            let mut m = Message::new();
            assert_eq!(
                m.parse_request_with(head, &Limits::default()),
                Err(ParseError::Invalid)
            );
            let mut m = Message::new();
            assert_eq!(
                m.parse_request_with(head, &loose),
                Ok(Some(len)),
                "{head:?}"
            );
            assert_eq!(m.version, Version::Http10);
            assert_eq!(m.target(), target);
            assert_eq!(m.has_header(b"host"), fields == 1);
        }
        let mut m = Message::new();
        assert_eq!(
            m.parse_request_with(b"POST /\r\n", &loose),
            Err(ParseError::Invalid)
        );
        assert_eq!(
            m.parse_request_with(b"GET / HTTP/1.10\r\nHost", &loose),
            Ok(None)
        );
    }
}
