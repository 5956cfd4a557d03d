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
}
