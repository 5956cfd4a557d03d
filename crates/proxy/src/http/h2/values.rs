//! The buffers of the HTTP/2 heads fulcrum sends (a request to a server, an answer to a
//! client): each head's field values (and a request's target) are copied into one piece cut
//! from a per-thread block, not into an allocation of their own. A head sent lives until the
//! `h2` crate has encoded it, so a block (16 KB, a few hundred heads) is freed soon after the
//! last head cut from it is encoded; a head larger than a quarter of a block gets its own.

use bytes::{Bytes, BytesMut};
use std::cell::RefCell;

/// The size of a block.
const BLOCK: usize = 16 * 1024;

thread_local! {
    static CURRENT: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// A piece of `size` bytes written by `fill` (which must write no more than `size`).
pub fn cut(size: usize, fill: impl FnOnce(&mut BytesMut)) -> Bytes {
    if size > BLOCK / 4 {
        let mut own = BytesMut::with_capacity(size);
        fill(&mut own);
        return own.freeze();
    }
    CURRENT.with(|c| {
        let mut block = c.borrow_mut();
        if block.capacity() - block.len() < size {
            *block = BytesMut::with_capacity(BLOCK);
        }
        fill(&mut block);
        block.split().freeze()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn pieces_share_a_block_and_stay_apart() {
        let a = super::cut(5, |b| b.extend_from_slice(b"hello"));
        let b = super::cut(3, |b| b.extend_from_slice(b"abc"));
        assert_eq!((&a[..], &b[..]), (&b"hello"[..], &b"abc"[..]));
        // Cut one after the other from the same block.
        assert_eq!(b.as_ptr(), a.as_ptr().wrapping_add(5));
        let big = super::cut(super::BLOCK, |b| b.resize(super::BLOCK, b'x'));
        assert_eq!(big.len(), super::BLOCK);
        // Many pieces: a new block when one is used up, the earlier pieces unchanged.
        let pieces: Vec<_> = (0..10_000u32)
            .map(|i| super::cut(4, |b| b.extend_from_slice(&i.to_be_bytes())))
            .collect();
        for (i, p) in pieces.iter().enumerate() {
            assert_eq!(&p[..], &(i as u32).to_be_bytes());
        }
        assert_eq!(&a[..], b"hello");
    }
}
