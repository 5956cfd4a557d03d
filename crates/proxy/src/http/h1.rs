//! The HTTP/1 codec: parses a request or response head off the wire into the
//! protocol-neutral [`Message`] (httparse, the target split into scheme, authority and path),
//! and writes a [`Message`] back as an HTTP/1 head. The session calls it at the edge only
//! (reading a head, sending one); an HTTP/2 codec would be a sibling producing and consuming
//! the same type. Limits: the caller's `tune.bufsize` and HAProxy's 101 header fields.

use super::message::{Message, TargetForm, Version};

/// HAProxy's `tune.http.maxhdr` default.
pub const MAX_HEADERS: usize = 101;

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not HTTP/1.x or not well formed.
    Invalid,
    /// More than `MAX_HEADERS` header fields.
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

impl Message {
    /// Parses an HTTP/1 request head from `buf`: `Ok(Some(len))` when complete (`len` bytes
    /// of head), `Ok(None)` when more bytes are needed.
    pub fn parse_request(&mut self, buf: &[u8]) -> Result<Option<usize>, ParseError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        // HAProxy accepts runs of spaces between the request line's words.
        let parsed = httparse::ParserConfig::default()
            .allow_multiple_spaces_in_request_line_delimiters(true)
            .parse_request(&mut req, buf);
        let Some(len) = status(parsed)? else {
            return Ok(None);
        };
        self.clear();
        self.set_request_target(
            req.method.unwrap_or("GET").as_bytes(),
            req.path.unwrap_or("/").as_bytes(),
            Version::http1(req.version.unwrap_or(1)),
        );
        for h in req.headers.iter() {
            self.append(h.name.as_bytes(), h.value);
        }
        Ok(Some(len))
    }

    /// Parses an HTTP/1 response head; as `parse_request`.
    pub fn parse_response(&mut self, buf: &[u8]) -> Result<Option<usize>, ParseError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut headers);
        let Some(len) = status(res.parse(buf))? else {
            return Ok(None);
        };
        self.clear();
        self.set_status(
            res.code.unwrap_or(502),
            res.reason.unwrap_or("").as_bytes(),
            Version::http1(res.version.unwrap_or(1)),
        );
        for h in res.headers.iter() {
            self.append(h.name.as_bytes(), h.value);
        }
        Ok(Some(len))
    }

    /// Writes the request as an HTTP/1 head: `METHOD TARGET HTTP/1.x`, fields, blank line.
    /// An HTTP/1 target goes out as it came; a request from another protocol goes out in
    /// origin form as HTTP/1.1, with field names in lower case and `transfer-encoding` last
    /// (HAProxy's HTX names are lower case and its H1 output adds the framing field last).
    pub fn write_request(&self, out: &mut Vec<u8>) {
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
            self.write_fields_from_h2(out);
        } else {
            self.write_fields(out);
        }
    }

    fn write_fields_from_h2(&self, out: &mut Vec<u8>) {
        let te = |m: &Message, f: &super::message::Field| {
            m.name(f).eq_ignore_ascii_case(b"transfer-encoding")
        };
        for last in [false, true] {
            for f in self.fields.iter().filter(|f| te(self, f) == last) {
                out.extend(self.name(f).iter().map(u8::to_ascii_lowercase));
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
        self.write_fields_with(extra, out);
    }

    fn write_fields(&self, out: &mut Vec<u8>) {
        self.write_fields_with(&[], out)
    }

    fn write_fields_with(&self, extra: &[(&[u8], &[u8])], out: &mut Vec<u8>) {
        for f in &self.fields {
            out.extend_from_slice(self.name(f));
            out.extend_from_slice(b": ");
            out.extend_from_slice(self.value(f));
            out.extend_from_slice(b"\r\n");
        }
        for (name, value) in extra {
            out.extend_from_slice(name);
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
