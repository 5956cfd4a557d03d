//! What `beg`/`end`/`dom`/`dir` lookups try before hashing a piece of the sample: the key
//! lengths present (ascending) and which bytes keys start and end with. A `beg` lookup of
//! `/shop/item.html` against `/api` and `/v2` hashes nothing: its 4th byte is no key's last
//! byte, its 3rd neither.
//!
//! The byte sets say "maybe": a removed key leaves its bits (the next clear drops them).

/// A set of bytes.
#[derive(Debug, Clone, Default)]
struct Bytes([u64; 4]);

impl Bytes {
    fn add(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    fn has(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct Edges {
    /// Each key length present, ascending, with how many keys have it.
    lens: Vec<(usize, usize)>,
    first: Bytes,
    last: Bytes,
}

impl Edges {
    pub(super) fn add(&mut self, key: &[u8]) {
        match self.lens.binary_search_by_key(&key.len(), |&(l, _)| l) {
            Ok(i) => self.lens[i].1 += 1,
            Err(i) => self.lens.insert(i, (key.len(), 1)),
        }
        if let (Some(&f), Some(&l)) = (key.first(), key.last()) {
            self.first.add(f);
            self.last.add(l);
        }
    }

    pub(super) fn remove(&mut self, key: &[u8]) {
        if let Ok(i) = self.lens.binary_search_by_key(&key.len(), |&(l, _)| l) {
            self.lens[i].1 -= 1;
            if self.lens[i].1 == 0 {
                self.lens.remove(i);
            }
        }
    }

    /// The key lengths from `min` to `max`, ascending.
    pub(super) fn lens(
        &self,
        min: usize,
        max: usize,
    ) -> impl DoubleEndedIterator<Item = usize> + '_ {
        let from = self.lens.partition_point(|&(l, _)| l < min);
        let to = self.lens.partition_point(|&(l, _)| l <= max).max(from);
        self.lens[from..to].iter().map(|&(l, _)| l)
    }

    /// Whether some key may be `piece`: empty, or its first and last bytes are some key's.
    pub(super) fn may_be(&self, piece: &[u8]) -> bool {
        match (piece.first(), piece.last()) {
            (Some(&f), Some(&l)) => self.first.has(f) && self.last.has(l),
            _ => true,
        }
    }
}
