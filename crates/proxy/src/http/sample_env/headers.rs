//! Header fetches as HAProxy 2.6 answers them where fulcrum's plain header lookups would not:
//! `req.hdr_ip(NAME[,OCC])` / `hdr_ip`, a header value read as an address as its
//! `smp_fetch_hdr_ip` reads it — a whole dotted IPv4 address (its `url2ipv4`: up to three
//! digits an octet, leading zeros allowed), the same followed by `:PORT` (0-65535), or a
//! whole IPv6 address without brackets; anything else has no value — and the counts
//! `hdr_cnt`/`fhdr_cnt` without a name (every header, as its HTTP/1 parser keeps them), and
//! the header values every header fetch reads (`Connection` without `close`/`keep-alive`).

use crate::http::message::Message;
use fulcrum_sample::Value;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The address in header value `v`, if it is one.
pub(super) fn parse(v: &[u8]) -> Option<Value> {
    if let Some((a, len)) = url2ipv4(v) {
        if len == v.len() {
            return Some(Value::Ipv4(a));
        }
        if v[len] == b':' && port(&v[len + 1..]) {
            return Some(Value::Ipv4(a));
        }
    }
    std::str::from_utf8(v)
        .ok()?
        .parse::<Ipv6Addr>()
        .ok()
        .map(Value::Ipv6)
}

/// HAProxy's `strl2irc` then its range check: digits only (an optional sign), 0..=65535.
fn port(p: &[u8]) -> bool {
    let digits = p
        .strip_prefix(b"-")
        .or_else(|| p.strip_prefix(b"+"))
        .unwrap_or(p);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || p.first() == Some(&b'-') {
        // a negative port is out of range (`-0` too: HAProxy's check is `port >= 0`, so
        // it passes there; such a header is not worth a special case)
        return p == b"-0";
    }
    digits.len() <= 5
        && std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<u32>().ok())
            .is_some_and(|n| n <= 65535)
}

/// HAProxy's `url2ipv4`: the address at the start of `s` and how many bytes it took, or none
/// (fewer than four octets, an octet over 255, an empty octet, a fifth dot).
fn url2ipv4(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let mut octets = [0u16; 4];
    let (mut n, mut saw_digit, mut i) = (0usize, false, 0usize);
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_digit() {
            if !saw_digit {
                n += 1;
                if n > 4 {
                    return None;
                }
                saw_digit = true;
            }
            let v = octets[n - 1] * 10 + u16::from(c - b'0');
            if v > 255 {
                return None;
            }
            octets[n - 1] = v;
        } else if c == b'.' {
            if !saw_digit || n == 4 {
                return None;
            }
            saw_digit = false;
        } else {
            break;
        }
        i += 1;
    }
    if n < 4 {
        return None;
    }
    let b = |k: usize| octets[k] as u8;
    Some((Ipv4Addr::new(b(0), b(1), b(2), b(3)), i))
}

/// `hdr_cnt(NAME)`: the comma-separated values of header `name`; without a name, those of
/// every header (HAProxy's header search matches every header for an empty name) as its
/// HTTP/1 parser keeps them: `Connection` without `close`/`keep-alive`.
pub(super) fn hdr_cnt(m: &Message, name: &[u8]) -> i64 {
    if name.is_empty() {
        m.fields
            .iter()
            .map(
                |fl| match crate::payload::connection_kept(m.name(fl), m.value(fl)) {
                    Some(kept) => kept.len(),
                    None => m.value(fl).split(|&b| b == b',').count(),
                },
            )
            .map(|n| n as i64)
            .sum()
    } else {
        values(m, name, true).len() as i64
    }
}

/// `fhdr_cnt(NAME)`: the lines of header `name` (every header's without a name, as HAProxy's
/// HTTP/1 parser keeps them: a `Connection` line left empty is gone).
pub(super) fn fhdr_cnt(m: &Message, name: &[u8]) -> i64 {
    if name.is_empty() {
        m.fields
            .iter()
            .filter(|fl| {
                crate::payload::connection_kept(m.name(fl), m.value(fl))
                    .is_none_or(|kept| !kept.is_empty())
            })
            .count() as i64
    } else {
        values(m, name, false).len() as i64
    }
}

/// Whether `each` holds for any of [`values`], tried as they are found (not gathered first).
pub(super) fn any_value(
    m: &Message,
    name: &[u8],
    split: bool,
    each: &mut dyn FnMut(&[u8]) -> bool,
) -> bool {
    if name.len() == 10 && name.eq_ignore_ascii_case(b"connection") {
        values(m, name, split).into_iter().any(each)
    } else if split {
        use crate::http::message::{last_comma, trim};
        // a line without a comma (most) is one value: no split
        m.headers(name).any(|line| match last_comma(line) {
            None => each(trim(line)),
            Some(_) => line.split(|&b| b == b',').map(trim).any(&mut *each),
        })
    } else {
        m.headers(name).any(each)
    }
}

/// Header values split on commas (`hdr`), or whole lines (`fhdr`). `Connection` as HAProxy's
/// HTTP/1 parser keeps it: without its `close`/`keep-alive` tokens, a line left empty gone (a
/// line keeping several tokens is read as written).
pub(super) fn values<'a>(m: &'a Message, name: &'a [u8], split: bool) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let conn = name.eq_ignore_ascii_case(b"connection");
    for line in m.headers(name) {
        let tokens = line.split(|&b| b == b',').map(crate::http::message::trim);
        if !conn {
            if split {
                out.extend(tokens);
            } else {
                out.push(line);
            }
            continue;
        }
        let all = tokens.clone().count();
        let kept: Vec<&[u8]> = tokens
            .filter(|t| {
                !t.is_empty()
                    && !t.eq_ignore_ascii_case(b"close")
                    && !t.eq_ignore_ascii_case(b"keep-alive")
            })
            .collect();
        match (split, kept.len()) {
            (true, _) => out.extend(kept),
            (false, 0) => {}
            (false, 1) if all > 1 => out.push(kept[0]),
            (false, _) => out.push(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_haproxy_reads_them() {
        let v4 = |a: [u8; 4]| Some(Value::Ipv4(a.into()));
        assert_eq!(parse(b"192.168.1.1"), v4([192, 168, 1, 1]));
        assert_eq!(parse(b"192.168.001.010"), v4([192, 168, 1, 10]));
        assert_eq!(parse(b"192.168.1.1:8080"), v4([192, 168, 1, 1]));
        assert_eq!(parse(b"192.168.1.1:65535"), v4([192, 168, 1, 1]));
        assert_eq!(parse(b"192.168.1.1:65536"), None);
        assert_eq!(parse(b"192.168.1.1:"), None);
        assert_eq!(parse(b"192.168.1.1:x"), None);
        assert_eq!(parse(b"192.168.1"), None);
        assert_eq!(parse(b"192.168.1.256"), None);
        assert_eq!(parse(b"192.168.1.1."), None);
        assert_eq!(parse(b" 192.168.1.1"), None);
        assert_eq!(
            parse(b"2001:db8::1"),
            Some(Value::Ipv6("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(parse(b"[2001:db8::1]"), None);
        assert_eq!(
            parse(b"::ffff:1.2.3.4").map(|v| v.ty()),
            Some(fulcrum_sample::Type::Ipv6)
        );
    }
}
