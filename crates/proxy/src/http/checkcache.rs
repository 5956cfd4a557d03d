//! `option checkcache`: an answer a shared cache could store that sets a cookie is not
//! forwarded, as HAProxy 2.6 (`http_check_response_for_cacheability` and the block in
//! `http_process_res_common`), measured against haproxy 2.6.12:
//! - the request is a GET or a HEAD, the status one of RFC 7231's cacheable-by-default
//!   codes (200 203 204 206 300 301 404 405 410 414 501);
//! - `Pragma: no-cache`, or a `Cache-Control` value `private`, `no-cache`, `no-store`,
//!   `max-age=0` or `s-maxage=0`, makes it uncacheable; `no-cache="set-cookie"` lets the
//!   cookie through;
//! - it needs freshness (`max-age`, `s-maxage`, `Expires`) or a validator (`ETag`,
//!   `Last-Modified`);
//! - and a `Set-Cookie` / `Set-Cookie2` header.
//!
//! HAProxy 2.6 then answers the error page of the *server's* status (its 200 page "Service
//! ready", a 404 page, the 500 page for codes without one), not the 502 its manual names:
//! fulcrum sends the same.

use crate::http::message::Message;

/// Whether `res`, the answer to a `method` request, is refused under `option checkcache`.
pub fn blocks(method: &[u8], res: &Message) -> bool {
    if method != b"GET" && method != b"HEAD" {
        return false;
    }
    if ![200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501].contains(&res.status) {
        return false;
    }
    if !res.has_header(b"set-cookie") && !res.has_header(b"set-cookie2") {
        return false;
    }
    if res
        .header(b"pragma")
        .is_some_and(|v| v.eq_ignore_ascii_case(b"no-cache"))
    {
        return false;
    }
    let (mut cookie_ok, mut fresh) = (true, false);
    for v in res
        .headers(b"cache-control")
        .flat_map(|v| v.split(|c| *c == b','))
        .map(crate::http::message::trim)
    {
        let lower = v.to_ascii_lowercase();
        match lower.as_slice() {
            b"private" | b"no-cache" | b"no-store" | b"max-age=0" | b"s-maxage=0" => return false,
            l if l.starts_with(b"no-cache=\"set-cookie") => cookie_ok = false,
            l if l.starts_with(b"s-maxage") || l.starts_with(b"max-age") => fresh = true,
            _ => {}
        }
    }
    fresh = fresh
        || res.has_header(b"expires")
        || res.has_header(b"etag")
        || res.has_header(b"last-modified");
    fresh && cookie_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(status: u16, headers: &[(&str, &str)]) -> Message {
        let mut m = Message::new();
        m.status = status;
        for (n, v) in headers {
            m.append(n.as_bytes(), v.as_bytes());
        }
        m
    }

    #[test]
    fn as_haproxy_2_6() {
        let ck = ("Set-Cookie", "a=1");
        let fresh = ("Cache-Control", "max-age=10");
        assert!(blocks(b"GET", &res(200, &[ck, fresh])));
        assert!(blocks(b"HEAD", &res(404, &[ck, fresh])));
        assert!(blocks(
            b"GET",
            &res(200, &[ck, ("Cache-Control", "public, MAX-AGE=5")])
        ));
        assert!(blocks(b"GET", &res(200, &[ck, ("Expires", "0")])));
        assert!(blocks(b"GET", &res(200, &[ck, ("ETag", "x")])));
        assert!(blocks(
            b"GET",
            &res(200, &[("Set-Cookie2", "a=1"), ("Expires", "1")])
        ));
        assert!(blocks(b"GET", &res(200, &[ck, fresh, ("Vary", "accept")])));
        // not cacheable, or no cookie
        assert!(!blocks(b"POST", &res(200, &[ck, fresh])));
        assert!(!blocks(b"GET", &res(302, &[ck, fresh])));
        assert!(!blocks(b"GET", &res(500, &[ck, fresh])));
        assert!(!blocks(b"GET", &res(200, &[ck])));
        assert!(!blocks(
            b"GET",
            &res(200, &[ck, ("Cache-Control", "public")])
        ));
        assert!(!blocks(b"GET", &res(200, &[fresh])));
        assert!(!blocks(
            b"GET",
            &res(200, &[ck, fresh, ("Cache-Control", "private")])
        ));
        assert!(!blocks(
            b"GET",
            &res(200, &[ck, ("Pragma", "no-cache"), ("Expires", "1")])
        ));
        assert!(!blocks(
            b"GET",
            &res(
                200,
                &[ck, fresh, ("Cache-Control", "no-cache=\"set-cookie\"")]
            )
        ));
        assert!(!blocks(
            b"GET",
            &res(
                200,
                &[
                    ck,
                    ("Cache-Control", "max-age=0"),
                    ("Cache-Control", "s-maxage=5")
                ]
            )
        ));
    }
}
