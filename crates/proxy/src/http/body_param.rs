//! `req.body_param([name])`: a parameter of an `application/x-www-form-urlencoded` request
//! body (`a=1&b=2`), as HAProxy 2.6 finds it: the first parameter named `name` exactly (any
//! parameter when `name` is empty), its value as it is in the body (not URL-decoded); and
//! the de-chunking of a buffered chunked body for `req.body`.

/// The value of the first matching parameter of `body`.
pub fn find<'b>(body: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
    body.split(|&b| b == b'&').find_map(|p| {
        let (k, v) = match p.iter().position(|&b| b == b'=') {
            Some(eq) => (&p[..eq], &p[eq + 1..]),
            None => (p, &b""[..]),
        };
        (name.is_empty() || k == name).then_some(v)
    })
}

/// The body bytes of a chunked request body's complete chunks at the start of `raw`.
pub fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Ok(httparse::Status::Complete((n, size))) = httparse::parse_chunk_size(&raw[at..]) {
        let Ok(size) = usize::try_from(size) else {
            break;
        };
        let start = at + n;
        if size == 0 || raw.len() < start + size {
            break;
        }
        out.extend_from_slice(&raw[start..start + size]);
        at = start + size + 2;
        if at > raw.len() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_as_haproxy_finds_them() {
        let b = b"user=bob&Pass=a%20b&flag";
        assert_eq!(find(b, b"user"), Some(&b"bob"[..]));
        assert_eq!(find(b, b"pass"), None);
        assert_eq!(find(b, b"Pass"), Some(&b"a%20b"[..]));
        assert_eq!(find(b, b"flag"), Some(&b""[..]));
        assert_eq!(find(b, b""), Some(&b"bob"[..]));
    }

    #[test]
    fn complete_chunks_only() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
        assert_eq!(dechunk(b"3\r\nabc\r\n5\r\nde"), b"abc");
        assert_eq!(dechunk(b"zz\r\n"), b"");
    }
}
