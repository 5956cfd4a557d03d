//! `process-vary on`: the secondary key HAProxy 2.6's cache keeps beside the object key for a
//! response with `Vary` (`src/cache.c`), as pure functions of the messages.
//!
//! Only `Vary: accept-encoding` and `Vary: referer` are run (any other name, `*` included,
//! and the response is not stored). The key is 8 bytes, as `show cache` prints it: the
//! Accept-Encoding part (a bitmap of the encodings a request accepts; in a stored object,
//! of the response's own `Content-Encoding`) and the Referer part (the CRC-32 of the first
//! `Referer` value, zeros without one). A stored object answers a request when every
//! encoding it carries is accepted and the Referer parts are equal. As in HAProxy, the
//! stored Accept-Encoding part is the response's encoding even when only `Referer` varies,
//! while the request's is then zeros: such an object is stored but never served (measured on
//! haproxy 2.6.12).

use super::message::{trim, Message};

/// Vary signature bits.
pub const ACCEPT_ENCODING: u32 = 1;
pub const REFERER: u32 = 2;

const GZIP: u32 = 1;
const DEFLATE: u32 = 1 << 1;
const BR: u32 = 1 << 2;
const COMPRESS: u32 = 1 << 3;
const AES128GCM: u32 = 1 << 4;
const EXI: u32 = 1 << 5;
const PACK200_GZIP: u32 = 1 << 6;
const ZSTD: u32 = 1 << 7;
const IDENTITY: u32 = 1 << 8;
const STAR: u32 = 1 << 9;
const OTHER: u32 = 1 << 10;

/// A request with this many Accept-Encoding values or more is not looked up nor stored.
const MAX_ENCODINGS: usize = 16;

/// Every comma-separated element of every `name` field, trimmed; empty ones included (an
/// empty `Accept-Encoding` still counts as one).
fn elements<'a>(m: &'a Message, name: &'a [u8]) -> Vec<&'a [u8]> {
    m.headers(name)
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim)
        .collect()
}

/// The response's Vary signature; `None` when it names a header HAProxy 2.6 does not vary
/// on (the response is then not stored).
pub fn signature(res: &Message) -> Option<u32> {
    let mut sig = 0;
    for v in elements(res, b"vary") {
        if v.eq_ignore_ascii_case(b"accept-encoding") {
            sig |= ACCEPT_ENCODING;
        } else if v.eq_ignore_ascii_case(b"referer") {
            sig |= REFERER;
        } else {
            return None;
        }
    }
    Some(sig)
}

/// HAProxy's `parse_encoding_value`: the encoding's bit (0 for a name that only starts like
/// a known one, as `x-foo`) and whether its weight is `q=0`; `Err` for an encoding it does
/// not know at all or a malformed weight.
fn parse_encoding(v: &[u8]) -> Result<(u32, bool), ()> {
    let (&first, rest) = v.split_first().ok_or(())?;
    let check = |name: &[u8], bit: u32| -> Option<(u32, usize)> {
        rest.starts_with(&name[1..])
            .then_some((bit, name.len() - 1))
    };
    let found = match first {
        b'a' => check(b"aes128gcm", AES128GCM),
        b'b' => check(b"br", BR),
        b'c' => check(b"compress", COMPRESS),
        b'd' => check(b"deflate", DEFLATE),
        b'e' => check(b"exi", EXI),
        b'g' => check(b"gzip", GZIP),
        b'i' => check(b"identity", IDENTITY),
        b'p' => check(b"pack200-gzip", PACK200_GZIP),
        b'x' => check(b"x-gzip", GZIP).or_else(|| check(b"x-compress", COMPRESS)),
        b'z' => check(b"zstd", ZSTD),
        b'*' => Some((STAR, 0)),
        _ => return Err(()),
    };
    let Some((bit, used)) = found else {
        return Ok((0, false));
    };
    let weight = trim_start(&rest[used..]);
    if weight.is_empty() {
        return Ok((bit, false));
    }
    if weight[0] != b';' {
        return Err(());
    }
    Ok((bit, trim_start(&weight[1..]) == b"q=0"))
}

fn trim_start(v: &[u8]) -> &[u8] {
    let n = v.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
    &v[n..]
}

/// The encodings a request accepts (HAProxy's `accept_encoding_normalizer`): identity unless
/// refused with `q=0`, `*` for all, every encoding without an Accept-Encoding field; `None`
/// past 15 values.
fn accepted(req: &Message) -> Option<u32> {
    let (mut bitmap, mut refused, mut count) = (IDENTITY, u32::MAX, 0);
    for v in elements(req, b"accept-encoding") {
        if count == MAX_ENCODINGS {
            break;
        }
        count += 1;
        if v.is_empty() {
            continue;
        }
        match parse_encoding(&v.to_ascii_lowercase()) {
            Ok((bit, true)) => refused &= !bit,
            Ok((bit, false)) => bitmap |= bit,
            Err(()) => bitmap |= OTHER,
        }
    }
    if bitmap & STAR != 0 {
        bitmap = u32::MAX;
    }
    bitmap &= refused;
    if count == 0 {
        bitmap = u32::MAX;
    }
    (count < MAX_ENCODINGS).then_some(bitmap)
}

/// The request's secondary key for a signature (`None`: not looked up nor stored).
pub fn request_key(req: &Message, sig: u32) -> Option<[u8; 8]> {
    let mut k = [0u8; 8];
    if sig & ACCEPT_ENCODING != 0 {
        k[..4].copy_from_slice(&accepted(req)?.to_le_bytes());
    }
    if sig & REFERER != 0 {
        if let Some(r) = req.header(b"referer") {
            k[4..].copy_from_slice(&fulcrum_sample::hash::crc32(r).to_le_bytes());
        }
    }
    Some(k)
}

/// The key an object is stored under: the request's, its Accept-Encoding part replaced by
/// the response's `Content-Encoding` (identity without one); `None` for an encoding HAProxy
/// does not know (not stored).
pub fn stored_key(res: &Message, request: [u8; 8]) -> Option<[u8; 8]> {
    let mut bitmap = 0;
    for v in elements(res, b"content-encoding") {
        bitmap |= parse_encoding(v).ok()?.0;
    }
    if bitmap == 0 {
        bitmap = IDENTITY;
    }
    let mut k = request;
    k[..4].copy_from_slice(&bitmap.to_le_bytes());
    Some(k)
}

/// Whether a stored object's key answers a request's (HAProxy's `secondary_key_cmp`).
pub fn same(stored: &[u8; 8], request: &[u8; 8]) -> bool {
    let word = |k: &[u8; 8]| u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
    let (s, r) = (word(stored), word(request));
    s & OTHER == 0 && s & r == s && stored[4..] == request[4..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(fields: &str) -> Message {
        let mut m = Message::new();
        let text = format!("GET / HTTP/1.1\r\nHost: h\r\n{fields}\r\n");
        assert!(matches!(m.parse_request(text.as_bytes()), Ok(Some(_))));
        m
    }

    fn res(fields: &str) -> Message {
        let mut m = Message::new();
        let text = format!("HTTP/1.1 200 OK\r\n{fields}content-length: 0\r\n\r\n");
        assert!(matches!(m.parse_response(text.as_bytes()), Ok(Some(_))));
        m
    }

    #[test]
    fn signatures() {
        assert_eq!(signature(&res("")), Some(0));
        assert_eq!(signature(&res("Vary: Accept-Encoding\r\n")), Some(1));
        assert_eq!(
            signature(&res("Vary: accept-encoding, REFERER\r\n")),
            Some(3)
        );
        assert_eq!(
            signature(&res("Vary: referer\r\nVary: accept-encoding\r\n")),
            Some(3)
        );
        assert_eq!(signature(&res("Vary: *\r\n")), None);
        assert_eq!(signature(&res("Vary: User-Agent\r\n")), None);
    }

    #[test]
    fn accepted_encodings_as_haproxy() {
        let ae = |v: &str| accepted(&req(&format!("Accept-Encoding: {v}\r\n")));
        assert_eq!(accepted(&req("")), Some(u32::MAX), "no field: anything");
        assert_eq!(ae("gzip"), Some(IDENTITY | GZIP));
        assert_eq!(ae("GZIP, br;q=0.5"), Some(IDENTITY | GZIP | BR));
        assert_eq!(ae("identity;q=0, gzip"), Some(GZIP));
        assert_eq!(ae("*"), Some(u32::MAX));
        assert_eq!(ae("*, gzip;q=0"), Some(!GZIP));
        assert_eq!(ae("foo"), Some(IDENTITY | OTHER));
        assert_eq!(ae("x-foo"), Some(IDENTITY), "a prefix of x-gzip: ignored");
        assert_eq!(ae(""), Some(IDENTITY), "an empty field counts");
        let many = vec!["gzip"; 16].join(",");
        assert_eq!(ae(&many), None);
    }

    #[test]
    fn keys_and_matching() {
        let both = ACCEPT_ENCODING | REFERER;
        let r = request_key(&req("Accept-Encoding: gzip\r\nReferer: a\r\n"), both).expect("key");
        assert_eq!(r[..4], (IDENTITY | GZIP).to_le_bytes());
        assert_eq!(r[4..], 0xe8b7_be43u32.to_le_bytes(), "crc32 of 'a'");
        let plain = stored_key(&res(""), r).expect("identity");
        assert_eq!(plain[..4], IDENTITY.to_le_bytes());
        let gz = stored_key(&res("Content-Encoding: gzip\r\n"), r).expect("gzip");
        assert!(same(&plain, &r) && same(&gz, &r));
        let id_only = request_key(&req("Accept-Encoding: identity\r\nReferer: a\r\n"), both);
        assert!(!same(&gz, &id_only.expect("key")), "gzip not accepted");
        let other_ref = request_key(&req("Referer: b\r\n"), both).expect("key");
        assert!(!same(&plain, &other_ref));
        assert_eq!(stored_key(&res("Content-Encoding: foo\r\n"), r), None);
        // Referer alone: the request's encoding part is zeros, the object's is not
        let ro = request_key(&req("Referer: a\r\n"), REFERER).expect("key");
        let stored = stored_key(&res(""), ro).expect("stored");
        assert!(!same(&stored, &ro), "stored, never served, as haproxy 2.6");
    }
}
