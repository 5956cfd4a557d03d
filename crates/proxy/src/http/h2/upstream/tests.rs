//! The pure conversions of HTTP/2 to servers.

use super::*;

fn request(raw: &[u8]) -> Message {
    let mut m = Message::new();
    let r = m.parse_request(raw);
    assert!(matches!(r, Ok(Some(_))), "{r:?}");
    m
}

#[test]
fn origin_form_keeps_host_absolute_form_gives_authority() {
    let m = request(
        b"GET /a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\nConnection: close, x-hop\r\nX-Hop: 1\r\nTE: trailers\r\nX-Keep: yes\r\n\r\n",
    );
    let r = request_head(&m, false, None).expect("request");
    assert_eq!(r.uri().to_string(), "/a?b=1");
    assert_eq!(r.method(), http::Method::GET);
    let names: Vec<&str> = r.headers().keys().map(|k| k.as_str()).collect();
    assert_eq!(names, ["host", "te", "x-keep"]);
    let m = request(b"GET https://example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n");
    let r = request_head(&m, false, None).expect("request");
    assert_eq!(r.uri().to_string(), "https://example.com/a");
    assert!(r.headers().get("host").is_none());
}

#[test]
fn te_other_than_trailers_is_dropped_and_no_host_stays_relative() {
    let m = request(b"POST /p HTTP/1.1\r\nTE: gzip\r\nContent-Length: 3\r\n\r\n");
    let r = request_head(&m, false, None).expect("request");
    assert_eq!(r.uri().to_string(), "/p");
    assert!(r.headers().get("te").is_none());
    assert_eq!(r.headers()["content-length"], "3");
}

fn parts(status: u16, fields: &[(&str, &str)]) -> http::response::Parts {
    let mut b = http::Response::builder().status(status);
    for (n, v) in fields {
        b = b.header(*n, *v);
    }
    b.body(()).expect("response").into_parts().0
}

#[test]
fn response_framing_for_http1_clients() {
    let mut m = Message::new();
    let p = parts(200, &[("content-type", "application/grpc")]);
    assert_eq!(response_message(&p, false, false, &mut m), InBody::Chunked);
    assert_eq!(m.reason(), b"");
    let p = parts(200, &[("content-length", "5")]);
    assert_eq!(response_message(&p, false, false, &mut m), InBody::Length);
    assert!(!m.has_header(b"transfer-encoding"));
    // A trailers-only gRPC answer: the status is in the head, nothing follows.
    let p = parts(200, &[("grpc-status", "5")]);
    assert_eq!(response_message(&p, true, false, &mut m), InBody::None);
    assert_eq!(m.header(b"content-length"), Some(&b"0"[..]));
    assert_eq!(m.header(b"grpc-status"), Some(&b"5"[..]));
    let p = parts(204, &[]);
    assert_eq!(response_message(&p, true, false, &mut m), InBody::None);
    assert!(!m.has_header(b"content-length"));
}

/// An HTTP/2 client's request the rules left alone goes to an HTTP/2 server with the target
/// and fields it came with (no `host` beside `:authority`), as the head built from the
/// neutral head would be; a changed target or field is built again.
#[test]
fn an_unchanged_request_goes_on_with_its_own_target_and_fields() {
    let (parts, ()) = http::Request::get("http://a.test/p?q=1")
        .header("host", "a.test")
        .header("x-a", "1")
        .body(())
        .expect("request")
        .into_parts();
    let carried = || {
        Some(Received {
            uri: Some(parts.uri.clone()),
            fields: parts.headers.clone(),
        })
    };
    let path = |r: &http::Request<()>| r.uri().path_and_query().map(|p| p.as_str().as_ptr());
    let value = |r: &http::Request<()>| r.headers().get("x-a").map(|v| v.as_bytes().as_ptr());
    let mut m = Message::default();
    crate::http::h2::convert::request_message(&parts, true, &mut m);
    let built = request_head(&m, false, None).expect("request");
    let r = request_head(&m, false, carried()).expect("request");
    assert_eq!((r.uri(), r.headers()), (built.uri(), built.headers()));
    assert!(r.headers().get("host").is_none());
    assert_eq!(
        path(&r),
        parts.uri.path_and_query().map(|p| p.as_str().as_ptr())
    );
    assert_eq!(
        value(&r),
        parts.headers.get("x-a").map(|v| v.as_bytes().as_ptr())
    );
    // `set-path`: the target is built again, the fields still go as they came.
    m.set_target(b"http://a.test/other");
    let r = request_head(&m, false, carried()).expect("request");
    assert_eq!(r.uri().to_string(), "http://a.test/other");
    assert_eq!(
        value(&r),
        parts.headers.get("x-a").map(|v| v.as_bytes().as_ptr())
    );
    // `set-header`: the fields are built again.
    m.append(b"x-b", b"2");
    let r = request_head(&m, false, carried()).expect("request");
    assert_eq!(r.headers()["x-b"], "2");
    assert_ne!(
        value(&r),
        parts.headers.get("x-a").map(|v| v.as_bytes().as_ptr())
    );
    assert!(r.headers().get("host").is_none());
}
