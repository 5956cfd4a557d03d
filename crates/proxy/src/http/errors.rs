//! Responses the proxy writes itself: HAProxy's built-in error pages, `errorfile`, `return`,
//! `redirect`, byte for byte as HAProxy 2.x sends them.
//!
//! HAProxy sends 400 and 408 as raw pre-formatted messages (capitalised header names,
//! `Connection: close`), and every other generated response through its HTX layer (lower-case
//! header names). Both are reproduced. `errorfile` replaces a page with the file's response,
//! read once. Every page is a neutral [`Response`] that each codec encodes (HTTP/1 writes it
//! as these bytes; HTTP/2 sends its status, fields and body).

use super::response::Response;
use std::collections::HashMap;
use std::sync::Arc;

/// The reason phrase HAProxy uses for a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Payload Too Large",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        425 => "Too Early",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        // HAProxy's `http_get_reason` names other codes by their class.
        _ => class_reason(status),
    }
}

/// The reason phrase of HAProxy 2.6's `http_get_reason`, which its http replies (`return`,
/// `deny`/`tarpit` with response options, `http-error`) carry; measured from haproxy 2.6.12
/// (`http-request return status N`). Its redirects and built-in pages use their own texts.
pub fn reply_reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Success",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Time-out",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested range unsatisfiable",
        417 => "Expectation failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Method failure",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway or Proxy Error",
        503 => "Service Unavailable",
        504 => "Gateway Time-out",
        505 => "HTTP Version not supported",
        506 => "Variant also negotiate",
        507 => "Insufficient storage",
        508 => "Loop detected",
        510 => "Not extended",
        511 => "Network authentication required",
        _ => class_reason(status),
    }
}

/// Status line text and body of HAProxy's built-in page for `status`, if it has one.
fn builtin(status: u16) -> Option<(&'static str, &'static str)> {
    Some(match status {
        200 => ("200 OK", "Service ready."),
        400 => ("400 Bad request", "Your browser sent an invalid request."),
        401 => ("401 Unauthorized", "You need a valid user and password to access this content."),
        403 => ("403 Forbidden", "Request forbidden by administrative rules."),
        404 => ("404 Not Found", "The resource could not be found."),
        405 => (
            "405 Method Not Allowed",
            "A request was made of a resource using a request method not supported by that resource",
        ),
        407 => ("407 Unauthorized", "You need a valid user and password to access this content."),
        408 => ("408 Request Time-out", "Your browser didn't send a complete request in time."),
        410 => ("410 Gone", "The resource is no longer available and will not be available again."),
        413 => ("413 Payload Too Large", "The request entity exceeds the maximum allowed."),
        421 => ("421 Misdirected Request", "Request sent to a non-authoritative server."),
        422 => ("422 Unprocessable Content", "The server cannot process the contained instructions."),
        425 => ("425 Too Early", "Your browser sent early data."),
        429 => ("429 Too Many Requests", "You have sent too many requests in a given amount of time."),
        500 => ("500 Internal Server Error", "An internal server error occurred."),
        501 => (
            "501 Not Implemented",
            ".The server does not support the functionality required to fulfill the request.",
        ),
        502 => ("502 Bad Gateway", "The server returned an invalid or incomplete response."),
        503 => ("503 Service Unavailable", "No server is available to handle this request."),
        504 => ("504 Gateway Time-out", "The server didn't respond in time."),
        // Not one of HAProxy's pages (it forwards other HTTP versions): worded alike.
        505 => (
            "505 HTTP Version Not Supported",
            "The HTTP version of the request is not supported.",
        ),
        _ => return None,
    })
}

/// The full built-in response for `status` (falls back to 500's page for unknown codes).
/// 400, 408 and 505 keep HAProxy's raw form: capitalised field names, `Connection: close`.
pub fn builtin_response(status: u16) -> Response {
    let (line, text) = builtin(status)
        .or_else(|| builtin(500))
        .unwrap_or(("500 Internal Server Error", ""));
    let (code, reason) = line.split_once(' ').unwrap_or((line, ""));
    let code = code.parse().unwrap_or(500);
    let body = format!("<html><body><h1>{line}</h1>\n{text}\n</body></html>\n");
    let len = body.len().to_string();
    let r = Response::new(code, reason.as_bytes());
    let r = if status == 400 || status == 408 || status == 505 {
        r.field(b"Content-length", len.as_bytes())
            .field(b"Cache-Control", b"no-cache")
            .field(b"Connection", b"close")
            .field(b"Content-Type", b"text/html")
    } else {
        r.field(b"content-length", len.as_bytes())
            .field(b"cache-control", b"no-cache")
            .field(b"content-type", b"text/html")
    };
    r.body(body)
}

/// A page of a proxy: a response, or nothing at all (an empty `errorfile`, HAProxy's way
/// of closing without an answer).
pub type Page = Option<Arc<Response>>;

/// Error pages of one proxy: built-ins overridden by `errorfile` contents.
#[derive(Debug, Default)]
pub struct ErrorPages {
    files: HashMap<u16, Page>,
    cache: HashMap<u16, Arc<Response>>,
}

impl ErrorPages {
    /// `files`: (status, page) pairs of the `errorfile`s, read with [`user_page`].
    pub fn new(files: Vec<(u16, Page)>) -> Self {
        let mut cache = HashMap::new();
        for s in [
            400, 401, 403, 404, 405, 407, 408, 410, 413, 421, 422, 425, 429, 500, 501, 502, 503,
            504,
        ] {
            cache.insert(s, Arc::new(builtin_response(s)));
        }
        ErrorPages {
            files: files.into_iter().collect(),
            cache,
        }
    }
    /// This proxy's page for `status`, else `fallback`'s file, else the built-in page: the
    /// backend's error files first, then the frontend's, as HAProxy 2.6.
    pub fn get_or(&self, status: u16, fallback: &ErrorPages) -> Page {
        match (self.files.get(&status), fallback.files.get(&status)) {
            (None, Some(f)) => f.clone(),
            _ => self.get(status),
        }
    }

    /// Whether the proxy has a page of its own for `status` (an `errorfile`, `errorloc`,
    /// `http-error`).
    pub fn has(&self, status: u16) -> bool {
        self.files.contains_key(&status)
    }

    pub fn get(&self, status: u16) -> Page {
        if let Some(f) = self.files.get(&status) {
            return f.clone();
        }
        Some(match self.cache.get(&status) {
            Some(b) => b.clone(),
            None => Arc::new(builtin_response(status)),
        })
    }
}

/// A user's response file (`errorfile`, `return errorfile`), parsed once: `None` for an
/// empty file (nothing is sent).
pub fn user_page(raw: &[u8]) -> Result<Page, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    match Response::from_http1(raw) {
        // Read once, sent many times.
        Some(r) => Ok(Some(Arc::new(r.fixed()))),
        None => {
            Err("not an HTTP response (a status line and fields ending with an empty line)".into())
        }
    }
}

/// The answer of `return`/`deny`/`tarpit` with response options, laid out as HAProxy 2.6 does.
pub fn return_response(
    status: u16,
    content_type: Option<&str>,
    headers: &[(Vec<u8>, Vec<u8>)],
    body: &[u8],
) -> Response {
    // HAProxy 2.6's `http_reply_to_htx`: the `hdr` fields first (lower-case names, empty
    // values left out), then content-length, then content-type with a body.
    let mut r = Response::new(status, reply_reason(status).as_bytes());
    for (n, v) in headers.iter().filter(|(_, v)| !v.is_empty()) {
        r = r.field(&n.to_ascii_lowercase(), v);
    }
    r = r.field(b"content-length", body.len().to_string().as_bytes());
    if let (Some(ct), false) = (content_type, body.is_empty()) {
        r = r.field(b"content-type", ct.as_bytes());
    }
    r.body(body.to_vec())
}

/// `redirect`: 302/303/307/308 carry `cache-control: no-cache`, 301 does not (as HAProxy);
/// then `set-cookie` when the rule sets or clears one.
pub fn redirect_response(code: u16, location: &[u8], cookie: Option<&[u8]>) -> Response {
    let mut r = Response::new(code, reason(code).as_bytes())
        .field(b"content-length", b"0")
        .field(b"location", location);
    if code != 301 {
        r = r.field(b"cache-control", b"no-cache");
    }
    if let Some(c) = cookie {
        r = r.field(b"set-cookie", c);
    }
    r
}

/// HAProxy's `http_get_reason` name of a code it does not list: its class.
fn class_reason(status: u16) -> &'static str {
    match status / 100 {
        1 => "Informational",
        2 => "Success",
        3 => "Redirection",
        4 => "Client Error",
        5 => "Server Error",
        _ => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::response::{Close, Part};

    fn h1(r: &Response) -> Vec<u8> {
        let mut out = Vec::new();
        r.write_h1(Close::Silent, Part::Whole, &mut out);
        out
    }

    #[test]
    fn builtin_503_is_haproxys() {
        let r = h1(&builtin_response(503));
        let want = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";
        assert_eq!(String::from_utf8_lossy(&r), want);
    }

    #[test]
    fn builtin_400_is_raw_with_close() {
        let r = String::from_utf8_lossy(&h1(&builtin_response(400))).into_owned();
        assert!(
            r.starts_with("HTTP/1.1 400 Bad request\r\nContent-length: 90\r\n"),
            "{r}"
        );
        assert!(r.contains("Connection: close\r\n"));
    }

    #[test]
    fn return_matches_haproxy_layout() {
        let r = h1(&return_response(
            200,
            Some("text/plain"),
            &[],
            b"hello world",
        ));
        assert_eq!(
            r,
            b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\ncontent-type: text/plain\r\n\r\nhello world"
        );
    }

    #[test]
    fn redirects_and_user_pages() {
        let r = h1(&redirect_response(302, b"/x", Some(b"a=1")));
        assert_eq!(
            r,
            &b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /x\r\ncache-control: no-cache\r\nset-cookie: a=1\r\n\r\n"[..]
        );
        let r = h1(&redirect_response(301, b"/y", None));
        assert_eq!(
            r,
            &b"HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: /y\r\n\r\n"[..]
        );
        assert!(matches!(user_page(b""), Ok(None)));
        assert!(user_page(b"oops").is_err());
        let page = user_page(b"HTTP/1.1 503 Busy\r\n\r\nb").expect("parses");
        let pages = ErrorPages::new(vec![(503, page)]);
        let p = pages.get(503).expect("a page");
        assert_eq!(h1(&p), b"HTTP/1.1 503 Busy\r\n\r\nb");
        assert_eq!(pages.get(403).map(|p| p.status()), Some(403));
    }
}
