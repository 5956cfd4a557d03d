//! fulcrum: the Huffman-coded strings a peer sends again and again, decoded once.
//!
//! Peers that never index their fields (nginx writes `server`, `date`, `content-type`,
//! `content-length` as literals without indexing in every response) make the decoder
//! Huffman-decode the same bytes over and over (~400 instructions a string). A few recent
//! short strings are kept with their decoded text: the same encoded bytes always decode to
//! the same text, so a hit returns that text (a reference count) instead of decoding.
//! A string's text is kept the second time it is seen (the first time only its encoded bytes
//! are, in place): a peer sending new values costs no copies. Entries hold copies, so they
//! pin neither a frame nor the decoder's buffer; a string that fails to decode is never
//! cached. (nginx sends its fields as literals *with* incremental indexing but never refers
//! to them: those are cached too; never-indexed literals are not.)

use bytes::Bytes;

/// Direct-mapped: a string's slot is a hash of its length and three of its bytes.
const SLOTS: usize = 8;

/// Longer strings are decoded every time (and are rarely re-sent literals).
pub(crate) const MAX_ENCODED: usize = 48;

#[derive(Debug, Default)]
pub(crate) struct Cache {
    slots: [Option<Entry>; SLOTS],
    #[cfg(test)]
    pub(crate) hits: usize,
}

#[derive(Debug)]
struct Entry {
    encoded_len: u8,
    encoded: [u8; MAX_ENCODED],
    /// None: seen once.
    decoded: Option<Bytes>,
}

fn slot(encoded: &[u8]) -> usize {
    let n = encoded.len();
    let key = (n as u32)
        ^ (u32::from(encoded[0]) << 8)
        ^ (u32::from(encoded[n / 2]) << 16)
        ^ (u32::from(encoded[n - 1]) << 24);
    (key.wrapping_mul(0x9E37_79B9) >> (32 - SLOTS.trailing_zeros())) as usize
}

impl Cache {
    /// The decoded text of `encoded`, if it is cached.
    pub(crate) fn get(&mut self, encoded: &[u8]) -> Option<Bytes> {
        if encoded.is_empty() || encoded.len() > MAX_ENCODED {
            return None;
        }
        let entry = self.slots[slot(encoded)].as_ref()?;
        if entry.encoded[..usize::from(entry.encoded_len)] != *encoded {
            return None;
        }
        let decoded = entry.decoded.clone()?;
        #[cfg(test)]
        {
            self.hits += 1;
        }
        Some(decoded)
    }

    /// Remembers that `encoded` decodes to `decoded`: a copy of it if `encoded` was seen last
    /// time this slot was asked for, else only `encoded`.
    pub(crate) fn insert(&mut self, encoded: &[u8], decoded: &[u8]) {
        if encoded.is_empty() || encoded.len() > MAX_ENCODED {
            return;
        }
        let slot = &mut self.slots[slot(encoded)];
        if let Some(entry) = slot {
            if entry.encoded[..usize::from(entry.encoded_len)] == *encoded {
                entry.decoded = Some(Bytes::copy_from_slice(decoded));
                return;
            }
        }
        let mut entry = Entry {
            encoded_len: encoded.len() as u8,
            encoded: [0; MAX_ENCODED],
            decoded: None,
        };
        entry.encoded[..encoded.len()].copy_from_slice(encoded);
        *slot = Some(entry);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::hpack::huffman;

    use bytes::BytesMut;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Random strings from a small pool (so they repeat and collide in slots), looked up
    /// and inserted as the decoder does: every answer is what decoding gives.
    #[test]
    fn answers_what_decoding_gives() {
        let mut rng = StdRng::seed_from_u64(7);
        let pool: Vec<Vec<u8>> = (0..40)
            .map(|_| {
                let len = rng.gen_range(0..70);
                (0..len).map(|_| rng.gen()).collect()
            })
            .collect();
        let mut cache = Cache::default();
        let mut buf = BytesMut::new();
        for _ in 0..20_000 {
            let plain = &pool[rng.gen_range(0..pool.len())];
            let mut encoded = BytesMut::new();
            huffman::encode(plain, &mut encoded);
            match cache.get(&encoded) {
                Some(decoded) => assert_eq!(&decoded[..], &plain[..]),
                None => {
                    let decoded = huffman::decode(&encoded, &mut buf).unwrap();
                    assert_eq!(&decoded[..], &plain[..]);
                    cache.insert(&encoded, &decoded);
                }
            }
        }
        assert!(cache.hits > 1_000, "hits: {}", cache.hits);
    }

    #[test]
    fn long_and_empty_strings_are_not_cached() {
        let mut cache = Cache::default();
        let long = [0xffu8; MAX_ENCODED + 1];
        cache.insert(&long, b"x");
        assert_eq!(cache.get(&long), None);
        cache.insert(b"", b"");
        assert_eq!(cache.get(b""), None);
        cache.insert(b"\x9c", b"x");
        assert_eq!(cache.get(b"\x9c"), None, "seen once");
        cache.insert(b"\x9c", b"x");
        assert_eq!(cache.get(b"\x9c").as_deref(), Some(&b"x"[..]));
        assert_eq!(cache.get(b"\x9d"), None);
    }
}
