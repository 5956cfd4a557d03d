//! The cookie fetches as HAProxy 2.6 reads cookies (`http_extract_cookie_value`), measured
//! against haproxy 2.6.12: `req.cook`/`cook`, `req.cook_cnt`/`cook_cnt`, `req.cook_val`/
//! `cook_val` on `Cookie`, and `res.cook`/`scook`, `res.cook_cnt`/`scook_cnt`,
//! `res.cook_val`/`scook_val` on `Set-Cookie`.
//!
//! A header line is read as comma-separated values (outside quotes), each a list of
//! `name=value` pairs split at `;` (outside quotes); blanks around names and values are
//! dropped, a pair without `=` is no cookie, nor a `$name` (RFC 2109 attribute), a quoted
//! value keeps its quotes, and the scan stops where too little is left for `name=`. A `Set-Cookie` value holds one cookie and
//! its attributes: a named fetch reads its first pair (and the pairs of the same name right
//! after it), while without a name every pair counts, attributes too (haproxy 2.6.12:
//! `x=1; Path=/` counts 2).
//! Without a name `req.cook`/`res.cook`/`*_cook_val` give the first cookie's value, with
//! one the last occurrence's; the counts count every match; ACLs try every value.

use super::super::message::{trim, Message};

/// The values of cookie `name` (every cookie when `name` is empty) in `Cookie` (request,
/// `set_cookie` false) or `Set-Cookie` (response) lines, in order.
pub(super) fn cookies<'a>(m: &'a Message, set_cookie: bool, name: &[u8]) -> Vec<&'a [u8]> {
    let header: &[u8] = if set_cookie { b"set-cookie" } else { b"cookie" };
    let mut out = Vec::new();
    for line in m.headers(header) {
        // haproxy reads a header's comma-separated values one by one (each `Set-Cookie`
        // value is then a cookie and its attributes).
        for (_, part) in split_outside_quotes(line, b',') {
            let part = trim(part);
            for (at, pair) in split_outside_quotes(part, b';') {
                // haproxy stops where too little is left for `name=`
                if at + name.len() + 1 >= part.len() {
                    break;
                }
                let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                    continue; // no `=`: no cookie
                };
                let (k, v) = (trim(&pair[..eq]), trim(&pair[eq + 1..]));
                if k.first() == Some(&b'$') {
                    continue; // an RFC 2109 attribute, skipped in both directions
                }
                if name.is_empty() || k == name {
                    out.push(v);
                } else if set_cookie {
                    break; // attributes follow the cookie
                }
            }
        }
    }
    out
}

/// The pieces of `line` between `delim`s with their offsets, a double-quoted stretch (with
/// its backslash escapes) kept whole.
fn split_outside_quotes(line: &[u8], delim: u8) -> impl Iterator<Item = (usize, &[u8])> {
    let (mut quoted, mut escaped) = (false, false);
    let mut cuts = Vec::new();
    for (i, &b) in line.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted {
            match b {
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == delim {
            cuts.push(i);
        }
    }
    cuts.push(line.len());
    let mut start = 0;
    cuts.into_iter().map(move |end| {
        let at = start.min(end);
        start = end + 1;
        (at, &line[at..end])
    })
}

/// The value a single (non-ACL) fetch gives: the first without a name, else the last.
pub(super) fn one<'a>(values: &[&'a [u8]], name: &[u8]) -> Option<&'a [u8]> {
    if name.is_empty() {
        values.first().copied()
    } else {
        values.last().copied()
    }
}

/// HAProxy's `strl2ic`, which `*_cook_val` applies: decimal digits from the start, any byte
/// below `'0'` added as its (negative) difference, stopping at the first byte above `'9'`.
pub(super) fn int_value(v: &[u8]) -> i64 {
    let mut i: i32 = 0;
    if let Some((&b'-', rest)) = v.split_first() {
        for &c in rest {
            let j = i32::from(c) - i32::from(b'0');
            if j > 9 {
                break;
            }
            i = i.wrapping_mul(10).wrapping_sub(j);
        }
    } else {
        for &c in v {
            let j = i32::from(c) - i32::from(b'0');
            if j > 9 {
                break;
            }
            i = i.wrapping_mul(10).wrapping_add(j);
        }
    }
    i64::from(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(first: &str, field: &str, lines: &[&str]) -> Message {
        let mut raw = format!("{first}\r\nHost: h\r\n");
        for l in lines {
            raw.push_str(&format!("{field}: {l}\r\n"));
        }
        raw.push_str("\r\n");
        let mut m = Message::new();
        let parsed = if field == "Cookie" {
            m.parse_request(raw.as_bytes())
        } else {
            m.parse_response(raw.as_bytes())
        };
        assert!(matches!(parsed, Ok(Some(_))), "{raw}");
        m
    }

    fn req(lines: &[&str]) -> Message {
        message("GET / HTTP/1.1", "Cookie", lines)
    }

    fn res(lines: &[&str]) -> Message {
        message("HTTP/1.1 200 OK", "Set-Cookie", lines)
    }

    fn vals(m: &Message, set: bool, name: &str) -> Vec<String> {
        cookies(m, set, name.as_bytes())
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    // Each line: what haproxy 2.6.12 answered (see the module comment).
    #[test]
    fn request_cookies_as_haproxy() {
        let m = req(&["a=1; b=2; a=3", "c=4"]);
        assert_eq!(vals(&m, false, ""), ["1", "2", "3", "4"]);
        assert_eq!(vals(&m, false, "a"), ["1", "3"]);
        assert_eq!(vals(&req(&["a=1, b=2, c=3"]), false, "c"), ["3"]);
        assert_eq!(vals(&req(&["b; a=1"]), false, ""), ["1"]);
        assert_eq!(vals(&req(&["a = 1 ; b= 2"]), false, "b"), ["2"]);
        assert_eq!(vals(&req(&["a=\"q;x\"; b=2"]), false, ""), ["\"q;x\"", "2"]);
        assert_eq!(vals(&req(&["$Version=1; a=1"]), false, ""), ["1"]);
        assert_eq!(vals(&req(&["a=x=y; b"]), false, "a"), ["x=y"]);
        assert_eq!(vals(&req(&["a=; a=1"]), false, ""), ["", "1"]);
        assert_eq!(vals(&req(&["a="]), false, ""), [""]);
        assert!(vals(&req(&["a="]), false, "a").is_empty());
    }

    #[test]
    fn response_cookies_as_haproxy() {
        let m = res(&[
            "x=11; Path=/; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
            "y = 2 ; b=9",
            "noeq; x=5",
        ]);
        assert_eq!(vals(&m, true, "").len(), 6);
        assert_eq!(vals(&m, true, "")[0], "11");
        assert_eq!(vals(&m, true, "x"), ["11", "5"]);
        assert_eq!(vals(&m, true, "y"), ["2"]);
        assert!(vals(&m, true, "Path").is_empty());
        assert!(vals(&m, true, "b").is_empty());
        let m = res(&["a=1, b=2"]);
        assert_eq!(vals(&m, true, "b"), ["2"]);
        let m = res(&["$v=1; x=2"]);
        assert_eq!(vals(&m, true, ""), ["2"]);
        assert_eq!(vals(&m, true, "x"), ["2"]);
        let m = res(&["a=\"q;b=3\"; b=4"]);
        assert_eq!(vals(&m, true, ""), ["\"q;b=3\"", "4"]);
        assert!(vals(&m, true, "b").is_empty());
        assert_eq!(vals(&res(&["a=1; a=2; b=3"]), true, "a"), ["1", "2"]);
        let m = res(&["flag", "Path=/q"]);
        assert_eq!(vals(&m, true, "Path"), ["/q"]);
        assert_eq!(vals(&m, true, ""), ["/q"]);
    }

    #[test]
    fn cook_val_as_strl2ic() {
        assert_eq!(int_value(b"12"), 12);
        assert_eq!(int_value(b"\"q;x\""), -14);
        assert_eq!(int_value(b"x=y"), 0);
        assert_eq!(int_value(b""), 0);
        assert_eq!(int_value(b"-12a"), -12);
    }
}
