//! The proxy's fuzz corpus (fuzz/seeds, corpus and artifacts of `http_request`,
//! `http_response`, `chunked`, `proxy_header`, `cookie`) replayed on stable through the fuzz
//! targets' entries (`fulcrum_proxy::fuzzing`), plus random and mutated inputs from proptest:
//! the invariants each entry checks must hold and nothing may panic. A crash the fuzzer finds
//! is saved under fuzz/artifacts/TARGET/ and stays here as a regression test.

use proptest::prelude::*;

fn replay(target: &str, f: fn(&[u8]), at_least: usize) {
    let all = fulcrum_testlab::fuzz_inputs(target);
    assert!(
        all.len() >= at_least,
        "{target}: the seeds at least: {all:?}"
    );
    for p in &all {
        let data = std::fs::read(p).expect("read corpus file");
        f(&data);
    }
}

#[test]
fn http_request_corpus() {
    replay("http_request", fulcrum_proxy::fuzzing::http_request, 40);
}

#[test]
fn http_response_corpus() {
    replay("http_response", fulcrum_proxy::fuzzing::http_response, 5);
}

#[test]
fn chunked_corpus() {
    replay("chunked", fulcrum_proxy::fuzzing::chunked, 5);
}

#[test]
fn proxy_header_corpus() {
    replay("proxy_header", fulcrum_proxy::fuzzing::proxy_header, 5);
}

#[test]
fn cookie_corpus() {
    replay("cookie", fulcrum_proxy::fuzzing::cookie, 3);
}

/// Pieces requests are made of, so random inputs reach past the request line.
fn http_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"GET / HTTP/1.1\r\n".to_vec()),
        Just(b"POST /x HTTP/1.0\r\n".to_vec()),
        Just(b"Host: t\r\n".to_vec()),
        Just(b"Content-Length: 5\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"5\r\nhello\r\n0\r\n\r\n".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b":".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"HTTP/2.0".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn random_requests(parts in prop::collection::vec(http_piece(), 0..16)) {
        fulcrum_proxy::fuzzing::http_request(&parts.concat());
    }

    #[test]
    fn random_responses(parts in prop::collection::vec(http_piece(), 0..16)) {
        let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
        v.extend(parts.concat());
        fulcrum_proxy::fuzzing::http_response(&v);
    }

    #[test]
    fn random_chunked(parts in prop::collection::vec(
        prop_oneof![
            Just(b"5\r\n".to_vec()), Just(b"hello\r\n".to_vec()), Just(b"0\r\n".to_vec()),
            Just(b"\r\n".to_vec()), Just(b";a=b".to_vec()), Just(b"X: y\r\n".to_vec()),
            Just(b"\n".to_vec()), prop::collection::vec(any::<u8>(), 0..6),
        ],
        0..16,
    )) {
        fulcrum_proxy::fuzzing::chunked(&parts.concat());
    }

    #[test]
    fn random_proxy_headers(mut data in prop::collection::vec(any::<u8>(), 0..300), v2 in any::<bool>()) {
        if v2 {
            let mut h = b"\r\n\r\n\x00\r\nQUIT\n".to_vec();
            h.append(&mut data);
            fulcrum_proxy::fuzzing::proxy_header(&h);
        } else {
            let mut h = b"PROXY ".to_vec();
            h.append(&mut data);
            fulcrum_proxy::fuzzing::proxy_header(&h);
        }
    }

    #[test]
    fn random_cookies(parts in prop::collection::vec(
        prop_oneof![
            Just(b"SRV=".to_vec()), Just(b"a".to_vec()), Just(b"b".to_vec()), Just(b"|".to_vec()),
            Just(b";".to_vec()), Just(b"=".to_vec()), Just(b"\n".to_vec()), Just(b" ".to_vec()),
            prop::collection::vec(any::<u8>(), 0..6),
        ],
        0..20,
    )) {
        fulcrum_proxy::fuzzing::cookie(&parts.concat());
    }
}
