//! What HAProxy 2.6 accepts in a request head and what it refuses, beyond httparse's grammar
//! (issue 19 item 2; the README's malformed-request table is produced by a test that sends each
//! case to `haproxy` and to fulcrum).
//!
//! Two steps. Before parsing, [`normalize`] makes the tolerated forms httparse would refuse
//! parseable without changing any length (so offsets in the client's buffer stay true):
//! obs-fold (a header line continued on the next line after SP/HTAB) becomes spaces, as
//! RFC 9112 5.2 allows and HAProxy does; `HTTP/1.x` with x > 1 is taken as `HTTP/1.1` (RFC
//! 9112 2.3: a higher minor version is answered as the highest supported one). A major
//! version other than 1 is refused with 505 (HAProxy forwards it; RFC 9110 15.6.6).
//! After parsing, [`request`] refuses what HAProxy refuses with 400: more than one `Host`, an
//! absolute-form target whose authority differs from `Host`, an authority-form target outside
//! `CONNECT` (and `CONNECT` without one), bytes outside visible ASCII in the target.

use super::message::Message;

/// Why a request head is refused: the status to answer (the connection is closed after).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub u16);

/// End of the head in `buf` (index after the empty line), if complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = buf[i..].iter().position(|&c| c == b'\n') {
        let at = i + p;
        let rest = &buf[at + 1..];
        if rest.first() == Some(&b'\n') {
            return Some(at + 2);
        }
        if rest.starts_with(b"\r\n") {
            return Some(at + 3);
        }
        i = at + 1;
    }
    None
}

/// A same-length copy of the head at the start of `buf` (and of the bytes after it, unchanged)
/// where obs-folds are spaces and `HTTP/1.x` (x > 1) reads `HTTP/1.1`; `Ok(None)` when there is
/// nothing to change; `Err(505)` for a major version other than 1.
pub fn normalize(buf: &[u8]) -> Result<Option<Vec<u8>>, Refused> {
    let end = head_end(buf).unwrap_or(buf.len());
    let line_end = buf[..end].iter().position(|&c| c == b'\n').unwrap_or(end);
    let mut line = &buf[..line_end];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let mut out: Option<Vec<u8>> = None;
    // The version: the last word of a complete request line.
    if line_end < end {
        if let Some(v) = line
            .rsplit(|&c| c == b' ')
            .next()
            .filter(|v| v.len() == 8 && v.starts_with(b"HTTP/") && v[6] == b'.')
        {
            let (major, minor) = (v[5], v[7]);
            if major.is_ascii_digit() && minor.is_ascii_digit() {
                if major != b'1' {
                    return Err(Refused(505));
                }
                if minor > b'1' {
                    let at = line.len() - 1;
                    out.get_or_insert_with(|| buf.to_vec())[at] = b'1';
                }
            }
        }
    }
    // obs-fold: a line of the header section starting with SP or HTAB after a field line (a
    // continued request line is no fold: httparse refuses it, as HAProxy does).
    let mut i = line_end + 1;
    while i < end {
        let Some(p) = buf[i..end].iter().position(|&c| c == b'\n') else {
            break;
        };
        let nl = i + p;
        let next = nl + 1;
        if next < end && matches!(buf[next], b' ' | b'\t') {
            let o = out.get_or_insert_with(|| buf.to_vec());
            o[nl] = b' ';
            if nl > 0 && buf[nl - 1] == b'\r' {
                o[nl - 1] = b' ';
            }
        }
        i = next;
    }
    Ok(out)
}

/// HAProxy's checks of a parsed request head.
pub fn request(m: &Message) -> Result<(), Refused> {
    let bad = Err(Refused(400));
    let target = m.target();
    if target.iter().any(|&c| !(0x21..0x7f).contains(&c)) {
        return bad;
    }
    let mut hosts = m.headers(b"host");
    let host = hosts.next();
    if hosts.next().is_some() {
        return bad;
    }
    let connect = m.method().eq_ignore_ascii_case(b"CONNECT");
    let origin = target.starts_with(b"/") || target == b"*";
    let absolute = target
        .iter()
        .position(|&c| c == b':')
        .is_some_and(|p| target[p..].starts_with(b"://") && p > 0);
    if connect {
        // CONNECT takes authority-form only.
        return if origin || absolute { bad } else { Ok(()) };
    }
    if absolute {
        let rest = &target[target.iter().position(|&c| c == b':').unwrap_or(0) + 3..];
        let auth_end = rest
            .iter()
            .position(|&c| matches!(c, b'/' | b'?' | b'#'))
            .unwrap_or(rest.len());
        let authority = &rest[..auth_end];
        if authority.is_empty() {
            return bad;
        }
        if let Some(h) = host {
            if !super::message::trim(h).eq_ignore_ascii_case(authority) {
                return bad;
            }
        }
        return Ok(());
    }
    if origin {
        Ok(())
    } else {
        // Authority-form (or anything else) outside CONNECT.
        bad
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(head: &[u8]) -> Message {
        let mut m = Message::new();
        assert!(matches!(m.parse_request(head), Ok(Some(_))), "{head:?}");
        m
    }

    #[test]
    fn obs_fold_becomes_spaces_with_the_same_length() {
        let h = b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n  b\r\n\r\nbody\r\n x";
        let n = normalize(h).expect("ok").expect("changed");
        assert_eq!(n.len(), h.len());
        assert_eq!(
            &n[..],
            &b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a    b\r\n\r\nbody\r\n x"[..]
        );
        assert_eq!(normalize(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"), Ok(None));
    }

    #[test]
    fn versions() {
        let n = normalize(b"GET / HTTP/1.2\r\nHost: t\r\n\r\n")
            .expect("ok")
            .expect("changed");
        assert!(n.starts_with(b"GET / HTTP/1.1\r\n"));
        assert_eq!(
            normalize(b"GET / HTTP/2.0\r\nHost: t\r\n\r\n"),
            Err(Refused(505))
        );
        // A partial request line is left alone.
        assert_eq!(normalize(b"GET / HTTP/2.0"), Ok(None));
    }

    #[test]
    fn targets_and_hosts() {
        let ok = |h: &[u8]| request(&parsed(h)).is_ok();
        assert!(ok(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(ok(b"GET http://t/ HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(ok(b"GET * HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(ok(b"CONNECT t:80 HTTP/1.1\r\nHost: t:80\r\n\r\n"));
        assert!(ok(b"GET / HTTP/1.1\r\n\r\n"));
        assert!(!ok(b"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n"));
        assert!(!ok(b"GET t:80 HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(!ok(b"CONNECT / HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(!ok(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"));
        assert!(!ok(b"GET /\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
}
