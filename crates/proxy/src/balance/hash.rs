//! HAProxy's hashing for `balance source|uri|url_param|hdr`: which bytes are hashed and how.
//!
//! Map-based hashing (HAProxy's default `hash-type map-based`): `source` XORs the address's
//! 32-bit words (no avalanche mixing, as HAProxy 2.x: 127.0.0.N walks the map in order);
//! `uri`, `url_param` and `hdr` use the sdbm hash. The result indexes the weighted server map modulo its
//! total weight (see `map.rs`). `full_hash` (fulcrum_sample::hash) is HAProxy's avalanche, for `hash-type
//! ... avalanche`.

use super::PickInput;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Source,
    Uri {
        whole: bool,
        len: Option<u32>,
        depth: Option<u32>,
    },
    /// `balance url_param NAME`: the value of NAME in the query string.
    UrlParam(Box<[u8]>),
    Header {
        use_domain_only: bool,
    },
}

/// HAProxy's hash functions live in the sample-language crate (its `sdbm` converter is
/// the same function): one copy, tested against haproxy there.
pub use fulcrum_sample::hash::sdbm;

pub fn source_hash(ip: IpAddr) -> u32 {
    let h = match ip {
        IpAddr::V4(v4) => u32::from(v4),
        IpAddr::V6(v6) => {
            let o = v6.octets();
            o.chunks_exact(4).fold(0u32, |h, w| {
                h ^ u32::from_be_bytes([w[0], w[1], w[2], w[3]])
            })
        }
    };
    h
}

/// The part of the request target `balance uri` hashes.
pub fn uri_part(uri: &[u8], whole: bool, len: Option<u32>, depth: Option<u32>) -> &[u8] {
    let limit = len
        .filter(|l| *l > 0)
        .map_or(uri.len(), |l| (l as usize).min(uri.len()));
    let uri = &uri[..limit];
    let mut slashes = 0u32;
    for (i, &c) in uri.iter().enumerate() {
        if c == b'/' {
            slashes += 1;
            if let Some(d) = depth.filter(|d| *d > 0) {
                if slashes == d + 1 {
                    return &uri[..i];
                }
            }
        } else if c == b'?' && !whole {
            return &uri[..i];
        }
    }
    uri
}

/// `balance url_param NAME`: the value of the first `NAME=` parameter of the query string, as
/// HAProxy finds it (parameters separated by `&`, the value up to the next `&` or the end);
/// `None` when there is no query string or no such parameter.
pub fn url_param<'a>(uri: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let q = uri.iter().position(|&c| c == b'?')?;
    uri[q + 1..].split(|&c| c == b'&').find_map(|p| {
        p.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(b"="))
    })
}

/// `use_domain_only`: the label before the top-level domain (`haproxy.1wt.eu` → `1wt`).
pub fn domain_part(host: &[u8]) -> &[u8] {
    let host = match host.iter().position(|&c| c == b':') {
        Some(p) => &host[..p],
        None => host,
    };
    let mut labels = host.rsplit(|&c| c == b'.');
    let _tld = labels.next();
    labels.next().unwrap_or(host)
}

/// The hash for this request, or `None` when the hashed value is missing (→ round robin).
pub fn hash_of(key: &Key, input: &PickInput<'_>) -> Option<u32> {
    match *key {
        Key::Source => input.src.map(source_hash),
        Key::Uri { whole, len, depth } => Some(sdbm(uri_part(input.uri, whole, len, depth))),
        Key::UrlParam(ref name) => url_param(input.uri, name).map(sdbm),
        Key::Header { use_domain_only } => {
            let v = input.header?;
            Some(sdbm(if use_domain_only { domain_part(v) } else { v }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_stops_at_query_unless_whole() {
        assert_eq!(uri_part(b"/a/b?x=1", false, None, None), b"/a/b");
        assert_eq!(uri_part(b"/a/b?x=1", true, None, None), b"/a/b?x=1");
        assert_eq!(uri_part(b"/a/b/c", false, None, Some(2)), b"/a/b");
        assert_eq!(uri_part(b"/abcdef", false, Some(3), None), b"/ab");
    }

    #[test]
    fn url_param_value_as_haproxy_finds_it() {
        assert_eq!(url_param(b"/a?user=bob&x=1", b"user"), Some(&b"bob"[..]));
        assert_eq!(url_param(b"/a?x=1&user=bob", b"user"), Some(&b"bob"[..]));
        assert_eq!(url_param(b"/a?user=", b"user"), Some(&b""[..]));
        assert_eq!(
            url_param(b"/a?username=bob", b"user"),
            None,
            "the whole name must match"
        );
        assert_eq!(url_param(b"/a?xuser=bob", b"user"), None);
        assert_eq!(
            url_param(b"/user=bob", b"user"),
            None,
            "only the query string"
        );
        assert_eq!(url_param(b"/a?user", b"user"), None, "no '='");
    }

    #[test]
    fn domain_only_takes_the_label_before_the_tld() {
        assert_eq!(domain_part(b"haproxy.1wt.eu"), b"1wt");
        assert_eq!(domain_part(b"localhost:80"), b"localhost");
    }

    #[test]
    fn sdbm_matches_reference_values() {
        assert_eq!(sdbm(b""), 0);
        assert_eq!(sdbm(b"a"), 97);
        // 'a','b': 98 + (97<<6) + (97<<16) - 97
        assert_eq!(sdbm(b"ab"), 98 + (97 << 6) + (97 << 16) - 97);
    }
}
