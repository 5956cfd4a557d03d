//! Unit tests of `body`: framing and the chunked machine.

use super::*;

#[test]
fn chunked_finds_the_end_across_splits() {
    let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-T: 1\r\n\r\nNEXT";
    for split in 0..=body.len() - 4 {
        let mut c = Chunked::default();
        let a = c.advance(&body[..split]).unwrap_or(usize::MAX);
        assert_eq!(a, split);
        let b = c.advance(&body[split..]).unwrap_or(usize::MAX);
        assert!(c.done());
        assert_eq!(a + b, body.len() - 4);
    }
}

#[test]
fn chunked_htx_size_is_payload_trailers_and_end() {
    // haproxy 2.6 logs 98 for a 97-byte head+payload answer in two chunks: the payload
    // and 1 for the end of trailers; a trailer counts its name and value.
    let body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    for split in 1..body.len() {
        let mut c = Chunked::default();
        let n = c.advance(&body[..split]).expect("ok");
        c.advance(&body[n..]).expect("ok");
        assert!(c.done());
        assert_eq!(c.htx(), 12, "split at {split}");
    }
    let mut c = Chunked::default();
    c.advance(b"1\r\na\r\n0\r\nX-T:  v1\r\n\r\n").expect("ok");
    assert!(c.done());
    assert_eq!(c.htx(), 1 + 3 + 2 + 1);
}

#[test]
fn chunked_rejects_garbage_sizes() {
    assert!(Chunked::default().advance(b"zz\r\n").is_err());
    assert!(Chunked::default()
        .advance(b"ffffffffffffffffff\r\n")
        .is_err());
}

#[test]
fn chunk_lines_and_trailers_as_haproxy() {
    let ok = |b: &[u8]| Chunked::default().advance(b).is_ok();
    assert!(ok(b"5 \t\r\nhello\r\n0\r\n\r\n"));
    assert!(ok(b"5 ;a=b\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n"));
    assert!(!ok(b"5 5\r\n"));
    assert!(!ok(b"fffff\tfff1\r\n"));
    assert!(!ok(b"0\r\nbad trailer: x\r\n\r\n"));
    assert!(!ok(b"0\r\nbad\r\n\r\n"));
    assert!(!ok(b"0\r\nX: a\rb\r\n\r\n"));
    assert!(!ok(b"0\r\n: a\r\n\r\n"));
}

#[test]
fn framing_rules() {
    let mut m = Message::new();
    let _ = m.parse_request(
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert_eq!(request_framing(&mut m), Ok(Framing::Chunked));
    assert!(!m.has_header(b"content-length"));
    let _ = m.parse_request(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
    assert_eq!(request_framing(&mut m), Err(BadFraming));
    let _ = m.parse_request(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
    assert_eq!(request_framing(&mut m), Err(BadFraming));
    let _ = m.parse_response(b"HTTP/1.1 200 OK\r\n\r\n");
    let (mut get, mut head) = (Message::new(), Message::new());
    let _ = get.parse_request(b"GET / HTTP/1.1\r\n\r\n");
    let _ = head.parse_request(b"HEAD / HTTP/1.1\r\n\r\n");
    assert_eq!(response_framing(&mut m, &get), Ok(Framing::UntilClose));
    assert_eq!(response_framing(&mut m, &head), Ok(Framing::None));
}

#[test]
fn content_length_values() {
    let len = |v: &str| {
        let mut m = Message::new();
        let head = format!("POST / HTTP/1.1\r\nContent-Length: {v}\r\n\r\n");
        let _ = m.parse_request(head.as_bytes());
        request_framing(&mut m)
    };
    assert_eq!(len("6"), Ok(Framing::Length(6)));
    assert_eq!(len("0"), Ok(Framing::None));
    assert_eq!(len(" 12 , 12"), Ok(Framing::Length(12)));
    assert_eq!(
        len("9999999999999999999"),
        Ok(Framing::Length(9_999_999_999_999_999_999))
    );
    assert_eq!(len("00000000000000000042"), Err(BadFraming));
    assert_eq!(len("12, 13"), Err(BadFraming));
    assert_eq!(len("+5"), Err(BadFraming));
    assert_eq!(len("5x"), Err(BadFraming));
}
