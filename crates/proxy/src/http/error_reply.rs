//! Error pages that are not files: `errorloc302|303 CODE URL` and `http-error status CODE
//! [content-type T] [string S|file F] [hdr N V]...`, rendered once per generation into the
//! neutral responses whose HTTP/1 form is the bytes HAProxy 2.6 sends (lower-case names,
//! its header order).

use super::response::Response;
use fulcrum_config::model_keywords::ErrorReply;

/// The whole answer for `status` as a neutral response (`ErrorReply::File` is read by the
/// caller: this gives HAProxy's built-in page for it).
pub fn render(status: u16, reply: &ErrorReply) -> Response {
    match reply {
        // haproxy's http_parse_errorloc(): a fixed head, then `location`
        ErrorReply::Location { code, url } => {
            let reason: &[u8] = if *code == 303 { b"See Other" } else { b"Found" };
            Response::new(*code, reason)
                .field(b"cache-control", b"no-cache")
                .field(b"content-length", b"0")
                .field(b"location", url.as_bytes())
        }
        // haproxy's http_reply_to_htx(): the `hdr`s, then content-length, then content-type
        // (only with a body)
        // (one with log-format parts is rendered per answer: `rules::error_pages`)
        ErrorReply::Reply {
            content_type,
            body,
            headers,
            ..
        } => {
            let mut r = Response::new(status, super::errors::reply_reason(status).as_bytes());
            for (n, v) in headers {
                r = r.field(n.to_ascii_lowercase().as_bytes(), v.as_bytes());
            }
            r = r.field(b"content-length", body.len().to_string().as_bytes());
            if let (Some(ct), false) = (content_type, body.is_empty()) {
                r = r.field(b"content-type", ct.as_bytes());
            }
            r.body(body.clone())
        }
        // (`Section` is resolved to `File` when the configuration is read)
        ErrorReply::File | ErrorReply::Section(_) => super::errors::builtin_response(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_haproxys_bytes() {
        let loc = ErrorReply::Location {
            code: 303,
            url: "http://example.com/x".into(),
        };
        let h1 = |r: Response| {
            let mut out = Vec::new();
            r.write_h1(
                crate::http::response::Close::Silent,
                crate::http::response::Part::Whole,
                &mut out,
            );
            out
        };
        assert_eq!(
            h1(render(403, &loc)),
            b"HTTP/1.1 303 See Other\r\ncache-control: no-cache\r\ncontent-length: 0\r\nlocation: http://example.com/x\r\n\r\n"
        );
        let reply = ErrorReply::Reply {
            lf_body: None,
            content_type: Some("text/plain".into()),
            body: b"not here".to_vec(),
            headers: vec![("X-A".into(), "b".into())],
        };
        assert_eq!(
            h1(render(404, &reply)),
            b"HTTP/1.1 404 Not Found\r\nx-a: b\r\ncontent-length: 8\r\ncontent-type: text/plain\r\n\r\nnot here"
        );
    }
}
