//! `%B` as HAProxy 2.6 counts it: not the bytes on the wire but the size of the response in
//! HAProxy's internal HTX form as it entered the response channel, i.e. before
//! `http-response` rules and before the `connection` header the H1 encoder adds. A head is
//! 20 bytes of start-line descriptor + version + 3-digit status + reason, each header's name
//! + value, and 1 byte for the end of headers; body bytes count as they are. Measured against
//!   haproxy 2.6 (tests/log_bytes_haproxy.rs): a 3-byte answer with two headers logs 63.

use crate::http::message::{eq_fold, Message};

/// HTX size of a response start line without its strings (HAProxy's `struct htx_sl`).
const SL: u64 = 20;
/// HTX size of the end-of-headers block.
const EOH: u64 = 1;

/// HTX size of a parsed response head. HAProxy's H1 parser drops the `close` and
/// `keep-alive` tokens of a `Connection` field, and the field when nothing else is left
/// (measured: a `Connection: close` answer logs 15 bytes less than fulcrum counted).
pub fn head(m: &Message) -> u64 {
    SL + 5 + m.version.as_str().len() as u64 + 3 + m.reason().len() as u64 + fields(m) + EOH
}

/// The HTX size of a head's fields: each name + value, but a `Connection` field without its
/// `close` and `keep-alive` tokens (HAProxy's H1 parser drops them on input, and the field
/// when nothing else is left; measured: `Connection: foo, close` counts as `connection` + `foo`).
fn fields(m: &Message) -> u64 {
    m.fields
        .iter()
        .map(|f| {
            let (name, value) = (m.name(f), m.value(f));
            // (the length first: std's comparison is a call and a step per byte)
            if name.len() != 10 || !name.eq_ignore_ascii_case(b"connection") {
                return (name.len() + value.len()) as u64;
            }
            // The tokens kept: how many, and their bytes.
            let (mut kept, mut len) = (0usize, 0usize);
            for t in value.split(|&b| b == b',').map(|t| t.trim_ascii()) {
                if !t.is_empty() && !eq_fold(t, b"close") && !eq_fold(t, b"keep-alive") {
                    kept += 1;
                    len += t.len();
                }
            }
            if kept == 0 {
                return 0;
            }
            let v = len + 2 * (kept - 1);
            (name.len() + v) as u64
        })
        .sum()
}

/// A request head as HAProxy 2.6 counts it in `%U`: its HTX size as it came in, before any
/// `http-request` rule, i.e. the start-line descriptor + method + target + version, the
/// fields as [`head`] counts them (a `Connection` field's `close` / `keep-alive` dropped) and
/// the end of headers. Measured against haproxy 2.6.12: `GET /a HTTP/1.1` + `Host: h` logs
/// 39 with `Connection: close`, with `Connection: keep-alive` and with no `Connection` field;
/// `Connection: foo, close` logs 52 (tests/log_predefined_haproxy.rs).
pub fn request_in(m: &Message) -> u64 {
    let line = m.method().len() + m.target().len() + 5 + m.version.as_str().len();
    SL + line as u64 + fields(m) + EOH
}

#[cfg(test)]
mod tests {
    use crate::http::message::Message;

    #[test]
    fn haproxy_403_page_counts_192() {
        // haproxy 2.6's built-in 403 (its log says 192 while 208 bytes go out); 99 for a
        // HEAD request (the head only, as its log says).
        let page = crate::http::errors::builtin_response(403);
        assert_eq!(page.body.len(), 93);
        assert_eq!(super::head(&page.head) + page.body.len() as u64, 192);
        assert_eq!(super::head(&page.head), 99);
    }

    #[test]
    fn request_heads_count_as_haproxy_2_6() {
        // Figures logged by haproxy 2.6.12 for `%U` (no body).
        for (raw, want) in [
            ("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", 39),
            (
                "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                39,
            ),
            (
                "GET /a HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
                39,
            ),
            (
                "GET /a HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n",
                52,
            ),
            ("GET /a HTTP/1.0\r\nHost: h\r\n\r\n", 39),
        ] {
            let mut m = Message::new();
            assert!(matches!(m.parse_request(raw.as_bytes()), Ok(Some(_))));
            assert_eq!(super::request_in(&m), want, "{raw:?}");
        }
    }
}
