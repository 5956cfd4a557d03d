//! The HTTP/2 edge against a real `h2` client over an in-memory pipe: heads, bodies, trailers,
//! local answers, resets.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An HTTP/2 client and server over an in-memory pipe: the client sends `req` (with
/// `body`, if any), the server's stream becomes an edge.
async fn stream(
    req: http::Request<()>,
    body: Option<&'static [u8]>,
) -> (
    H2Edge,
    Message,
    usize,
    h2::client::ResponseFuture,
    h2::client::SendRequest<Bytes>,
) {
    let (c, s) = tokio::io::duplex(1 << 20);
    let server = tokio::spawn(h2::server::handshake(s));
    let (client, conn) = h2::client::handshake(c).await.expect("client handshake");
    tokio::spawn(conn);
    let mut server = server.await.expect("join").expect("server handshake");
    let mut client = client.ready().await.expect("ready");
    let (resp, mut send) = client
        .send_request(req, body.is_none())
        .expect("send request");
    if let Some(b) = body {
        send.send_data(Bytes::from_static(b), true).expect("data");
    }
    let (req, body, respond) = std::future::poll_fn(|cx| server.poll_accept_boxed(cx))
        .await
        .expect("a stream")
        .expect("valid");
    // The connection goes on being driven.
    tokio::spawn(async move { while server.accept().await.is_some() {} });
    let mut head = Message::default();
    let (edge, size) = H2Edge::new((req, body), respond, None, &mut head);
    (edge, head, size, resp, client)
}

fn get(path: &str) -> http::Request<()> {
    http::Request::get(format!("http://a.test{path}"))
        .body(())
        .expect("request")
}

#[tokio::test]
async fn a_chunked_answer_goes_out_dechunked_with_trailers() {
    let (mut edge, req, size, resp, _c) = stream(get("/x?y=1"), None).await;
    assert!(size > 0);
    assert_eq!((req.method(), req.uri()), (&b"GET"[..], &b"/x?y=1"[..]));
    let mut res = Message::new();
    let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\nx-a: 1\r\n\r\n";
    assert!(matches!(res.parse_response(head), Ok(Some(_))));
    edge.send_head(&res).expect("head");
    edge.write_all(b"5\r\nhello\r\n6\r\n world\r\n0\r\ngrpc-status: 0\r\n\r\n")
        .await
        .expect("body");
    let resp = resp.await.expect("response");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("x-a").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    assert!(resp.headers().get("connection").is_none());
    assert!(resp.headers().get("transfer-encoding").is_none());
    let mut body = resp.into_body();
    let mut got = Vec::new();
    while let Some(d) = body.data().await {
        got.extend_from_slice(&d.expect("data"));
    }
    assert_eq!(got, b"hello world");
    let t = body.trailers().await.expect("trailers").expect("some");
    assert_eq!(t.get("grpc-status").map(|v| v.as_bytes()), Some(&b"0"[..]));
}

#[tokio::test]
async fn a_local_answer_goes_from_its_neutral_head_and_interim_answers_go_first() {
    let (mut edge, _req, _, resp, _c) = stream(get("/deny"), None).await;
    // Bytes before a head are refused: nothing parses HTTP/1 here.
    assert!(edge.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.is_err());
    let page = crate::http::response::Response::new(100, b"Continue");
    edge.send_interim(&page.head).expect("interim");
    let page = crate::http::response::Response::new(403, b"Forbidden")
        .field(b"content-length", b"3")
        .field(b"connection", b"close")
        .body(&b"no!"[..]);
    edge.send_head(&page.head).expect("head");
    assert!(
        edge.send_interim(&page.head).is_err(),
        "no interim after the head"
    );
    edge.write_all(&page.body).await.expect("answer");
    let resp = resp.await.expect("response");
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("connection").is_none());
    let mut body = resp.into_body();
    let mut got = Vec::new();
    while let Some(d) = body.data().await {
        got.extend_from_slice(&d.expect("data"));
    }
    assert_eq!(got, b"no!");
}

/// An answer sent many times (`Response::fixed`: a static `return`) keeps the HTTP/2 fields
/// made for its first stream and sends them again; a change to its head is still sent (the
/// kept fields are a hint), and a copy of it keeps none.
#[tokio::test]
async fn a_fixed_answer_keeps_its_fields_for_the_next_streams() {
    let mut page = crate::http::response::Response::new(200, b"OK")
        .field(b"content-length", b"2")
        .field(b"content-type", b"text/plain")
        .body(&b"ok"[..])
        .fixed();
    assert!(page.clone().h2.cell().is_none(), "a copy keeps none");
    assert!(page.h2.cell().and_then(|c| c.get()).is_none());
    let fields = |h: &http::HeaderMap| -> Vec<(String, String)> {
        h.iter()
            .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect()
    };
    let want = [("content-length", "2"), ("content-type", "text/plain")]
        .map(|(n, v)| (n.to_string(), v.to_string()));
    for _ in 0..2 {
        let (mut edge, _req, _, resp, _c) = stream(get("/"), None).await;
        edge.send_answer_head(&page).expect("head");
        let resp = resp.await.expect("response");
        assert_eq!(fields(resp.headers()), want);
        let kept = page.h2.cell().and_then(|c| c.get()).expect("kept");
        assert_eq!(fields(&kept.fields), want);
        assert_eq!(kept.length, Some(2));
    }
    page.head.set_value_at(1, b"text/html");
    let (mut edge, _req, _, resp, _c) = stream(get("/"), None).await;
    edge.send_answer_head(&page).expect("head");
    let resp = resp.await.expect("response");
    assert_eq!(
        resp.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"text/html"[..])
    );
}

#[tokio::test]
async fn a_body_of_unknown_length_is_read_as_chunks() {
    let post = http::Request::post("http://a.test/up")
        .body(())
        .expect("request");
    let (mut edge, req, _, _resp, _c) = stream(post, Some(b"hello")).await;
    assert_eq!(req.header(b"transfer-encoding"), Some(&b"chunked"[..]));
    let mut got = Vec::new();
    edge.read_to_end(&mut got).await.expect("body");
    assert_eq!(got, b"5\r\nhello\r\n0\r\n\r\n");
}

#[tokio::test]
async fn an_unanswered_stream_is_reset() {
    let (edge, _req, _, resp, _c) = stream(get("/"), None).await;
    drop(edge);
    let e = resp.await.expect_err("reset");
    assert_eq!(e.reason(), Some(h2::Reason::INTERNAL_ERROR));
}

/// `content-length` is read as `str::parse::<u64>` reads it (a `+` sign, leading zeros, more
/// than 19 digits, overflow), its value trimmed.
#[test]
fn content_length_reads_as_str_parse() {
    for v in [
        "0",
        "17",
        " 42 ",
        "+5",
        "007",
        "18446744073709551615",
        "18446744073709551616",
        "000000000000000000001",
        "",
        "+",
        "-1",
        "1a",
        "1 2",
        "9999999999999999999",
    ] {
        let mut m = Message::default();
        m.set_status(200, b"", crate::http::message::Version::Http11);
        m.append(b"content-length", v.as_bytes());
        assert_eq!(content_length(&m), v.trim().parse::<u64>().ok(), "{v:?}");
    }
    let mut m = Message::default();
    m.set_status(200, b"", crate::http::message::Version::Http11);
    assert_eq!(content_length(&m), None);
}
