//! The dates HAProxy appends to inserted cookies with `maxidle`/`maxlife`
//! (`SRV=1|LLLLL|FFFFF`): seconds since the epoch divided by 4, as 5 characters of the base64
//! alphabet, most significant first (30 bits). Encoding rounds up (`(t + 3) >> 2`), decoding
//! gives back a multiple of 4; a value of 0 means "no date". Checked against haproxy 2.6.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes the date `secs` as HAProxy emits the "last seen" date.
pub fn encode_now(secs: u64) -> String {
    encode_raw((secs + 3) >> 2)
}

/// Encodes an already-decoded date (a multiple of 4) as HAProxy re-emits a kept first date.
pub fn encode_date(date: u64) -> String {
    encode_raw(date >> 2)
}

fn encode_raw(v: u64) -> String {
    (0..5)
        .rev()
        .map(|i| ALPHABET[((v >> (6 * i)) & 63) as usize] as char)
        .collect()
}

/// Decodes 5 characters into a date in seconds; None when malformed or zero.
pub fn decode(s: &[u8]) -> Option<u64> {
    if s.len() < 5 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[..5] {
        let d = ALPHABET.iter().position(|&a| a == c)? as u64;
        v = (v << 6) | d;
    }
    (v != 0).then_some(v << 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_haproxy_output() {
        // haproxy 2.6 at 1795426416 emitted "awQIc"
        assert_eq!(encode_now(1795426416), "awQIc");
        assert_eq!(decode(b"awQIc"), Some(((1795426416 + 3) >> 2) << 2));
        assert_eq!(decode(b"AAAAA"), None, "zero means no date");
        assert_eq!(decode(b"aw!Ic"), None);
        assert_eq!(decode(b"aw"), None);
        let d = decode(b"awQIc").unwrap_or(0);
        assert_eq!(encode_date(d), "awQIc");
    }
}
