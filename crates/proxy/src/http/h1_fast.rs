//! The HTTP/1 head parser's fast path: the usual head (one space between the request line's
//! words, `HTTP/1.0` or `HTTP/1.1`, field lines `name:value` ending in CRLF, a few dozen
//! fields) parsed in one pass straight into the [`Message`], its field lines copied in one
//! piece. Anything else (a partial head, a bare LF, a control byte, obs-text in a target, a
//! head with many fields...) says "not mine" and `super::h1` parses it with httparse as
//! before: what this path accepts, httparse accepts too and reads the same way (the tests
//! compare both), so HAProxy's rules keep living in one place.
//!
//! httparse cost ~2,200 instructions per proxied request (its request and its response) and
//! copying its fields into the message ~750 more (`bench/sample/instructions.sh`, bare).

use super::message::{name_bit, Message, Version};

/// Fields this path takes at most (more go to httparse).
const MAX_FIELDS: usize = 32;

/// RFC 9110's `tchar`: what a method and a field name are made of (httparse's token map).
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    t
};

/// The field lines of a head: each field's `[name start, name end, value start, value end]`
/// from the first line's start, and the summary of their names (`message::name_bit`).
struct Fields {
    places: [[u32; 4]; MAX_FIELDS],
    n: usize,
    names: u64,
}

/// A request head: `Some(len)` when this path parsed it (`len` bytes of head) into `m`;
/// `None` leaves `m` untouched for httparse. `max_headers`: `tune.http.maxhdr` (a head with
/// that many fields goes to httparse, which counts them as HAProxy does).
pub(super) fn request(m: &mut Message, buf: &[u8], max_headers: usize) -> Option<usize> {
    let method = token(buf, 0);
    if method == 0 || *buf.get(method)? != b' ' {
        return None;
    }
    let t = method + 1;
    let target = t + buf
        .get(t..)?
        .iter()
        .position(|&b| !matches!(b, 0x21..=0x7e))?;
    if target == t || buf[target] != b' ' {
        return None;
    }
    let version = match buf.get(target + 1..target + 11)? {
        b"HTTP/1.1\r\n" => Version::Http11,
        b"HTTP/1.0\r\n" => Version::Http10,
        _ => return None,
    };
    let from = target + 11;
    let mut f = Fields {
        places: [[0; 4]; MAX_FIELDS],
        n: 0,
        names: 0,
    };
    let len = fields(buf, from, &mut f)?;
    if f.n >= max_headers {
        return None;
    }
    m.clear();
    m.set_request_target(&buf[..method], &buf[t..target], version);
    m.append_lines(&buf[from..len], &f.places[..f.n], f.names);
    Some(len)
}

/// A response head; as [`request`].
pub(super) fn response(m: &mut Message, buf: &[u8], max_headers: usize) -> Option<usize> {
    let version = match buf.get(..9)? {
        b"HTTP/1.1 " => Version::Http11,
        b"HTTP/1.0 " => Version::Http10,
        _ => return None,
    };
    let code = buf.get(9..13)?;
    if !(code[..3].iter().all(u8::is_ascii_digit) && code[3] == b' ') {
        return None;
    }
    let status = code[..3]
        .iter()
        .fold(0u16, |s, &d| s * 10 + u16::from(d - b'0'));
    let end = 13
        + buf
            .get(13..)?
            .iter()
            .position(|&b| !matches!(b, b'\t' | 0x20..=0x7e))?;
    if buf.get(end..end + 2)? != b"\r\n" {
        return None;
    }
    let from = end + 2;
    let mut f = Fields {
        places: [[0; 4]; MAX_FIELDS],
        n: 0,
        names: 0,
    };
    let len = fields(buf, from, &mut f)?;
    if f.n >= max_headers {
        return None;
    }
    m.clear();
    m.set_status(status, &buf[13..end], version);
    m.append_lines(&buf[from..len], &f.places[..f.n], f.names);
    Some(len)
}

/// Where the token (method, field name) at `at` ends (`at` itself when there is none).
#[inline(always)]
fn token(buf: &[u8], at: usize) -> usize {
    let rest = buf.get(at..).unwrap_or_default();
    at + rest
        .iter()
        .position(|&b| !TOKEN[usize::from(b)])
        .unwrap_or(rest.len())
}

/// The field lines from `from` to the blank line ending the head, into `f`; the head's
/// length.
fn fields(buf: &[u8], from: usize, f: &mut Fields) -> Option<usize> {
    let mut at = from;
    loop {
        if *buf.get(at)? == b'\r' {
            return (*buf.get(at + 1)? == b'\n').then_some(at + 2);
        }
        let name = at;
        let colon = token(buf, at);
        if colon == name || *buf.get(colon)? != b':' {
            return None;
        }
        at = colon + 1;
        while matches!(*buf.get(at)?, b' ' | b'\t') {
            at += 1;
        }
        let value = at;
        let cr = value_end(buf, at)?;
        if *buf.get(cr + 1)? != b'\n' {
            return None;
        }
        // (trailing blanks are not the value's, as httparse reads it)
        let mut end = cr;
        while end > value && matches!(buf[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        let rel = |p: usize| (p - from) as u32;
        *f.places.get_mut(f.n)? = [rel(name), rel(colon), rel(value), rel(end)];
        f.n += 1;
        f.names |= name_bit(&buf[name..colon]);
        at = cr + 2;
    }
}

/// Where the field value from `at` ends (its CR), every byte before it a value's (HTAB, SP,
/// VCHAR, obs-text); `None` at another control byte or the end of `buf`. Eight bytes at a
/// time: a word's first byte below 0x20 or DEL is found at once (HTAB is passed over).
fn value_end(buf: &[u8], mut at: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x80 * ONES;
    while let Some(w) = buf.get(at..at + 8) {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let x = u64::from_le_bytes(b);
        // the bytes below 0x20, and the DEL bytes (zero bytes of `x ^ DEL`s): exact up to
        // the first one (a borrow only flags bytes above a true one)
        let low = x.wrapping_sub(0x20 * ONES) & !x & HIGH;
        let d = x ^ (0x7f * ONES);
        let del = d.wrapping_sub(ONES) & !d & HIGH;
        let flagged = low | del;
        if flagged == 0 {
            at += 8;
            continue;
        }
        let i = at + (flagged.trailing_zeros() / 8) as usize;
        match buf[i] {
            b'\r' => return Some(i),
            b'\t' => at = i + 1,
            _ => return None,
        }
    }
    loop {
        match *buf.get(at)? {
            b'\r' => return Some(at),
            b'\t' | 0x20..=0x7e | 0x80..=0xff => at += 1,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::h1::Limits;
    use super::*;

    /// What a parse gave: the length and the message as the proxy sees it.
    #[derive(Debug, PartialEq)]
    struct Seen {
        len: usize,
        start: [Vec<u8>; 3],
        version: Version,
        status: u16,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
    }

    fn seen(m: &Message, len: usize) -> Seen {
        Seen {
            len,
            start: [m.method(), m.target(), m.reason()].map(<[u8]>::to_vec),
            version: m.version,
            status: m.status,
            fields: m
                .fields
                .iter()
                .map(|f| (m.name(f).to_vec(), m.value(f).to_vec()))
                .collect(),
        }
    }

    /// Each head: parsed by this path as by httparse (`h1`'s slow path), or left to it.
    fn check(heads: &[&[u8]], response: bool, fast_expected: &[bool]) {
        for (head, fast_ok) in heads.iter().zip(fast_expected) {
            let mut fast = Message::new();
            let got = if response {
                super::response(&mut fast, head, 101)
            } else {
                super::request(&mut fast, head, 101)
            };
            assert_eq!(
                got.is_some(),
                *fast_ok,
                "{:?}",
                String::from_utf8_lossy(head)
            );
            let Some(n) = got else { continue };
            let mut slow = Message::new();
            let r = if response {
                slow.parse_response_slow(head, &Limits::default())
            } else {
                slow.parse_request_slow(head, &Limits::default())
            };
            assert_eq!(r, Ok(Some(n)), "{:?}", String::from_utf8_lossy(head));
            assert_eq!(seen(&fast, n), seen(&slow, n));
            let (mut a, mut b) = (Vec::new(), Vec::new());
            if response {
                fast.write_response(&mut a);
                slow.write_response(&mut b);
            } else {
                fast.write_request(&mut a);
                slow.write_request(&mut b);
            }
            assert_eq!(a, b);
            assert_eq!(fast.header(b"host"), slow.header(b"host"));
        }
    }

    #[test]
    fn requests_read_as_httparse_reads_them() {
        let heads: &[&[u8]] = &[
            b"GET /shop/item.html?id=7 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: h2load nghttp2/1.52.0\r\nAccept: */*\r\n\r\n",
            b"GET / HTTP/1.0\r\n\r\nBODY",
            b"POST http://x.example/a HTTP/1.1\r\nhost:x\r\nContent-Length: 3\r\n\r\nabc",
            b"GET / HTTP/1.1\r\nA:   spaced  \t \r\nB:\r\nC: \r\nD:\tx\ty\r\nE: caf\xc3\xa9 long enough value here\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: 0123456789abcdef0123456789abcdef\r\n\r\n",
            // left to httparse
            b"GET / HTTP/1.1\r\nHost: a\r\n",
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"GET  /  HTTP/1.1\r\n\r\n",
            b"\r\nGET / HTTP/1.1\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.2\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\n: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nA : x\r\n\r\n",
            b"GET / HTTP/1.1\r\n Folded: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: x\x7fyyyyyyyyyyyyyy\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: x\x01\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: x\ry\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: xxxxxxxxxxxxxxxxxxxx\nB: y\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r",
        ];
        let fast = [
            true, true, true, true, true, false, false, false, false, false, false, false, false,
            false, false, false, false, false, false, false,
        ];
        check(heads, false, &fast);
    }

    #[test]
    fn responses_read_as_httparse_reads_them() {
        let heads: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 08:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\nhello\n",
            b"HTTP/1.0 404 Not Here\r\nA: b\r\n\r\n",
            b"HTTP/1.1 204 \r\n\r\n",
            b"HTTP/1.1 200 with\ttab and trailing  \r\nX-Y: z\r\n\r\n",
            // left to httparse
            b"HTTP/1.1 200\r\n\r\n",
            b"HTTP/1.1 200 caf\xc3\xa9\r\n\r\n",
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            b"HTTP/2.0 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\r\n",
        ];
        let fast = [
            true, true, true, true, false, false, false, false, false, false,
        ];
        check(heads, true, &fast);
    }

    /// Heads made of random pieces (awkward bytes included): whatever this path accepts,
    /// httparse accepts and reads the same way.
    #[test]
    fn random_heads_read_as_httparse_reads_them() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let bytes: &[u8] = b"aZ09-_:; \t\r\n\x7f\x80\xff\x01/?#%";
        let mut accepted = [0usize; 2];
        for round in 0..40_000 {
            let response = round % 2 == 1;
            let mut head: Vec<u8> = Vec::new();
            let piece = |head: &mut Vec<u8>, next: &mut dyn FnMut(usize) -> usize, len: usize| {
                for _ in 0..next(len) {
                    if next(16) == 0 {
                        head.push(bytes[next(bytes.len())]);
                    } else {
                        head.push(b"abcXYZ-.~"[next(9)]);
                    }
                }
            };
            if response {
                head.extend_from_slice([&b"HTTP/1.1 "[..], b"HTTP/1.0 ", b"HTTP/1.1  "][next(3)]);
                head.extend_from_slice([&b"200 "[..], b"404 ", b"2x0 ", b"200"][next(4)]);
                piece(&mut head, &mut next, 6);
            } else {
                head.extend_from_slice([&b"GET "[..], b"POST ", b"G(T ", b" GET "][next(4)]);
                head.push(b'/');
                piece(&mut head, &mut next, 6);
                head.extend_from_slice([&b" HTTP/1.1"[..], b" HTTP/1.0", b" HTTP/1.2"][next(3)]);
            }
            head.extend_from_slice(b"\r\n");
            for _ in 0..next(5) {
                piece(&mut head, &mut next, 14);
                head.extend_from_slice([&b":"[..], b": ", b": ", b":\t ", b" :"][next(5)]);
                piece(&mut head, &mut next, 12);
                head.extend_from_slice([&b"\r\n"[..], b"\r\n", b" \r\n", b"\n"][next(4)]);
            }
            head.extend_from_slice([&b"\r\n"[..], b"\r\n", b"", b"\n", b"\r"][next(5)]);
            head.extend_from_slice(b"BODY");
            let mut fast = Message::new();
            let got = if response {
                super::response(&mut fast, &head, 101)
            } else {
                super::request(&mut fast, &head, 101)
            };
            let Some(n) = got else { continue };
            accepted[usize::from(response)] += 1;
            check(&[&head], response, &[true]);
            assert!(n <= head.len() - 4);
        }
        // (the pieces make both kinds of head often enough)
        assert!(accepted.iter().all(|&a| a > 500), "{accepted:?}");
    }

    #[test]
    fn many_fields_go_to_httparse() {
        // as many as this path takes, then one more
        let head = |n: usize| {
            let mut head = b"GET / HTTP/1.1\r\n".to_vec();
            for i in 0..n {
                head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
            }
            head.extend_from_slice(b"\r\n");
            head
        };
        let mut m = Message::new();
        let all = head(MAX_FIELDS);
        assert_eq!(super::request(&mut m, &all, 101), Some(all.len()));
        assert_eq!(m.fields.len(), MAX_FIELDS);
        let mut slow = Message::new();
        assert_eq!(
            slow.parse_request_slow(&head(MAX_FIELDS + 1), &Limits::default()),
            Ok(Some(head(MAX_FIELDS + 1).len()))
        );
        assert_eq!(super::request(&mut m, &head(MAX_FIELDS + 1), 101), None);
        assert_eq!(
            super::request(&mut m, b"GET / HTTP/1.1\r\nA: b\r\nC: d\r\n\r\n", 2),
            None
        );
        assert_eq!(
            super::request(&mut m, b"GET / HTTP/1.1\r\nA: b\r\nC: d\r\n\r\n", 3),
            Some(30)
        );
    }
}
