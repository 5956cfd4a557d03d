//! The protocol-neutral head of one HTTP message, request or response: what every phase,
//! rule, persistence hook, log line and counter reads and edits, whatever codec produced it.
//!
//! The model is HAProxy's HTX start line and pingora's `RequestHeader`: a request is a method,
//! a scheme, an authority and a path (what HTTP/2's `:method :scheme :authority :path` give,
//! and what an HTTP/1 request target splits into), a [`Version`] and header fields; a
//! response is a status, a reason and header fields. One type holds both directions, as HTX
//! does, so request and response rules share every header accessor.
//!
//! Codecs live at the edge and only produce and consume this type: `super::h1` parses and
//! writes HTTP/1 (httparse); an HTTP/2 codec (the `h2` crate) fills the same fields from
//! pseudo-headers with [`Message::set_request`]. Nothing above the codecs knows the wire.
//!
//! Storage is an arena: the head's bytes are copied once into `arena`, the start line and
//! the fields are byte ranges into it, so editing (rules, forwardfor, hop-by-hop removal)
//! never re-parses and a connection reuses the same allocations for every request.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct R {
    start: u32,
    end: u32,
}

impl R {
    fn sub(self, from: usize, to: usize) -> R {
        R {
            start: self.start + from as u32,
            end: self.start + to as u32,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: R,
    pub value: R,
}

/// The protocol version of a message, as the peer spoke it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Version {
    Http10,
    #[default]
    Http11,
    Http2,
}

impl Version {
    /// HTTP/1.`minor` (only 0 and 1 exist).
    pub fn http1(minor: u8) -> Version {
        if minor == 0 {
            Version::Http10
        } else {
            Version::Http11
        }
    }

    /// As HAProxy's `req.ver` / `res.ver` give it: `1.0`, `1.1`, `2.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "1.0",
            Version::Http11 => "1.1",
            Version::Http2 => "2.0",
        }
    }

    /// Whether this is HTTP/1.`minor`.
    pub fn is_http1(self, minor: u8) -> bool {
        matches!((self, minor), (Version::Http10, 0) | (Version::Http11, 1))
    }
}

/// How a request named its target, so a codec can write it back as it came.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query` (HTTP/1 origin form; an HTTP/2 `:path`).
    #[default]
    Origin,
    /// `scheme://authority/path?query` (HTTP/1 absolute form; HTTP/2 pseudo-headers).
    Absolute,
    /// `host:port` (HTTP/1 `CONNECT`).
    Authority,
    /// `*` (HTTP/1 `OPTIONS *`).
    Asterisk,
}

#[derive(Debug, Default, Clone)]
pub struct Message {
    arena: Vec<u8>,
    /// Request: the method.
    method: R,
    /// Request: the whole target, contiguous in the arena (`scheme://authority` + `path`).
    target: R,
    /// Request: sub-ranges of `target` (empty when the form has no such part).
    scheme: R,
    authority: R,
    /// Request: path and query (`:path`).
    path: R,
    /// Request: where the query's `?` is in `path` (its length when there is none), found
    /// once when the target is set: rules read `path` and `query` several times a request.
    query_at: u32,
    pub form: TargetForm,
    /// Response: the reason phrase.
    reason: R,
    pub version: Version,
    /// Response: the status code.
    pub status: u16,
    pub fields: Vec<Field>,
    /// The names the head may hold: bit [`name_bit`] of each field added (a removal clears
    /// none: a set bit says "maybe"), so looking for a name it lacks (`set-header`,
    /// `del-header` of a name the client did not send) scans no field.
    names: u64,
}

/// A name's bit in [`Message`]'s summary of its names: from its length, last and middle
/// bytes (names often share a prefix, `X-`), case-insensitive, mixed by a Fibonacci hash.
pub fn name_bit(name: &[u8]) -> u64 {
    let Some(&last) = name.last() else { return 1 };
    // `| 0x20`: a letter's two cases alike (what it does to other bytes, it does to both
    // spellings of a name)
    let byte = |b: u8| u64::from(b | 0x20);
    let key = (name.len() as u64) << 16 | byte(last) << 8 | byte(name[name.len() / 2]);
    1 << (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58)
}

/// A header name a rule gives (`set-header`, `del-header`), with its bit in the summary of
/// names found once, when the configuration is read.
#[derive(Debug, Clone)]
pub struct Name {
    bytes: Box<[u8]>,
    bit: u64,
}

impl Name {
    pub fn new(bytes: impl Into<Box<[u8]>>) -> Name {
        let bytes = bytes.into();
        Name {
            bit: name_bit(&bytes),
            bytes,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Message {
    pub fn new() -> Self {
        Message {
            arena: Vec::with_capacity(1024),
            fields: Vec::with_capacity(32),
            ..Default::default()
        }
    }

    /// Whether the head's storage is allocated (a pooled head, see `bufs`).
    pub fn holds_memory(&self) -> bool {
        self.arena.capacity() > 0
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

    /// Empties the head, keeping its allocations (codecs call this before filling it).
    pub fn clear(&mut self) {
        self.arena.clear();
        self.fields.clear();
        self.names = 0;
        self.method = R::default();
        self.target = R::default();
        self.scheme = R::default();
        self.authority = R::default();
        self.path = R::default();
        self.query_at = 0;
        self.form = TargetForm::Origin;
        self.reason = R::default();
        self.version = Version::Http11;
        self.status = 0;
    }

    /// Sets a request's start line from its parts (an HTTP/2 codec's pseudo-headers): the
    /// target becomes `scheme://authority` + `path` (absolute form, as HAProxy's HTX) when a
    /// scheme and authority are given, else `path`.
    pub fn set_request(
        &mut self,
        method: &[u8],
        scheme: &[u8],
        authority: &[u8],
        path: &[u8],
        version: Version,
    ) {
        self.method = self.push(method);
        let start = self.arena.len();
        if !scheme.is_empty() && !authority.is_empty() {
            self.scheme = self.push(scheme);
            self.push(b"://");
            self.authority = self.push(authority);
            self.form = TargetForm::Absolute;
        } else {
            self.form = TargetForm::Origin;
        }
        self.path = self.push(path);
        self.query_at = query_at(path);
        self.target = R {
            start: start as u32,
            end: self.arena.len() as u32,
        };
        self.version = version;
    }

    /// Sets a request's start line from an HTTP/1 request target, split into its parts.
    pub fn set_request_target(&mut self, method: &[u8], target: &[u8], version: Version) {
        self.method = self.push(method);
        let t = self.push(target);
        self.target = t;
        let (form, scheme, authority, path) = split_target(method, target);
        self.form = form;
        self.scheme = t.sub(scheme.0, scheme.1);
        self.authority = t.sub(authority.0, authority.1);
        self.path = t.sub(path.0, path.1);
        self.query_at = query_at(&target[path.0..path.1]);
        self.version = version;
    }

    /// Replaces a request's method (`set-method`).
    pub fn set_method(&mut self, method: &[u8]) {
        self.method = self.push(method);
    }

    /// Replaces a request's whole target (`set-uri`, `set-path`, ...), split into its parts
    /// again.
    pub fn set_target(&mut self, target: &[u8]) {
        let t = self.push(target);
        self.target = t;
        let (form, scheme, authority, path) = split_target(self.get(self.method), target);
        self.form = form;
        self.scheme = t.sub(scheme.0, scheme.1);
        self.authority = t.sub(authority.0, authority.1);
        self.path = t.sub(path.0, path.1);
        self.query_at = query_at(&target[path.0..path.1]);
    }

    /// Replaces a response's reason phrase (`set-status ... reason`).
    pub fn set_reason(&mut self, reason: &[u8]) {
        self.reason = self.push(reason);
    }

    /// Sets a response's status line.
    pub fn set_status(&mut self, status: u16, reason: &[u8], version: Version) {
        self.status = status;
        self.reason = self.push(reason);
        self.version = version;
    }

    pub fn method(&self) -> &[u8] {
        self.get(self.method)
    }
    /// The request target as the client wrote it (HTTP/1), or `scheme://authority/path`
    /// (HTTP/2): HAProxy's `url`.
    pub fn target(&self) -> &[u8] {
        self.get(self.target)
    }
    /// `http`, `https` or empty (origin form).
    pub fn scheme(&self) -> &[u8] {
        self.get(self.scheme)
    }
    /// `host[:port]` from the target (absolute or authority form), empty otherwise; the
    /// `Host` field is separate.
    pub fn authority(&self) -> &[u8] {
        self.get(self.authority)
    }
    /// Path and query, without scheme and authority (`:path`); `/` for `http://host`.
    pub fn uri(&self) -> &[u8] {
        if self.path.start == self.path.end && self.form == TargetForm::Absolute {
            return b"/";
        }
        self.get(self.path)
    }
    /// The path without the query: `http://host/p?q` gives `/p`.
    pub fn path(&self) -> &[u8] {
        if self.path.start == self.path.end && self.form == TargetForm::Absolute {
            return b"/";
        }
        self.get(self.path.sub(0, self.query_at as usize))
    }

    /// The query: what follows the target's first `?` (none without one).
    pub fn query(&self) -> Option<&[u8]> {
        let (p, len) = (self.path, self.path.end - self.path.start);
        if self.form == TargetForm::Authority {
            // (`CONNECT host:port`: no path, a `?` could only be in the authority)
            let t = self.target();
            return t.iter().position(|&b| b == b'?').map(|q| &t[q + 1..]);
        }
        (self.query_at < len).then(|| self.get(p.sub(self.query_at as usize + 1, len as usize)))
    }

    /// Response: the reason phrase.
    pub fn reason(&self) -> &[u8] {
        self.get(self.reason)
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

    /// Whether field `f` is named `name` (case-insensitive): the lengths first, then the
    /// last bytes, inline, so the fields of other lengths cost no byte comparison (rules scan
    /// the head per rule) and names of one length that share a prefix (`X-Api`, `X-Sum`)
    /// little more.
    #[inline(always)]
    fn named(arena: &[u8], f: &Field, name: &[u8]) -> bool {
        (f.name.end - f.name.start) as usize == name.len() && Self::named_as_long(arena, f, name)
    }

    /// [`Message::named`] of a field whose name is as long as `name`.
    #[inline(never)]
    fn named_as_long(arena: &[u8], f: &Field, name: &[u8]) -> bool {
        let (start, end) = (f.name.start as usize, f.name.end as usize);
        // folded a word at a time: no byte-for-byte comparison first (a `memcmp` call
        // costs as much as the folded one)
        fold_eq(&arena[start..end], name)
    }

    /// The fields that may be named `name` (none when the summary says it is not there).
    fn maybe_named(&self, name: &[u8]) -> &[Field] {
        self.maybe_with(name_bit(name))
    }

    /// [`Message::maybe_named`] of a name whose bit is `bit`.
    fn maybe_with(&self, bit: u64) -> &[Field] {
        if self.names & bit == 0 {
            &[]
        } else {
            &self.fields
        }
    }

    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.maybe_named(name)
            .iter()
            .find(|f| Self::named(&self.arena, f, name))
            .map(|f| self.get(f.value))
    }

    /// Last value of header `name` (case-insensitive), found from the end.
    pub fn last_header(&self, name: &[u8]) -> Option<&[u8]> {
        self.maybe_named(name)
            .iter()
            .rev()
            .find(|f| Self::named(&self.arena, f, name))
            .map(|f| self.get(f.value))
    }

    /// Every value of header `name`, in order.
    pub fn headers<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.maybe_named(name)
            .iter()
            .filter(move |f| Self::named(&self.arena, f, name))
            .map(move |f| self.get(f.value))
    }

    pub fn has_header(&self, name: &[u8]) -> bool {
        self.maybe_named(name)
            .iter()
            .any(|f| Self::named(&self.arena, f, name))
    }

    /// Whether a comma-separated token appears in any `name` header (e.g. `Connection: close`).
    pub fn has_token(&self, name: &[u8], token: &[u8]) -> bool {
        self.headers(name).any(|v| {
            v.split(|&c| c == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(token))
        })
    }

    pub fn remove(&mut self, name: &[u8]) {
        self.remove_with(name, name_bit(name));
    }

    fn remove_with(&mut self, name: &[u8], bit: u64) {
        let arena = &self.arena;
        if self
            .maybe_with(bit)
            .iter()
            .any(|f| Self::named(arena, f, name))
        {
            self.fields.retain(|f| !Self::named(arena, f, name));
        }
    }

    /// Keeps the fields whose name `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        let arena = &self.arena;
        self.fields
            .retain(|f| keep(&arena[f.name.start as usize..f.name.end as usize]));
    }

    pub fn append(&mut self, name: &[u8], value: &[u8]) {
        self.append_with(name, value, name_bit(name));
    }

    fn append_with(&mut self, name: &[u8], value: &[u8], bit: u64) {
        self.names |= bit;
        // stored as HTTP/1 writes it, `name: value\r\n`: the field is written in one copy
        // ([`Message::line`]), not four
        let name = self.push(name);
        self.arena.extend_from_slice(b": ");
        let value = self.push(value);
        self.arena.extend_from_slice(b"\r\n");
        self.fields.push(Field { name, value });
    }

    /// Appends the fields of a parsed head stored as they came: `lines` (the head's field
    /// lines, as received) copied into the arena in one piece, each field given as where its
    /// name and value are in `lines` (`[name start, name end, value start, value end]`), and
    /// `names` the [`name_bit`]s of their names. A field received as `name: value\r\n` is
    /// then written out in the same copy as its neighbours ([`Message::write_lines`]); one copy
    /// per head instead of four per field.
    pub fn append_lines(&mut self, lines: &[u8], places: &[[u32; 4]], names: u64) {
        let base = self.arena.len() as u32;
        self.arena.extend_from_slice(lines);
        self.names |= names;
        self.fields.extend(places.iter().map(|p| Field {
            name: R {
                start: base + p[0],
                end: base + p[1],
            },
            value: R {
                start: base + p[2],
                end: base + p[3],
            },
        }));
    }

    /// Where field `f` is stored as an HTTP/1 head line, `name: value\r\n` (a field as it was
    /// appended; one whose value was set since is not): the arena's range.
    #[inline(always)]
    fn line_span(&self, f: &Field) -> Option<(usize, usize)> {
        let (start, sep, end) = (
            f.name.start as usize,
            f.name.end as usize,
            f.value.end as usize + 2,
        );
        if f.value.start as usize != sep + 2 {
            return None;
        }
        match (self.arena.get(sep..sep + 2), self.arena.get(end - 2..end)) {
            (Some(b": "), Some(b"\r\n")) => Some((start, end)),
            _ => None,
        }
    }

    /// Writes the fields as HTTP/1 head lines: each run of fields stored one after the other
    /// as their lines (a parsed head's, the fields rules appended) in one copy, the others
    /// (a value set since) by `each`.
    pub fn write_lines(&self, out: &mut Vec<u8>, mut each: impl FnMut(&Field, &mut Vec<u8>)) {
        // the run not written yet (empty: `from == to`)
        let (mut from, mut to) = (0, 0);
        for f in &self.fields {
            match self.line_span(f) {
                Some((start, end)) if start == to => to = end,
                span => {
                    if from != to {
                        out.extend_from_slice(&self.arena[from..to]);
                    }
                    (from, to) = span.unwrap_or((0, 0));
                    if span.is_none() {
                        each(f, out);
                    }
                }
            }
        }
        if from != to {
            out.extend_from_slice(&self.arena[from..to]);
        }
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

    /// [`Message::remove`] of a rule's name.
    pub fn remove_name(&mut self, name: &Name) {
        self.remove_with(&name.bytes, name.bit);
    }

    /// [`Message::append`] of a rule's name.
    pub fn append_name(&mut self, name: &Name, value: &[u8]) {
        self.append_with(&name.bytes, value, name.bit);
    }

    /// [`Message::set`] of a rule's name.
    pub fn set_name(&mut self, name: &Name, value: &[u8]) {
        self.remove_with(&name.bytes, name.bit);
        self.append_with(&name.bytes, value, name.bit);
    }
}

/// A byte range, `(start, end)`.
pub type Span = (usize, usize);

/// `a.eq_ignore_ascii_case(b)` eight bytes at a time (std's is a step per byte): a call,
/// for the few fields that need it (a `Connection` field's tokens, a hop-by-hop name).
pub fn eq_fold(a: &[u8], b: &[u8]) -> bool {
    fold_eq(a, b)
}

/// [`eq_fold`] inline, where names are compared per field (header lookups: `Host` against
/// a rule's `host`).
#[inline(always)]
fn fold_eq(a: &[u8], b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // each byte `A`..=`Z` of `x` plus 0x20 (SWAR: no carry crosses a byte)
    let lower = |x: u64| {
        let low7 = x & (0x7f * ONES);
        let from_a = low7 + (0x80 - u64::from(b'A')) * ONES;
        let past_z = low7 + (0x80 - u64::from(b'Z') - 1) * ONES;
        x | ((from_a & !past_z & !x & (0x80 * ONES)) >> 2)
    };
    let word = |s: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        lower(u64::from_le_bytes(w))
    };
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 4 {
        return a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y));
    }
    if n < 8 {
        // the first four bytes and the last four (overlapping) in one word: `Host`,
        // `X-Api`, `Accept` cost one comparison, not a step per byte
        let half = |s: &[u8], i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&s[i..i + 4]);
            u64::from(u32::from_le_bytes(w))
        };
        let pair = |s: &[u8]| half(s, 0) | (half(s, n - 4) << 32);
        return lower(pair(a)) == lower(pair(b));
    }
    let mut i = 0;
    while i + 8 <= n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // the last eight bytes, overlapping what was compared
    i == n || word(a, n - 8) == word(b, n - 8)
}

/// Where a path's query starts (its `?`), or its length.
fn query_at(path: &[u8]) -> u32 {
    path.iter().position(|&c| c == b'?').unwrap_or(path.len()) as u32
}

/// Splits an HTTP/1 request target into (form, scheme, authority, path-and-query) spans.
fn split_target(method: &[u8], t: &[u8]) -> (TargetForm, Span, Span, Span) {
    let none = (0, 0);
    let scheme_len = if t.len() > 7 && t[..7].eq_ignore_ascii_case(b"http://") {
        4
    } else if t.len() > 8 && t[..8].eq_ignore_ascii_case(b"https://") {
        5
    } else if method == b"CONNECT" {
        return (
            TargetForm::Authority,
            none,
            (0, t.len()),
            (t.len(), t.len()),
        );
    } else if t == b"*" {
        return (TargetForm::Asterisk, none, none, (0, t.len()));
    } else {
        return (TargetForm::Origin, none, none, (0, t.len()));
    };
    let a = scheme_len + 3;
    let end = t[a..]
        .iter()
        .position(|&c| c == b'/' || c == b'?')
        .map_or(t.len(), |p| a + p);
    (
        TargetForm::Absolute,
        (0, scheme_len),
        (a, end),
        (end, t.len()),
    )
}

/// Where the last `,` of `v` is: `v.iter().rposition(|&b| b == b',')` a word at a time
/// (a header value's values are split on commas, and most values hold none: `Host`,
/// `User-Agent`; a step per byte cost ~3 instructions a byte).
pub fn last_comma(v: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // whether some byte of `w` is a comma (exact: a borrow only flags bytes above a true
    // zero byte, and then a true one is there too)
    let has = |w: u64| {
        let x = w ^ (u64::from(b',') * ONES);
        x.wrapping_sub(ONES) & !x & (0x80 * ONES) != 0
    };
    let mut end = v.len();
    while end >= 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&v[end - 8..end]);
        if has(u64::from_le_bytes(w)) {
            return v[end - 8..end]
                .iter()
                .rposition(|&b| b == b',')
                .map(|i| end - 8 + i);
        }
        end -= 8;
    }
    v[..end].iter().rposition(|&b| b == b',')
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
    fn an_appended_field_is_its_head_line_until_its_value_changes() {
        let mut m = Message::new();
        m.append(b"X-A", b"1");
        m.append(b"B", b"");
        let line = |m: &Message, i: usize| {
            m.line_span(&m.fields[i])
                .map(|(from, to)| m.arena[from..to].to_vec())
        };
        assert_eq!(line(&m, 0).as_deref(), Some(&b"X-A: 1\r\n"[..]));
        assert_eq!(line(&m, 1).as_deref(), Some(&b"B: \r\n"[..]));
        assert_eq!(m.header(b"x-a"), Some(&b"1"[..]));
        m.set_value_at(0, b"22");
        assert_eq!(line(&m, 0), None, "the value lives elsewhere now");
        let mut out = Vec::new();
        m.write_request(&mut out);
        assert!(out.ends_with(b"\r\nX-A: 22\r\nB: \r\n\r\n"), "{out:?}");
        // a removed field leaves a gap between runs
        m.append(b"C", b"3");
        m.append(b"D", b"4");
        m.remove(b"b");
        out.clear();
        m.write_request(&mut out);
        assert!(
            out.ends_with(b"\r\nX-A: 22\r\nC: 3\r\nD: 4\r\n\r\n"),
            "{out:?}"
        );
    }

    #[test]
    fn last_comma_as_rposition() {
        for len in 0usize..40 {
            let base: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert_eq!(last_comma(&base), None);
            for at in 0..len {
                for second in [None, Some(at / 2), Some(at.saturating_sub(9))] {
                    let mut v = base.clone();
                    v[at] = b',';
                    if let Some(s) = second {
                        v[s] = b',';
                    }
                    // bytes next to a comma's value in the word test: `-` (0x2d), `+`
                    if at + 1 < len {
                        v[at + 1] = b'-';
                    }
                    assert_eq!(
                        last_comma(&v),
                        v.iter().rposition(|&b| b == b','),
                        "{}",
                        String::from_utf8_lossy(&v)
                    );
                }
            }
        }
        assert_eq!(last_comma(b"a-b-c-d-e-f-g-h-i"), None);
    }

    /// The summary of names skips only names the head cannot hold: every lookup answers
    /// as a scan would, after additions, removals and a clear.
    #[test]
    fn name_summary_never_hides_a_field() {
        let mut m = Message::new();
        m.append(b"Host", b"h");
        m.append(b"X-Sum", b"1");
        assert_eq!(m.header(b"host"), Some(&b"h"[..]));
        assert_eq!(m.header(b"x-SUM"), Some(&b"1"[..]));
        assert_eq!(m.header(b"X-Api"), None);
        assert!(!m.has_header(b"X-Debug"));
        m.set(b"x-sum", b"2");
        assert_eq!(m.headers(b"X-Sum").collect::<Vec<_>>(), vec![&b"2"[..]]);
        m.remove(b"X-SUM");
        assert!(!m.has_header(b"X-Sum"));
        m.append(b"X-Sum", b"3");
        assert_eq!(m.header(b"x-sum"), Some(&b"3"[..]));
        m.clear();
        assert_eq!(m.header(b"Host"), None);
        m.append(b"", b"empty name");
        assert_eq!(m.header(b""), Some(&b"empty name"[..]));
        // a rule's name: its bit found once, the same answers
        let n = Name::new(&b"X-SUM"[..]);
        m.set_name(&n, b"4");
        m.append_name(&n, b"5");
        assert_eq!(
            m.headers(b"x-sum").collect::<Vec<_>>(),
            vec![&b"4"[..], b"5"]
        );
        m.set_name(&n, b"6");
        assert_eq!(m.last_header(b"X-Sum"), Some(&b"6"[..]));
        m.remove_name(&n);
        assert!(!m.has_header(b"x-sum"));
    }

    #[test]
    fn eq_fold_is_std_eq_ignore_ascii_case() {
        // every pair of bytes, first, middle and last, in names shorter than a word, of
        // one, longer than one and of two
        let base = b"x-Forwarded-Proto";
        for n in [1, 3, 4, 5, 7, 8, 9, 16, 17] {
            let (mut a, mut b) = (base[..n].to_vec(), base[..n].to_ascii_uppercase());
            for i in [0, n / 2, n - 1] {
                let (keep_a, keep_b) = (a[i], b[i]);
                for x in 0..=255u8 {
                    for y in 0..=255u8 {
                        a[i] = x;
                        b[i] = y;
                        assert_eq!(eq_fold(&a, &b), a.eq_ignore_ascii_case(&b), "{a:?} {b:?}");
                    }
                }
                (a[i], b[i]) = (keep_a, keep_b);
            }
        }
        assert!(!eq_fold(b"host", b"hos"));
    }

    /// Method, target; then the form, scheme, authority, `uri()` and `path()` expected.
    type Case<'a> = (
        &'a [u8],
        &'a [u8],
        TargetForm,
        &'a [u8],
        &'a [u8],
        &'a [u8],
        &'a [u8],
    );

    #[test]
    fn targets_split_into_scheme_authority_and_path() {
        let cases: &[Case] = &[
            (
                b"GET",
                b"/a/b?q=1",
                TargetForm::Origin,
                b"",
                b"",
                b"/a/b?q=1",
                b"/a/b",
            ),
            (
                b"GET",
                b"http://x.example/a/b?q=1",
                TargetForm::Absolute,
                b"http",
                b"x.example",
                b"/a/b?q=1",
                b"/a/b",
            ),
            (
                b"GET",
                b"HTTPS://x:8443?q",
                TargetForm::Absolute,
                b"HTTPS",
                b"x:8443",
                b"?q",
                b"",
            ),
            (
                b"GET",
                b"http://x",
                TargetForm::Absolute,
                b"http",
                b"x",
                b"/",
                b"/",
            ),
            (
                b"CONNECT",
                b"x.example:443",
                TargetForm::Authority,
                b"",
                b"x.example:443",
                b"",
                b"",
            ),
            (b"OPTIONS", b"*", TargetForm::Asterisk, b"", b"", b"*", b"*"),
        ];
        for &(method, target, form, scheme, authority, uri, path) in cases {
            let mut m = Message::new();
            m.set_request_target(method, target, Version::Http11);
            let shown = String::from_utf8_lossy(target);
            assert_eq!(m.form, form, "{shown}");
            assert_eq!(m.target(), target, "{shown}");
            assert_eq!(m.scheme(), scheme, "{shown}");
            assert_eq!(m.authority(), authority, "{shown}");
            assert_eq!(m.uri(), uri, "{shown}");
            assert_eq!(m.path(), path, "{shown}");
            // the query: what follows the target's first `?`, as a scan of it finds
            let q = target
                .iter()
                .position(|&b| b == b'?')
                .map(|q| &target[q + 1..]);
            assert_eq!(m.query(), q, "{shown}");
        }
        let mut m = Message::new();
        m.set_request_target(b"CONNECT", b"h?x:443", Version::Http11);
        assert_eq!(m.query(), Some(&b"x:443"[..]));
        m.clear();
        m.set_request(b"GET", b"https", b"h", b"/p?", Version::Http2);
        assert_eq!((m.path(), m.query()), (&b"/p"[..], Some(&b""[..])));
        m.set_target(b"/a?b?c");
        assert_eq!((m.path(), m.query()), (&b"/a"[..], Some(&b"b?c"[..])));
    }

    #[test]
    fn pseudo_headers_make_an_absolute_target() {
        let mut m = Message::new();
        m.set_request(b"GET", b"https", b"x.example", b"/p?q", Version::Http2);
        assert_eq!(m.target(), b"https://x.example/p?q");
        assert_eq!(
            (m.scheme(), m.authority()),
            (&b"https"[..], &b"x.example"[..])
        );
        assert_eq!((m.uri(), m.path()), (&b"/p?q"[..], &b"/p"[..]));
        assert_eq!(m.version.as_str(), "2.0");
        assert!(!m.version.is_http1(0) && !m.version.is_http1(1));
        m.clear();
        m.set_request(b"GET", b"", b"", b"/", Version::Http2);
        assert_eq!((m.form, m.target()), (TargetForm::Origin, &b"/"[..]));
    }
}
