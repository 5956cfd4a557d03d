//! What HAProxy 2.6's cache stores and serves, as pure functions of the messages and the
//! time: the key, the request's and the response's cacheability (`Cache-Control`, `Pragma`,
//! `Authorization`, `Expires`, validators, `Vary`), an object's lifetime (`s-maxage`,
//! `max-age`, `Expires`, capped by the section's `max-age`), and whether a conditional
//! request (`If-None-Match`, `If-Modified-Since`) is answered `304 Not Modified`.

use super::message::{trim, Message, Version};

/// The object key: the absolute URI when the request carries one, else `https://` + Host +
/// the request target (HAProxy hashes the same string). None without a Host.
pub fn key(req: &Message) -> Option<Vec<u8>> {
    if req.target().is_empty() {
        return None;
    }
    if !req.authority().is_empty() {
        return Some(req.target().to_vec());
    }
    let host = req.header(b"host")?;
    let mut k = b"https://".to_vec();
    k.extend_from_slice(host);
    k.extend_from_slice(req.target());
    Some(k)
}

/// The comma-separated values of every `name` field, trimmed.
fn values<'a>(m: &'a Message, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    m.headers(name)
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim)
        .filter(|v| !v.is_empty())
}

fn starts_with_ci(v: &[u8], prefix: &[u8]) -> bool {
    v.len() >= prefix.len() && v[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// HAProxy's transaction cache flags after the request (`TX_CACHEABLE`, `TX_CACHE_COOK`,
/// `TX_CACHE_IGNORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    /// The response may be stored.
    pub cacheable: bool,
    /// No `Set-Cookie` restriction (`no-cache="set-cookie"`) forbids storing it.
    pub cook: bool,
    /// The cache is not looked up for this request.
    pub ignore: bool,
}

/// Whether the request is HTTP/1.1 or later (HAProxy caches nothing for HTTP/1.0).
pub fn is_11(req: &Message) -> bool {
    req.version != Version::Http10
}

/// The request side: HTTP/1.1 GET or HEAD are looked up; `Authorization` neither looks up
/// nor stores; `Cache-Control: no-cache` (or `Pragma: no-cache` without `Cache-Control`)
/// does not look up; `no-store` does not store.
pub fn request(req: &Message) -> Flags {
    let method = req.method();
    let mut f = Flags {
        cacheable: true,
        cook: true,
        ignore: !is_11(req) || !(method == b"GET" || method == b"HEAD"),
    };
    let pragma = req
        .headers(b"pragma")
        .any(|v| starts_with_ci(trim(v), b"no-cache"));
    if req.has_header(b"authorization") {
        f.cacheable = false;
        f.cook = false;
        f.ignore = true;
    }
    let mut cc = false;
    for v in values(req, b"cache-control") {
        cc = true;
        if v.eq_ignore_ascii_case(b"no-cache") {
            f.ignore = true;
        } else if v.eq_ignore_ascii_case(b"no-store") {
            f.cacheable = false;
            f.cook = false;
        }
    }
    if pragma && !cc {
        f.ignore = true;
    }
    f
}

/// The response side (after the request's `flags`): whether the response may be stored.
/// Only `200` is stored, and only with an explicit lifetime (`max-age`, `s-maxage`,
/// `Expires`) or a validator (`ETag`, `Last-Modified`). `Vary` is the caller's
/// (`cache_vary`: never stored with `process-vary off`).
pub fn storable(flags: Flags, res: &Message) -> bool {
    if res.status != 200 {
        return false;
    }
    let (mut cacheable, mut cook) = (flags.cacheable, flags.cook);
    if res
        .header(b"pragma")
        .is_some_and(|v| trim(v).eq_ignore_ascii_case(b"no-cache"))
    {
        return false;
    }
    let mut fresh = false;
    for v in values(res, b"cache-control") {
        if v.eq_ignore_ascii_case(b"public") {
            cacheable = true;
            cook = true;
        } else if [
            &b"private"[..],
            b"no-cache",
            b"no-store",
            b"max-age=0",
            b"s-maxage=0",
        ]
        .iter()
        .any(|d| v.eq_ignore_ascii_case(d))
        {
            cacheable = false;
            cook = false;
        } else if starts_with_ci(v, b"no-cache=\"set-cookie") {
            cook = false;
        } else if starts_with_ci(v, b"s-maxage") || starts_with_ci(v, b"max-age") {
            fresh = true;
        }
    }
    let fresh = fresh || res.has_header(b"expires");
    let validator = res.has_header(b"etag") || res.has_header(b"last-modified");
    cacheable && cook && (fresh || validator)
}

/// An HTTP date as seconds since the epoch.
pub fn http_date(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(trim(v)).ok()?;
    let t = httpdate::parse_http_date(s).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// A directive's numeric value (`max-age=60`, `max-age="60"`); Err for a bad one.
fn directive(v: &[u8], name: &[u8]) -> Option<Result<i64, ()>> {
    if !starts_with_ci(v, name) || v.get(name.len()) != Some(&b'=') {
        return None;
    }
    let raw = &v[name.len() + 1..];
    let raw = raw.strip_prefix(b"\"").unwrap_or(raw);
    let digits: &[u8] = &raw[..raw.iter().take_while(|b| b.is_ascii_digit()).count()];
    Some(
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<i64>().ok())
            .ok_or(()),
    )
}

/// (how long the object stays, the response's own lifetime): `s-maxage`, else `max-age`,
/// else `Expires` - now, each capped by the section's `max_age`; the section's `max_age`
/// when the response says nothing (its own lifetime is then 0). A malformed value: (-1, 0).
pub fn lifetime(res: &Message, max_age: i64, now: i64) -> (i64, i64) {
    let (mut smaxage, mut maxage) = (-1i64, -1i64);
    for v in values(res, b"cache-control") {
        match directive(v, b"s-maxage") {
            Some(Ok(n)) => smaxage = n,
            Some(Err(())) => return (-1, 0),
            None => {}
        }
        match directive(v, b"max-age") {
            Some(Ok(n)) => maxage = n,
            Some(Err(())) => return (-1, 0),
            None => {}
        }
    }
    if smaxage > 0 {
        return (smaxage.min(max_age), smaxage);
    }
    if maxage > 0 {
        return (maxage.min(max_age), maxage);
    }
    if maxage == -1 && smaxage == -1 {
        if let Some(v) = res.header(b"expires") {
            // an invalid date is a date in the past (RFC 7234 5.3)
            let left = http_date(v).map(|t| (t - now).max(0)).unwrap_or(0);
            return (left.min(max_age), left);
        }
    }
    (max_age, 0)
}

/// The date an `If-Modified-Since` is compared with: `Last-Modified`, else `Date`, else now.
pub fn last_modified(res: &Message, now: i64) -> i64 {
    res.header(b"last-modified")
        .and_then(http_date)
        .or_else(|| res.header(b"date").and_then(http_date))
        .unwrap_or(now)
}

/// Strong or weak, ETags compare by their opaque part (the weak comparison of RFC 7232).
fn etag_eq(a: &[u8], b: &[u8]) -> bool {
    let strip = |t: &[u8]| -> Vec<u8> { trim(t).strip_prefix(b"W/").unwrap_or(trim(t)).to_vec() };
    strip(a) == strip(b)
}

/// Whether a stored object (`etag`, `last_modified`) answers this request `304`:
/// `If-None-Match` (`*` or a matching tag) wins; without it, `If-Modified-Since` not
/// earlier than the object's date.
pub fn not_modified(req: &Message, etag: Option<&[u8]>, last_modified: i64) -> bool {
    let mut inm = false;
    for v in values(req, b"if-none-match") {
        inm = true;
        if v == b"*" {
            return true;
        }
        match etag {
            Some(e) if etag_eq(e, v) => return true,
            Some(_) => {}
            None => break,
        }
    }
    if inm {
        return false;
    }
    req.header(b"if-modified-since")
        .and_then(http_date)
        .is_some_and(|ims| last_modified <= ims)
}

/// Methods after which a successful answer invalidates the stored object (RFC 7234 4.4).
pub fn unsafe_method(method: &[u8]) -> bool {
    ![&b"GET"[..], b"HEAD", b"OPTIONS", b"TRACE"].contains(&method)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Message {
        let mut m = Message::new();
        let r = m.parse_request(text.as_bytes());
        assert!(matches!(r, Ok(Some(_))), "request parses: {text}");
        m
    }

    fn res(text: &str) -> Message {
        let mut m = Message::new();
        let r = m.parse_response(text.as_bytes());
        assert!(matches!(r, Ok(Some(_))), "response parses: {text}");
        m
    }

    fn get(extra: &str) -> Message {
        req(&format!("GET /p?q=1 HTTP/1.1\r\nHost: h\r\n{extra}\r\n"))
    }

    fn ok(fields: &str) -> Message {
        res(&format!(
            "HTTP/1.1 200 OK\r\n{fields}content-length: 0\r\n\r\n"
        ))
    }

    #[test]
    fn key_is_https_host_and_target() {
        assert_eq!(key(&get("")).as_deref(), Some(&b"https://h/p?q=1"[..]));
        let abs = req("GET http://x/y HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(key(&abs).as_deref(), Some(&b"http://x/y"[..]));
        let hostless = req("GET /p HTTP/1.1\r\n\r\n");
        assert_eq!(key(&hostless), None);
    }

    #[test]
    fn request_flags() {
        let plain = request(&get(""));
        assert!(plain.cacheable && plain.cook && !plain.ignore);
        let auth = request(&get("Authorization: Basic eA==\r\n"));
        assert!(!auth.cacheable && auth.ignore);
        let nc = request(&get("Cache-Control: no-cache\r\n"));
        assert!(nc.cacheable && nc.ignore, "looked up no, stored yes");
        let ns = request(&get("Cache-Control: no-store\r\n"));
        assert!(!ns.cacheable && !ns.ignore);
        assert!(request(&get("Pragma: no-cache\r\n")).ignore);
        assert!(!request(&get("Pragma: no-cache\r\nCache-Control: max-age=5\r\n")).ignore);
        assert!(request(&req("GET / HTTP/1.0\r\nHost: h\r\n\r\n")).ignore);
        assert!(request(&req("POST / HTTP/1.1\r\nHost: h\r\n\r\n")).ignore);
        assert!(!request(&req("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")).ignore);
    }

    #[test]
    fn response_storability_as_haproxy() {
        let f = request(&get(""));
        let yes = [
            "Cache-Control: max-age=60\r\n",
            "Expires: Thu, 01 Jan 2099 00:00:00 GMT\r\n",
            "ETag: \"v1\"\r\n",
            "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n",
            "Cache-Control: max-age=60\r\nSet-Cookie: a=b\r\n",
            "Cache-Control: public, max-age=5\r\n",
        ];
        for y in yes {
            assert!(storable(f, &ok(y)), "stored: {y}");
        }
        let no = [
            "",
            "Cache-Control: public\r\n",
            "Cache-Control: private, max-age=60\r\n",
            "Cache-Control: no-store\r\n",
            "Cache-Control: s-maxage=0\r\n",
            "Cache-Control: max-age=0\r\n",
            "Pragma: no-cache\r\nCache-Control: max-age=60\r\n",
            "Cache-Control: no-cache=\"set-cookie\", max-age=60\r\n",
        ];
        for n in no {
            assert!(!storable(f, &ok(n)), "not stored: {n}");
        }
        let r404 = res("HTTP/1.1 404 Not Found\r\nCache-Control: max-age=60\r\n\r\n");
        assert!(!storable(f, &r404));
        // `public` lets the response of an authorized request be stored (as HAProxy)
        let auth = request(&get("Authorization: x\r\n"));
        assert!(!storable(auth, &ok("Cache-Control: max-age=60\r\n")));
        assert!(storable(auth, &ok("Cache-Control: public, max-age=60\r\n")));
    }

    #[test]
    fn lifetimes() {
        let now = 1_700_000_000;
        assert_eq!(
            lifetime(&ok("Cache-Control: max-age=30\r\n"), 60, now),
            (30, 30)
        );
        assert_eq!(
            lifetime(&ok("Cache-Control: max-age=300\r\n"), 60, now),
            (60, 300)
        );
        assert_eq!(
            lifetime(&ok("Cache-Control: max-age=30, s-maxage=10\r\n"), 60, now),
            (10, 10)
        );
        assert_eq!(
            lifetime(&ok("Cache-Control: max-age=\"20\"\r\n"), 60, now),
            (20, 20)
        );
        assert_eq!(
            lifetime(&ok("Cache-Control: max-age=x\r\n"), 60, now),
            (-1, 0)
        );
        assert_eq!(lifetime(&ok("ETag: \"a\"\r\n"), 60, now), (60, 0));
        let in40 = httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs((now + 40) as u64),
        );
        assert_eq!(
            lifetime(&ok(&format!("Expires: {in40}\r\n")), 60, now),
            (40, 40)
        );
        assert_eq!(lifetime(&ok("Expires: garbage\r\n"), 60, now), (0, 0));
    }

    #[test]
    fn conditional_requests() {
        let lm = http_date(b"Mon, 01 Jan 2024 00:00:00 GMT").expect("date");
        let e = Some(&b"\"v1\""[..]);
        assert!(not_modified(&get("If-None-Match: \"v1\"\r\n"), e, lm));
        assert!(not_modified(
            &get("If-None-Match: \"v0\", W/\"v1\"\r\n"),
            e,
            lm
        ));
        assert!(!not_modified(&get("If-None-Match: \"v2\"\r\n"), e, lm));
        assert!(not_modified(&get("If-None-Match: *\r\n"), None, lm));
        // If-None-Match present: If-Modified-Since is not looked at
        assert!(!not_modified(
            &get("If-None-Match: \"v2\"\r\nIf-Modified-Since: Tue, 02 Jan 2024 00:00:00 GMT\r\n"),
            e,
            lm
        ));
        assert!(not_modified(
            &get("If-Modified-Since: Tue, 02 Jan 2024 00:00:00 GMT\r\n"),
            None,
            lm
        ));
        assert!(not_modified(
            &get("If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT\r\n"),
            None,
            lm
        ));
        assert!(!not_modified(
            &get("If-Modified-Since: Sun, 31 Dec 2023 00:00:00 GMT\r\n"),
            None,
            lm
        ));
        assert!(!not_modified(&get(""), e, lm));
    }

    #[test]
    fn unsafe_methods() {
        assert!(unsafe_method(b"POST") && unsafe_method(b"DELETE") && unsafe_method(b"PUT"));
        assert!(!unsafe_method(b"GET") && !unsafe_method(b"OPTIONS"));
    }
}
