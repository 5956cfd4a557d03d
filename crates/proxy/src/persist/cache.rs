//! Whether a response is cacheable by a shared cache, as HAProxy decides it for `cookie ...
//! nocache` (and `option checkcache`): only then does an inserted cookie come with
//! `Cache-control: private`. Rules, each checked against haproxy 2.6:
//! - the request method is GET or HEAD;
//! - the status is one of 200 203 204 206 300 301 404 405 410 414 501;
//! - `Cache-Control` has none of private, no-cache, no-store, max-age=0, s-maxage=0
//!   (`no-cache="set-cookie"` does not count); without Cache-Control, `Pragma: no-cache`
//!   makes it uncacheable;
//! - and it carries freshness (`Expires`, `max-age`/`s-maxage`) or a validator
//!   (`Last-Modified`, `ETag`): a bare 200 is not considered cacheable.

use super::Headers;

pub fn cacheable_method(method: &[u8]) -> bool {
    method == b"GET" || method == b"HEAD"
}

pub fn response_cacheable(method: &[u8], status: u16, headers: &Headers<'_>) -> bool {
    if !cacheable_method(method) {
        return false;
    }
    if !matches!(
        status,
        200 | 203 | 204 | 206 | 300 | 301 | 404 | 405 | 410 | 414 | 501
    ) {
        return false;
    }
    let mut cc_found = false;
    let mut pragma_no_cache = false;
    let mut fresh = false;
    let mut validator = false;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case(b"cache-control") {
            cc_found = true;
            for token in value.split(|&b| b == b',') {
                let t = token.trim_ascii();
                let lower = t.to_ascii_lowercase();
                match lower.as_slice() {
                    b"private" | b"no-cache" | b"no-store" | b"max-age=0" | b"s-maxage=0" => {
                        return false
                    }
                    _ if lower.starts_with(b"max-age=") || lower.starts_with(b"s-maxage=") => {
                        fresh = true
                    }
                    _ => {}
                }
            }
        } else if name.eq_ignore_ascii_case(b"pragma") {
            if value.trim_ascii().eq_ignore_ascii_case(b"no-cache") {
                pragma_no_cache = true;
            }
        } else if name.eq_ignore_ascii_case(b"expires") {
            fresh = true;
        } else if name.eq_ignore_ascii_case(b"last-modified") || name.eq_ignore_ascii_case(b"etag")
        {
            validator = true;
        }
    }
    if !cc_found && pragma_no_cache {
        return false;
    }
    fresh || validator
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(list: &[(&'static str, &'static str)]) -> Vec<(&'static [u8], &'static [u8])> {
        list.iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect()
    }

    #[test]
    fn as_observed_on_haproxy_2_6() {
        assert!(
            !response_cacheable(b"GET", 200, &h(&[])),
            "no freshness, no validator"
        );
        assert!(response_cacheable(
            b"GET",
            200,
            &h(&[("Cache-Control", "max-age=60")])
        ));
        assert!(response_cacheable(
            b"HEAD",
            200,
            &h(&[("Cache-Control", "max-age=60")])
        ));
        assert!(!response_cacheable(
            b"POST",
            200,
            &h(&[("Cache-Control", "max-age=60")])
        ));
        assert!(response_cacheable(
            b"GET",
            200,
            &h(&[("Expires", "Thu, 01 Dec 2094 16:00:00 GMT")])
        ));
        assert!(response_cacheable(
            b"GET",
            200,
            &h(&[("Last-Modified", "Thu, 01 Dec 2014 16:00:00 GMT")])
        ));
        assert!(response_cacheable(b"GET", 404, &h(&[("ETag", "x")])));
        assert!(!response_cacheable(b"GET", 500, &h(&[("ETag", "x")])));
        assert!(!response_cacheable(
            b"GET",
            500,
            &h(&[("Cache-Control", "public")])
        ));
        assert!(!response_cacheable(
            b"GET",
            200,
            &h(&[("Cache-Control", "public")])
        ));
        assert!(!response_cacheable(
            b"GET",
            200,
            &h(&[("Cache-Control", "private")])
        ));
        assert!(!response_cacheable(
            b"GET",
            200,
            &h(&[("Cache-Control", "no-cache")])
        ));
        assert!(!response_cacheable(
            b"GET",
            200,
            &h(&[("Cache-Control", "no-store")])
        ));
        assert!(!response_cacheable(
            b"GET",
            200,
            &h(&[("Cache-Control", "max-age=0")])
        ));
        assert!(!response_cacheable(
            b"GET",
            200,
            &h(&[("Cache-Control", "s-maxage=0")])
        ));
        assert!(response_cacheable(
            b"GET",
            200,
            &h(&[("Cache-Control", "no-cache=\"set-cookie\", max-age=60")])
        ));
        assert!(!response_cacheable(
            b"GET",
            200,
            &h(&[
                ("Pragma", "no-cache"),
                ("Expires", "Thu, 01 Dec 2094 16:00:00 GMT")
            ])
        ));
        // seed 003: Tomcat's "Cache-Control: private" + Expires → HAProxy adds nothing
        assert!(!response_cacheable(
            b"GET",
            200,
            &h(&[
                ("Cache-Control", "private"),
                ("Expires", "Wed, 31 Dec 1969 19:00:00 EST")
            ])
        ));
    }
}
