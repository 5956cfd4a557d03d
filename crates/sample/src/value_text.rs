//! How a sample expression's value is written as text by a log-format string, as haproxy
//! 2.6.12 does (measured side by side, `crates/proxy/tests/value_encoding_haproxy.rs`):
//!
//! - in HTTP values (headers, request-line parts, `redirect location`, `return hdr` and
//!   `lf-string` bodies, `unique-id-format`) every control byte but TAB (0x00-0x08,
//!   0x0A-0x1F, 0x7F) is written `%XX` (upper-case hex), so a sample never ends a header
//!   line or the request line early; `+E` still backslash-escapes `"`, `\` and `]`; a binary
//!   sample is cut at its first NUL (haproxy's binary-to-string cast), a string's NUL is
//!   written `%00`;
//! - in log lines and `set-var-fmt` the bytes are written as they are, each value cut at
//!   its first NUL (haproxy copies it as a C string).

use crate::value::Value;

/// Whether haproxy's `http_encode_map` encodes `b`.
fn encoded(b: u8) -> bool {
    matches!(b, 0x00..=0x08 | 0x0a..=0x1f | 0x7f)
}

/// Whether some byte of `v` is [`encoded`]: eight bytes at a time (a header value is a few
/// words; a scan per byte, or a vector loop's set-up, cost more than the rest of writing it).
#[inline(always)]
fn any_encoded(v: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x80 * ONES;
    // a byte below 0x20 (TAB among them: the exact test then says) or a DEL
    let maybe = |w: u64| {
        let del = w ^ (0x7f * ONES);
        ((w.wrapping_sub(0x20 * ONES) & !w) | (del.wrapping_sub(ONES) & !del)) & HIGH != 0
    };
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&v[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let exact = |s: &[u8]| s.iter().any(|&b| encoded(b));
    if v.len() < 8 {
        return exact(v);
    }
    let mut i = 0;
    while i + 8 <= v.len() {
        if maybe(word(i)) && exact(&v[i..i + 8]) {
            return true;
        }
        i += 8;
    }
    // the last eight bytes, overlapping what was tested
    i < v.len() && maybe(word(v.len() - 8)) && exact(&v[v.len() - 8..])
}

/// Whether [`write_http`] without `+E` writes `v` otherwise than as it is.
pub fn needs_encoding(v: &[u8]) -> bool {
    any_encoded(v)
}

/// `v` up to its first NUL (a lent string's [`log_text`]).
pub fn to_nul(v: &[u8]) -> &[u8] {
    v.iter().position(|&b| b == 0).map_or(v, |p| &v[..p])
}

fn cut_at_nul(mut v: Vec<u8>) -> Vec<u8> {
    if let Some(p) = v.iter().position(|&b| b == 0) {
        v.truncate(p);
    }
    v
}

/// A value's text in a log line or `set-var-fmt`.
pub fn log_text(v: Value) -> Vec<u8> {
    cut_at_nul(v.into_bytes())
}

/// A value's text before [`write_http`]: a binary sample ends at its first NUL.
pub fn http_text(v: Value) -> Vec<u8> {
    match v {
        Value::Bin(b) => cut_at_nul(b),
        v => v.into_bytes(),
    }
}

/// Appends `v` to an HTTP value: control bytes `%XX`, and with `escape` (`+E`) a
/// backslash before `"`, `\` and `]`.
pub fn write_http(v: &[u8], escape: bool, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let special = |b: &u8| encoded(*b) || (escape && matches!(b, b'"' | b'\\' | b']'));
    // without `+E`, a scan of every byte without a branch (vectorised), not one per byte
    let plain = if escape {
        !v.iter().any(special)
    } else {
        !any_encoded(v)
    };
    if plain {
        // the common value: copied at once
        out.extend_from_slice(v);
        return;
    }
    for &b in v {
        if encoded(b) {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            if escape && matches!(b, b'"' | b'\\' | b']') {
                out.push(b'\\');
            }
            out.push(b);
        }
    }
}

/// An integer in decimal, appended to `out` (itoa: log lines and header values write several
/// per request, and `core::fmt` costs ~10x as much per number).
pub fn write_int<I: itoa::Integer>(out: &mut Vec<u8>, n: I) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// An IPv4 address in dotted decimal, appended to `out` (`Ipv4Addr`'s `Display` without the
/// formatter: `%[src]` in a header value, `%ci` in a log line): the digits made on the stack
/// and appended at once (a copy per octet cost twice as much).
pub fn write_v4(out: &mut Vec<u8>, a: std::net::Ipv4Addr) {
    let mut buf = [0u8; 15];
    let mut n = 0;
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + o / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    out.extend_from_slice(&buf[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(v: Value, escape: bool) -> Vec<u8> {
        let mut out = Vec::new();
        write_http(&http_text(v), escape, &mut out);
        out
    }

    #[test]
    fn v4_written_as_display_writes_it() {
        for a in [
            [0, 0, 0, 0],
            [127, 0, 0, 1],
            [10, 9, 99, 100],
            [255, 255, 255, 255],
            [192, 168, 101, 250],
            [1, 20, 200, 209],
        ] {
            let a = std::net::Ipv4Addr::from(a);
            let mut out = b"x=".to_vec();
            write_v4(&mut out, a);
            assert_eq!(out, format!("x={a}").into_bytes());
        }
    }

    #[test]
    fn http_values_encode_control_bytes_as_haproxy() {
        // haproxy 2.6.12: `x-in: p%0D%0ASet-Cookie: evil=1%00z%09t%7F%22%5C%5D` through
        // `url_dec` is sent `p%0D%0ASet-Cookie: evil=1%00z\tt%7F"\]`.
        let s = b"p\r\nSet-Cookie: evil=1\0z\tt\x7f\"\\]".to_vec();
        assert_eq!(
            http(Value::Str(s.clone()), false),
            b"p%0D%0ASet-Cookie: evil=1%00z\tt%7F\"\\]".to_vec()
        );
        assert_eq!(
            http(Value::Str(s), true),
            b"p%0D%0ASet-Cookie: evil=1%00z\tt%7F\\\"\\\\\\]".to_vec()
        );
        // bytes from 0x80 up are sent as they are
        assert_eq!(http(Value::Str(vec![0x80, 0xff]), false), vec![0x80, 0xff]);
        // `bin(41420043)` is sent `AB`, `bin(00)` as nothing; `req.body` `A\r\nB\0c`
        // as `A%0D%0AB`
        assert_eq!(http(Value::Bin(b"AB\0C".to_vec()), false), b"AB".to_vec());
        assert_eq!(http(Value::Bin(vec![0]), false), b"".to_vec());
        assert_eq!(
            http(Value::Bin(b"A\r\nB\0c".to_vec()), false),
            b"A%0D%0AB".to_vec()
        );
    }

    #[test]
    fn any_encoded_is_a_scan_of_every_byte() {
        // each byte at the start, middle and end of values of 1 to 17 bytes, on a plain
        // background and on one of bytes next to the ranges' edges
        for n in 1..=17 {
            for fill in [b'a', 0x21, 0x7e, 0x80, 0xff, b'\t'] {
                let mut v = vec![fill; n];
                for i in [0, n / 2, n - 1] {
                    for b in 0..=255u8 {
                        v[i] = b;
                        assert_eq!(any_encoded(&v), v.iter().any(|&b| encoded(b)), "{v:?}");
                    }
                    v[i] = fill;
                }
            }
        }
    }

    #[test]
    fn log_text_is_raw_up_to_the_first_nul() {
        // haproxy 2.6.12 logs `p\r\nSet-Cookie: evil=1` for that same value, and
        // `set-var-fmt` stores those 21 bytes.
        let s = b"p\r\nSet-Cookie: evil=1\0z".to_vec();
        assert_eq!(log_text(Value::Str(s)), b"p\r\nSet-Cookie: evil=1".to_vec());
    }
}
