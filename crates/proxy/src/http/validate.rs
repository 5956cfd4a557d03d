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
//! After parsing, [`request`] refuses what HAProxy refuses with 400: `Host` headers that
//! disagree, a target whose authority (absolute-form, authority-form, or any target not
//! starting with `/`) differs from `Host` (ignoring case, user info and the scheme's default
//! port), `CONNECT` without an authority-form target, bytes outside visible ASCII or a `#` in
//! the target; and with 422 `chunked` after another transfer coding (`gzip, chunked`). An
//! HTTP/2 head made from `:authority` has only its target's bytes to check (the rest cannot
//! refuse it: `made_from_authority`).

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

/// The authority a request target names: the whole target for CONNECT; else the part after
/// `scheme://` (or the target's start) up to `/` (only: HAProxy 2.6 keeps `?` in it), without
/// user info. Empty for an origin-form or asterisk-form target.
fn authority(target: &[u8], connect: bool) -> &[u8] {
    if connect {
        return target;
    }
    if target.starts_with(b"/") || target == b"*" {
        return b"";
    }
    // A scheme is letters, digits, `+`, `-`, `.` (HAProxy does not ask for a letter first).
    let scheme = |s: &[u8]| {
        !s.is_empty()
            && s.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    };
    let rest = match scheme_end(target) {
        Some(p) if scheme(&target[..p]) => &target[p + 3..],
        _ => target,
    };
    let end = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
    let auth = &rest[..end];
    match auth.iter().rposition(|&c| c == b'@') {
        Some(at) => &auth[at + 1..],
        None => auth,
    }
}

/// Where the first `://` of `t` is (byte by byte: no slice comparison per position).
fn scheme_end(t: &[u8]) -> Option<usize> {
    (0..t.len().saturating_sub(2)).find(|&i| t[i] == b':' && t[i + 1] == b'/' && t[i + 2] == b'/')
}

/// `host:port` with a non-empty host and a decimal port (CONNECT's authority-form).
fn host_port(t: &[u8]) -> bool {
    match t.iter().rposition(|&c| c == b':') {
        Some(p) => {
            let port = &t[p + 1..];
            p > 0 && !port.is_empty() && port.len() <= 5 && port.iter().all(u8::is_ascii_digit)
        }
        None => false,
    }
}

/// `host[:port]` without the scheme's default port (`http` 80, `https` 443).
fn without_default_port<'a>(auth: &'a [u8], target: &[u8]) -> &'a [u8] {
    let default: &[u8] = if target.starts_with(b"http://") {
        b":80"
    } else if target.starts_with(b"https://") {
        b":443"
    } else {
        return auth;
    };
    auth.strip_suffix(default).unwrap_or(auth)
}

/// Whether the target holds a byte HAProxy refuses there (see [`request`]).
#[cfg(test)]
fn refused_byte(target: &[u8], accept_invalid: bool) -> bool {
    scan(target, accept_invalid) & REFUSED != 0
}

/// [`scan`]: the target holds a byte HAProxy refuses there.
const REFUSED: u8 = 1;
/// [`scan`]: the target holds an `@` (user info, when in its authority).
const AT: u8 = 2;

/// [`REFUSED`] and [`AT`] for `target`, in one pass. Every byte is looked at without an
/// early exit, so the loop is vectorized: a target is almost never refused, and a
/// byte-by-byte scan with a branch each cost ~13 instructions per byte.
fn scan(target: &[u8], accept_invalid: bool) -> u8 {
    let at = |c: u8| u8::from(c == b'@') << 1;
    if accept_invalid {
        target
            .iter()
            .fold(0, |f, &c| f | u8::from((c < 0x21) | (c == 0x7f)) | at(c))
    } else {
        target.iter().fold(0, |f, &c| {
            f | u8::from((c.wrapping_sub(0x21) >= 0x7f - 0x21) | (c == b'#')) | at(c)
        })
    }
}

/// HAProxy's checks of a parsed request head (measured against haproxy 2.6: see
/// `crates/fulcrum/tests/malformed_requests.rs`).
pub fn request(m: &Message, accept_invalid: bool) -> Result<(), Refused> {
    let bad = Err(Refused(400));
    let target = m.target();
    // Visible ASCII only, and no fragment (`#` is never sent in a request target); with
    // `option accept-invalid-http-request`, bytes above 127 and `#` pass, as in HAProxy.
    let scanned = scan(target, accept_invalid);
    if scanned & REFUSED != 0 {
        return bad;
    }
    if scanned & AT == 0 && made_from_authority(m) {
        // What the shortcut relies on (`made_from_authority`): the one `host` is the
        // target's authority.
        debug_assert!(
            {
                let mut hosts = m.headers(b"host");
                hosts.next() == Some(authority(target, false)) && hosts.next().is_none()
            },
            "an HTTP/2 head's host is its authority"
        );
        return Ok(());
    }
    head_checks(m, target)
}

/// [`request`] without its shortcut for HTTP/2 heads (`made_from_authority`): what the
/// shortcut is tested against.
#[cfg(test)]
pub(crate) fn request_fully_checked(m: &Message, accept_invalid: bool) -> Result<(), Refused> {
    if refused_byte(m.target(), accept_invalid) {
        return Err(Refused(400));
    }
    head_checks(m, m.target())
}

/// The checks of [`request`] after the target's bytes: hosts, CONNECT, the target's
/// authority against `Host`, transfer codings.
fn head_checks(m: &Message, target: &[u8]) -> Result<(), Refused> {
    let bad = Err(Refused(400));
    // Several Host headers: refused unless they all say the same.
    let mut hosts = m.headers(b"host").map(super::message::trim);
    let host = hosts.next();
    if let Some(h) = host {
        if hosts.any(|o| !o.eq_ignore_ascii_case(h)) {
            return bad;
        }
    }
    let connect = m.method().eq_ignore_ascii_case(b"CONNECT");
    if connect {
        // CONNECT takes authority-form only.
        let origin = target.starts_with(b"/") || target == b"*";
        if origin || scheme_end(target).is_some() {
            return bad;
        }
    }
    if connect && !host_port(target) {
        return bad;
    }
    // A target naming an authority must agree with Host (when there is one, even empty),
    // ignoring the scheme's default port.
    let raw = authority(target, connect);
    if let Some(h) = host {
        let (a, h) = (
            without_default_port(raw, target),
            without_default_port(h, target),
        );
        if !raw.is_empty() && h != a && !h.eq_ignore_ascii_case(a) {
            return bad;
        }
    }
    transfer_codings(m)
}

/// Whether `m` is an HTTP/2 request head as `http::h2::convert::request_message` makes it
/// from `:scheme`, `:authority` and a `:path` starting with `/` (not CONNECT). When its
/// target also holds no `@` (the caller's scan: its authority has no user info), the checks
/// after the target's bytes cannot refuse it, and are skipped. Its one `host` is the
/// authority itself (a `host` field received beside `:authority` is dropped), and the target
/// is `scheme://authority/path`, whose authority is the same bytes (a `:path` such as `*` or
/// `?x`, which the h2 crate lets through, would run into the authority: `https://t*`); the h2
/// crate refuses a received `transfer-encoding` (a connection-specific field), and the only
/// one the head gets is the `chunked` it is given for a body of unknown length.
fn made_from_authority(m: &Message) -> bool {
    m.version == super::message::Version::Http2
        && m.form == super::message::TargetForm::Absolute
        && m.target()
            .get(m.scheme().len() + 3 + m.authority().len())
            .is_none_or(|&c| c == b'/')
        && !m.method().eq_ignore_ascii_case(b"CONNECT")
}

/// `chunked` after another transfer coding (`gzip, chunked`): HAProxy 2.6 answers 422, as
/// it does not decode codings. (Other codings last, or `chunked` twice: 400, `body`.)
fn transfer_codings(m: &Message) -> Result<(), Refused> {
    let (mut n, mut chunked) = (0, 0);
    let mut last_chunked = false;
    for v in m.headers(b"transfer-encoding") {
        for part in v.split(|&c| c == b',') {
            // An empty element counts as a coding too (`,chunked`: 422 from HAProxy).
            n += 1;
            let p = super::message::trim(part);
            if !p.is_empty() {
                last_chunked = p.eq_ignore_ascii_case(b"chunked");
                chunked += usize::from(last_chunked);
            }
        }
    }
    if last_chunked && chunked == 1 && n > 1 {
        return Err(Refused(422));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(head: &[u8]) -> Message {
        let mut m = Message::new();
        assert!(matches!(m.parse_request(head), Ok(Some(_))), "{head:?}");
        m
    }

    /// Every byte, alone and inside a target, is refused exactly when HAProxy's rule says so.
    #[test]
    fn target_bytes_refused_as_haproxy() {
        for c in 0..=255u8 {
            let strict = !(0x21..0x7f).contains(&c) || c == b'#';
            let lax = c < 0x21 || c == 0x7f;
            for t in [
                vec![c],
                [&b"/a/b?c=d&e"[..], &[c], b"/tail-of-a-long-path"].concat(),
            ] {
                assert_eq!(refused_byte(&t, false), strict, "byte {c:#x}");
                assert_eq!(refused_byte(&t, true), lax, "byte {c:#x}, accept-invalid");
            }
        }
        assert!(!refused_byte(b"", false));
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
        let ok = |h: &[u8]| request(&parsed(h), false).is_ok();
        assert!(ok(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(ok(b"GET http://t/ HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(ok(b"GET * HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(ok(b"CONNECT t:80 HTTP/1.1\r\nHost: t:80\r\n\r\n"));
        assert!(ok(b"GET / HTTP/1.1\r\n\r\n"));
        assert!(ok(b"GET http://T:80/ HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(ok(b"GET http://u@t/ HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(ok(b"GET t:80 HTTP/1.1\r\nHost: t:80\r\n\r\n"));
        assert!(ok(b"GET @ HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(ok(b"GET / HTTP/1.1\r\nHost: t\r\nHost: T\r\n\r\n"));
        assert!(!ok(b"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n"));
        assert!(!ok(b"GET t:80 HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(!ok(b"GET H/T HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(!ok(b"GET ?/ HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(!ok(b"GET T/ HTTP/1.1\r\nHost: \r\n\r\n"));
        assert!(!ok(b"GET h@.ttp://u@t/ HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(ok(b"GET 1ttp://t/ HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(!ok(b"GET http://:80/ HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(!ok(b"CONNECT t:8H0 HTTP/1.1\r\n\r\n"));
        assert_eq!(
            request(&parsed(
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            ), false),
            Err(Refused(422))
        );
        assert!(ok(b"GET ?/ HTTP/1.1\r\n\r\n"));
        assert!(!ok(b"GET /a#b HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(!ok(b"CONNECT / HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert!(!ok(b"CONNECT t:80 HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!ok(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"));
        assert!(!ok(b"GET /\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
}
