//! One HTTP/1 message head (request or response) parsed into a reusable arena.
//!
//! The head's bytes are copied once into `arena`; the start line and header fields are byte
//! ranges into it, so editing (rules, forwardfor, hop-by-hop removal) never re-parses and a
//! connection reuses the same allocations for every request. Parsing is httparse; limits
//! (size, header count) are the caller's `tune.bufsize` and HAProxy's 101 headers.

/// HAProxy's `tune.http.maxhdr` default.
pub const MAX_HEADERS: usize = 101;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct R {
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: R,
    pub value: R,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not HTTP/1.x or not well formed.
    Invalid,
    /// More than `MAX_HEADERS` header fields.
    TooManyHeaders,
}

#[derive(Debug, Default)]
pub struct Message {
    arena: Vec<u8>,
    /// Request: method; response: unused.
    pub method: R,
    /// Request: target; response: reason phrase.
    pub target: R,
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    pub status: u16,
    pub fields: Vec<Field>,
}

impl Message {
    pub fn new() -> Self {
        Message {
            arena: Vec::with_capacity(1024),
            fields: Vec::with_capacity(32),
            ..Default::default()
        }
    }

    fn push(&mut self, bytes: &[u8]) -> R {
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(bytes);
        R {
            start,
            end: self.arena.len() as u32,
        }
    }

    pub fn get(&self, r: R) -> &[u8] {
        &self.arena[r.start as usize..r.end as usize]
    }

    fn reset(&mut self) {
        self.arena.clear();
        self.fields.clear();
        self.method = R::default();
        self.target = R::default();
        self.minor = 1;
        self.status = 0;
    }

    /// Parses a request head from `buf`: `Ok(Some(len))` when complete (`len` bytes of head),
    /// `Ok(None)` when more bytes are needed.
    pub fn parse_request(&mut self, buf: &[u8]) -> Result<Option<usize>, ParseError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        // HAProxy accepts runs of spaces between the request line's words.
        let len = match httparse::ParserConfig::default()
            .allow_multiple_spaces_in_request_line_delimiters(true)
            .parse_request(&mut req, buf)
        {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(ParseError::TooManyHeaders),
            Err(_) => return Err(ParseError::Invalid),
        };
        self.reset();
        let method = req.method.unwrap_or("GET").as_bytes();
        self.method = self.push(method);
        self.target = self.push(req.path.unwrap_or("/").as_bytes());
        self.minor = req.version.unwrap_or(1);
        for h in req.headers.iter() {
            let name = self.push(h.name.as_bytes());
            let value = self.push(h.value);
            self.fields.push(Field { name, value });
        }
        Ok(Some(len))
    }

    /// Parses a response head; as `parse_request`.
    pub fn parse_response(&mut self, buf: &[u8]) -> Result<Option<usize>, ParseError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut headers);
        let len = match res.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(ParseError::TooManyHeaders),
            Err(_) => return Err(ParseError::Invalid),
        };
        self.reset();
        self.status = res.code.unwrap_or(502);
        self.minor = res.version.unwrap_or(1);
        self.target = self.push(res.reason.unwrap_or("").as_bytes());
        for h in res.headers.iter() {
            let name = self.push(h.name.as_bytes());
            let value = self.push(h.value);
            self.fields.push(Field { name, value });
        }
        Ok(Some(len))
    }

    pub fn method(&self) -> &[u8] {
        self.get(self.method)
    }
    pub fn target(&self) -> &[u8] {
        self.get(self.target)
    }
    /// The path of the target: absolute-form `http://host/p?q` gives `/p?q`'s path `/p`.
    pub fn path(&self) -> &[u8] {
        let t = self.target();
        let t = strip_authority(t);
        match t.iter().position(|&c| c == b'?') {
            Some(q) => &t[..q],
            None => t,
        }
    }
    /// Path and query, without scheme and authority.
    pub fn uri(&self) -> &[u8] {
        strip_authority(self.target())
    }
    pub fn is_head(&self) -> bool {
        self.method().eq_ignore_ascii_case(b"HEAD")
    }

    pub fn name(&self, f: &Field) -> &[u8] {
        self.get(f.name)
    }
    pub fn value(&self, f: &Field) -> &[u8] {
        self.get(f.value)
    }

    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| self.get(f.name).eq_ignore_ascii_case(name))
            .map(|f| self.get(f.value))
    }

    /// Every value of header `name`, in order.
    pub fn headers<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |f| self.get(f.name).eq_ignore_ascii_case(name))
            .map(move |f| self.get(f.value))
    }

    pub fn has_header(&self, name: &[u8]) -> bool {
        self.fields
            .iter()
            .any(|f| self.get(f.name).eq_ignore_ascii_case(name))
    }

    /// Whether a comma-separated token appears in any `name` header (e.g. `Connection: close`).
    pub fn has_token(&self, name: &[u8], token: &[u8]) -> bool {
        self.headers(name).any(|v| {
            v.split(|&c| c == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(token))
        })
    }

    pub fn remove(&mut self, name: &[u8]) {
        let arena = &self.arena;
        self.fields.retain(|f| {
            !arena[f.name.start as usize..f.name.end as usize].eq_ignore_ascii_case(name)
        });
    }

    /// Keeps the fields whose name `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        let arena = &self.arena;
        self.fields
            .retain(|f| keep(&arena[f.name.start as usize..f.name.end as usize]));
    }

    pub fn append(&mut self, name: &[u8], value: &[u8]) {
        let name = self.push(name);
        let value = self.push(value);
        self.fields.push(Field { name, value });
    }

    /// Sets the value of the field at position `i` (no-op when out of range).
    pub fn set_value_at(&mut self, i: usize, value: &[u8]) {
        if i < self.fields.len() {
            let v = self.push(value);
            self.fields[i].value = v;
        }
    }

    /// Removes the fields at the given positions (any order; duplicates and out-of-range
    /// positions are ignored).
    pub fn remove_at(&mut self, mut positions: Vec<usize>) {
        positions.sort_unstable();
        positions.dedup();
        for i in positions.into_iter().rev() {
            if i < self.fields.len() {
                self.fields.remove(i);
            }
        }
    }

    pub fn set(&mut self, name: &[u8], value: &[u8]) {
        self.remove(name);
        self.append(name, value);
    }

    /// Serialises a request head: `METHOD TARGET HTTP/1.x`, fields, blank line.
    pub fn write_request(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.method());
        out.push(b' ');
        out.extend_from_slice(self.target());
        out.extend_from_slice(if self.minor == 0 {
            b" HTTP/1.0\r\n"
        } else {
            b" HTTP/1.1\r\n"
        });
        self.write_fields(out);
    }

    /// Serialises a response head with the status line as received.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.minor == 0 {
            b"HTTP/1.0 "
        } else {
            b"HTTP/1.1 "
        });
        let mut code = [b'0'; 3];
        let s = self.status.min(999);
        code[0] = b'0' + (s / 100) as u8;
        code[1] = b'0' + (s / 10 % 10) as u8;
        code[2] = b'0' + (s % 10) as u8;
        out.extend_from_slice(&code);
        out.push(b' ');
        out.extend_from_slice(self.target());
        out.extend_from_slice(b"\r\n");
        self.write_fields(out);
    }

    fn write_fields(&self, out: &mut Vec<u8>) {
        for f in &self.fields {
            out.extend_from_slice(self.get(f.name));
            out.extend_from_slice(b": ");
            out.extend_from_slice(self.get(f.value));
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

fn strip_authority(t: &[u8]) -> &[u8] {
    let rest = if t.len() > 7 && t[..7].eq_ignore_ascii_case(b"http://") {
        &t[7..]
    } else if t.len() > 8 && t[..8].eq_ignore_ascii_case(b"https://") {
        &t[8..]
    } else {
        return t;
    };
    match rest.iter().position(|&c| c == b'/' || c == b'?') {
        Some(p) if rest[p] == b'/' => &rest[p..],
        Some(p) => &rest[p..],
        None => b"/",
    }
}

pub fn trim(v: &[u8]) -> &[u8] {
    let s = v
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(v.len());
    let e = v
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |p| p + 1);
    &v[s..e.max(s)]
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
    fn partial_and_garbage() {
        let mut m = Message::new();
        assert_eq!(m.parse_request(b"GET / HTTP/1.1\r\nHost"), Ok(None));
        assert_eq!(
            m.parse_request(b"\x00\x01 garbage\r\n\r\n"),
            Err(ParseError::Invalid)
        );
    }
}
