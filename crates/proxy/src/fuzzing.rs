//! The proxy's fuzz entries (fuzz/fuzz_targets/http_*.rs, chunked, proxy_header, cookie) and
//! their stable corpus replay (`tests/fuzz_replay.rs`): each feeds bytes from outside to a
//! parser exactly as the data plane does, checks the invariants that make its answer safe,
//! and must never panic.

use crate::http::body::{self, Chunked, Framing};
use crate::http::message::Message;
use crate::http::validate;
use crate::persist::cookie::{CookiePersist, CookieServer};
use std::sync::OnceLock;

/// An HTTP/1 request head as the session reads it: parse (with `validate::normalize` on a
/// refusal), HAProxy's checks, then the body framing and the check of a chunked body's prefix.
/// A head accepted here is written out again and must parse to the same start line.
pub fn http_request(data: &[u8]) {
    let mut m = Message::new();
    let parsed = match m.parse_request(data) {
        Err(_) => match validate::normalize(data) {
            Ok(Some(copy)) => {
                assert_eq!(copy.len(), data.len(), "normalize keeps lengths");
                m.parse_request(&copy).ok().flatten()
            }
            _ => None,
        },
        Ok(r) => r,
    };
    let Some(n) = parsed else { return };
    assert!(n <= data.len());
    if validate::request(&m, false).is_err() {
        return;
    }
    let framing = body::request_framing(&mut m);
    if let Ok(Framing::Chunked) = framing {
        let _ = body::check_chunked_prefix(&data[n..]);
    }
    let mut out = Vec::new();
    m.write_request(&mut out);
    let mut again = Message::new();
    match again.parse_request(&out) {
        Ok(Some(_)) => {
            assert_eq!(again.method(), m.method());
            assert_eq!(again.target(), m.target());
        }
        r => panic!("a forwarded head does not parse again: {r:?} {out:?}"),
    }
}

/// An HTTP/1 response head from a server, then its framing (as after a GET and a HEAD).
pub fn http_response(data: &[u8]) {
    let mut m = Message::new();
    if let Ok(Some(n)) = m.parse_response(data) {
        assert!(n <= data.len());
        for method in [&b"GET"[..], b"HEAD"] {
            let mut req = Message::new();
            req.set_request_target(method, b"/", crate::http::message::Version::Http11);
            let _ = body::response_framing(&mut m, &req);
        }
        let mut out = Vec::new();
        m.write_response(&mut out);
    }
}

/// The chunked-body machine fed in two pieces (split at the first byte's value): the same
/// bytes must give the same verdict and end as fed whole, and it never consumes past the input.
pub fn chunked(data: &[u8]) {
    let mut whole = Chunked::default();
    let r1 = whole.advance(data);
    if let Ok(n) = r1 {
        assert!(n <= data.len());
    }
    let cut = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let mut split = Chunked::default();
    let r2 = split.advance(&data[..cut]).and_then(|a| {
        if split.done() {
            Ok(a)
        } else {
            split.advance(&data[cut..]).map(|b| a + b)
        }
    });
    match (r1, r2) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "consumed");
            assert_eq!(whole.done(), split.done());
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("whole {a:?} but split {b:?}"),
    }
}

/// A PROXY protocol header off a connection (`accept-proxy`); a header that parses is
/// written again (v1 or v2) and must read back to the same addresses.
pub fn proxy_header(data: &[u8]) {
    use crate::proxy_protocol as pp;
    let Ok(Some(n)) = pp::needed(data) else {
        return;
    };
    if n > data.len() {
        return;
    }
    if let Ok(h) = pp::parse(&data[..n]) {
        for w in [pp::v1(h.addrs), pp::v2(h.addrs, &[])] {
            let back = pp::needed(&w)
                .ok()
                .flatten()
                .and_then(|k| pp::parse(&w[..k]).ok());
            let back = back.map(|b| b.addrs.map(canon));
            assert_eq!(back, Some(h.addrs.map(canon)), "{h:?} read back");
        }
    }
}

/// Both addresses as IPv4 when both can be (what a v1/v2 header writer does), else IPv6.
fn canon(
    (s, d): (std::net::SocketAddr, std::net::SocketAddr),
) -> (std::net::SocketAddr, std::net::SocketAddr) {
    use std::net::{IpAddr, SocketAddr};
    let v4 = |a: SocketAddr| match a.ip() {
        IpAddr::V6(v) => v
            .to_ipv4_mapped()
            .map(|x| SocketAddr::new(IpAddr::V4(x), a.port())),
        IpAddr::V4(_) => Some(a),
    };
    let v6 = |a: SocketAddr| match a.ip() {
        IpAddr::V4(x) => SocketAddr::new(IpAddr::V6(x.to_ipv6_mapped()), a.port()),
        IpAddr::V6(_) => a,
    };
    match (v4(s), v4(d)) {
        (Some(a), Some(b)) => (a, b),
        _ => (v6(s), v6(d)),
    }
}

fn cookie_persist() -> Option<&'static CookiePersist> {
    static P: OnceLock<Option<CookiePersist>> = OnceLock::new();
    P.get_or_init(|| {
        let cfg = fulcrum_config::load_sources(&[fulcrum_config::Source {
            name: "fuzz.cfg",
            text: "defaults\n mode http\nbackend b\n cookie SRV insert indirect maxidle 1h maxlife 1d\n server a 127.0.0.1:1 cookie a\n server b 127.0.0.1:2 cookie b\n",
        }])
        .config;
        cfg.proxies
            .iter()
            .find(|p| p.name == "b")
            .and_then(CookiePersist::from_proxy)
    })
    .as_ref()
}

/// `Cookie` request headers (the input split into header values at LF) through the
/// persistence cookie's request side (`cookie SRV insert indirect maxidle maxlife`).
pub fn cookie(data: &[u8]) {
    let Some(p) = cookie_persist() else {
        return;
    };
    let values: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let headers: Vec<(&[u8], &[u8])> = values.iter().map(|v| (&b"Cookie"[..], *v)).collect();
    let servers = [
        CookieServer {
            cookie: Some("a"),
            usable: true,
        },
        CookieServer {
            cookie: Some("b"),
            usable: false,
        },
    ];
    let r = p.on_request(1_700_000_000, &headers, &servers);
    if let Some(s) = r.server {
        assert!(s < servers.len());
    }
}
