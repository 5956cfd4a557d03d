//! Error pages that are not files: `errorloc302|303 CODE URL` and `http-error status CODE
//! [content-type T] [string S|file F] [hdr N V]...`, rendered once per generation into the
//! bytes HAProxy 2.6 sends (lower-case names, its header order).

use fulcrum_config::model_keywords::ErrorReply;

/// The whole answer for `status` (`ErrorReply::File` is read by the caller).
pub fn render(status: u16, reply: &ErrorReply) -> Vec<u8> {
    match reply {
        // haproxy's http_parse_errorloc(): a fixed head, then `location`
        ErrorReply::Location { code, url } => format!(
            "HTTP/1.1 {code} {}\r\ncache-control: no-cache\r\ncontent-length: 0\r\nlocation: {url}\r\n\r\n",
            if *code == 303 { "See Other" } else { "Found" }
        )
        .into_bytes(),
        // haproxy's http_reply_to_htx(): the `hdr`s, then content-length, then content-type
        // (only with a body)
        ErrorReply::Reply {
            content_type,
            body,
            headers,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", super::errors::reason(status));
            for (n, v) in headers {
                head.push_str(&format!("{}: {v}\r\n", n.to_ascii_lowercase()));
            }
            head.push_str(&format!("content-length: {}\r\n", body.len()));
            if let (Some(ct), false) = (content_type, body.is_empty()) {
                head.push_str(&format!("content-type: {ct}\r\n"));
            }
            head.push_str("\r\n");
            let mut out = head.into_bytes();
            out.extend_from_slice(body);
            out
        }
        ErrorReply::File => super::errors::builtin_response(status),
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
        assert_eq!(
            render(403, &loc),
            b"HTTP/1.1 303 See Other\r\ncache-control: no-cache\r\ncontent-length: 0\r\nlocation: http://example.com/x\r\n\r\n"
        );
        let reply = ErrorReply::Reply {
            content_type: Some("text/plain".into()),
            body: b"not here".to_vec(),
            headers: vec![("X-A".into(), "b".into())],
        };
        assert_eq!(
            render(404, &reply),
            b"HTTP/1.1 404 Not Found\r\nx-a: b\r\ncontent-length: 8\r\ncontent-type: text/plain\r\n\r\nnot here"
        );
    }
}
