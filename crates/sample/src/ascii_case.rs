//! The `lower` and `upper` converters' case change, eight bytes at a time: std's
//! `make_ascii_lowercase` steps a byte at a time (~6 instructions a byte outside an LTO
//! build), and rules lower a `Host` or `User-Agent` value per request. Only ASCII letters
//! change; other bytes (UTF-8 included) are left as they are, as std's.

const ONES: u64 = 0x0101_0101_0101_0101;

/// Bit 0x20 in each byte of `x` that is an ASCII byte from `lo` to `hi` (SWAR: no carry
/// crosses a byte, bytes with the high bit set never match).
#[inline(always)]
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let low7 = x & (0x7f * ONES);
    let from_lo = low7 + u64::from(0x80 - lo) * ONES;
    let past_hi = low7 + u64::from(0x80 - hi - 1) * ONES;
    (from_lo & !past_hi & !x & (0x80 * ONES)) >> 2
}

#[inline(always)]
fn each_word(s: &mut [u8], f: impl Fn(u64) -> u64, byte: impl Fn(&mut u8)) {
    let n = s.len();
    if n < 8 {
        s.iter_mut().for_each(byte);
        return;
    }
    let word = |s: &mut [u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        s[i..i + 8].copy_from_slice(&f(u64::from_le_bytes(w)).to_le_bytes());
    };
    let mut i = 0;
    while i + 8 <= n {
        word(s, i);
        i += 8;
    }
    // the last eight bytes, overlapping what was changed (changing a byte twice is once)
    if i < n {
        word(s, n - 8);
    }
}

/// `s.make_ascii_lowercase()`.
pub fn lower(s: &mut [u8]) {
    each_word(s, |x| x | in_range(x, b'A', b'Z'), u8::make_ascii_lowercase);
}

/// `s.make_ascii_uppercase()`.
pub fn upper(s: &mut [u8]) {
    each_word(
        s,
        |x| x & !in_range(x, b'a', b'z'),
        u8::make_ascii_uppercase,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_std_on_every_byte_and_length() {
        // every byte value at every position of strings of 0..=20 bytes
        for len in 0..=20usize {
            for at in 0..len.max(1) {
                for b in 0..=255u8 {
                    let mut s: Vec<u8> = (0..len).map(|i| b"aZ@[`{~\x80"[i % 8]).collect();
                    if len > 0 {
                        s[at] = b;
                    }
                    let (mut l, mut u) = (s.clone(), s.clone());
                    lower(&mut l);
                    upper(&mut u);
                    assert_eq!(l, s.to_ascii_lowercase(), "lower {s:?}");
                    assert_eq!(u, s.to_ascii_uppercase(), "upper {s:?}");
                }
            }
        }
    }
}
