//! What HAProxy 2.6's HTTP/1 parser lets through under `option
//! accept-invalid-http-request|response` that httparse refuses, made parseable without
//! changing any length so that the parsed pieces can be read back from the original bytes at
//! the same offsets (`h1` does): any byte but CR/LF in a header name, bytes above 127 in a
//! request target, and control bytes (NUL, DEL...) in header values. Each such byte is
//! replaced by `x` in a copy; the caller parses the copy and takes the bytes back.
//! (HAProxy forwards control bytes in values even without the option; fulcrum refuses them
//! then, deliberately: RFC 9110 5.5, the README's malformed-request table.)

/// `HTTP_IS_TOKEN`: the bytes of a header name RFC 9110 allows.
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// A same-length copy of the head at the start of `buf` where what HAProxy tolerates reads
/// as httparse accepts it; `None` when nothing needs changing. `invalid_ok`: the proxy's
/// `option accept-invalid-http-*` (without it nothing is relaxed); `request`: `buf` starts
/// with a request line.
pub fn relax(buf: &[u8], invalid_ok: bool, request: bool) -> Option<Vec<u8>> {
    if !invalid_ok {
        return None;
    }
    let mut out: Option<Vec<u8>> = None;
    let mut set = |at: usize| out.get_or_insert_with(|| buf.to_vec())[at] = b'x';
    let mut start = 0;
    let mut first = true;
    while start < buf.len() {
        let Some(p) = buf[start..].iter().position(|&c| c == b'\n') else {
            break;
        };
        let end = start + p;
        let mut line = &buf[start..end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        if line.is_empty() {
            if first {
                // Empty lines before the start line are skipped, as HAProxy does.
                start = end + 1;
                continue;
            }
            break; // end of the head
        }
        if first {
            first = false;
            if request {
                // The target: between the first and the last space.
                if let (Some(a), Some(b)) = (
                    line.iter().position(|&c| c == b' '),
                    line.iter().rposition(|&c| c == b' '),
                ) {
                    for (i, &c) in line.iter().enumerate().take(b).skip(a + 1) {
                        if c >= 0x80 {
                            set(start + i);
                        }
                    }
                }
            }
        } else if !matches!(line[0], b' ' | b'\t') {
            // A field line (a continuation line is `validate::normalize`'s).
            let Some(colon) = line.iter().position(|&c| c == b':') else {
                break;
            };
            if colon > 0 {
                for (i, &c) in line[..colon].iter().enumerate() {
                    if !is_token(c) {
                        set(start + i);
                    }
                }
            }
            for (i, &c) in line.iter().enumerate().skip(colon + 1) {
                if (c < 0x20 && c != b'\t') || c == 0x7f {
                    set(start + i);
                }
            }
        }
        start = end + 1;
    }
    out
}

/// The request line of `buf` (after the empty lines HAProxy skips): (start, end) offsets,
/// `end` at its `\r` or `\n`, and the offset just past its line feed.
fn first_line(buf: &[u8]) -> Option<(usize, usize, usize)> {
    let mut start = 0;
    loop {
        let p = buf[start..].iter().position(|&c| c == b'\n')?;
        let mut end = start + p;
        let next = end + 1;
        if end > start && buf[end - 1] == b'\r' {
            end -= 1;
        }
        if end > start {
            return Some((start, end, next));
        }
        start = next;
    }
}

/// An HTTP/0.9 request under `option accept-invalid-http-request`: `GET TARGET` and the end of
/// the line, no version and no header fields. HAProxy 2.6 forwards it as `GET TARGET HTTP/1.0`
/// (and refuses any other method so written). Returns the target's range and the head's length.
pub fn http09(buf: &[u8]) -> Option<(std::ops::Range<usize>, usize)> {
    let (start, end, next) = first_line(buf)?;
    let line = &buf[start..end];
    let rest = line.strip_prefix(b"GET ")?;
    let target = rest.trim_ascii();
    if target.is_empty() || target.iter().any(|c| c.is_ascii_whitespace()) {
        return None;
    }
    let at = start + 4 + (rest.len() - rest.trim_ascii_start().len());
    Some((at..at + target.len(), next))
}

/// A request line whose version HAProxy 2.6 takes only under `option
/// accept-invalid-http-request` (`HTTP/1.10`, `HTTP/10.1`: `HTTP/` and digits or dots, not
/// `D.D`): rewritten in `copy` as `HTTP/1.0` (such a request is handled as HTTP/1.0, as
/// HAProxy does), the length kept by spaces before it (runs of spaces are accepted between
/// the words). False when there is no such version or it is shorter than `HTTP/1.0`.
pub fn legacy_version(copy: &mut [u8]) -> bool {
    let Some((start, end, _)) = first_line(copy) else {
        return false;
    };
    let Some(sp) = copy[start..end].iter().rposition(|&c| c == b' ') else {
        return false;
    };
    let v = start + sp + 1;
    let version = &copy[v..end];
    let odd = version.starts_with(b"HTTP/")
        && version.len() >= 8
        && version[5..]
            .iter()
            .all(|c| c.is_ascii_digit() || *c == b'.')
        && !(version.len() == 8
            && version[5].is_ascii_digit()
            && version[6] == b'.'
            && version[7].is_ascii_digit());
    if !odd {
        return false;
    }
    let pad = version.len() - 8;
    copy[v..v + pad].fill(b' ');
    copy[v + pad..end].copy_from_slice(b"HTTP/1.0");
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_targets_and_values_when_allowed() {
        let h = b"GET /a\x80 HTTP/1.1\r\nX(a): 1\r\nV: a\x01b\x7f\r\n\r\nBODY\x01";
        assert_eq!(relax(h, false, true), None);
        let loose = relax(h, true, true).unwrap_or_default();
        assert_eq!(
            loose,
            b"GET /ax HTTP/1.1\r\nXxax: 1\r\nV: axbx\r\n\r\nBODY\x01"
        );
        assert_eq!(relax(b"GET / HTTP/1.1\r\nA: b\r\n\r\n", true, true), None);
        // A status line is left alone; an empty name is not made up.
        assert_eq!(
            relax(b"HTTP/1.1 200 \x80\r\n: x\r\n\r\n", true, false),
            None
        );
    }

    #[test]
    fn http09_and_legacy_versions() {
        assert_eq!(http09(b"GET /a\r\n"), Some((4..6, 8)));
        assert_eq!(http09(b"\r\nGET  /a\n"), Some((7..9, 10)));
        assert_eq!(http09(b"POST /a\r\n"), None);
        assert_eq!(http09(b"GET /a HTTP/1.1\r\n"), None);
        assert_eq!(http09(b"GET \r\n"), None);
        assert_eq!(http09(b"GET /a"), None);
        for (line, want) in [
            (
                &b"GET / HTTP/1.10\r\nA: b\r\n\r\n"[..],
                &b"GET /  HTTP/1.0\r\nA: b\r\n\r\n"[..],
            ),
            (b"GET / HTTP/10.1\r\n\r\n", b"GET /  HTTP/1.0\r\n\r\n"),
            (b"GET / HTTP/1.234\n\n", b"GET /   HTTP/1.0\n\n"),
        ] {
            let mut copy = line.to_vec();
            assert!(legacy_version(&mut copy));
            assert_eq!(copy, want);
        }
        for line in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"GET / HTTP/1\r\n\r\n",
            b"GET / HTTX/1.10\r\n\r\n",
        ] {
            let mut copy = line.to_vec();
            assert!(!legacy_version(&mut copy));
        }
    }
}
