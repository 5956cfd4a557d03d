//! Byte buffers of sample values, recycled per thread: a rule chain's string fetches,
//! converter outputs, map values and variables live only while a request is handled, and
//! each took a `malloc` and a `free` (~200 instructions a pair, ~10 pairs per request of a
//! 20-rule chain). [`copy`] takes a buffer a value gave back with [`give`] instead.
//!
//! A value that is not given back is freed as before: only the buffers' owners that know a
//! value's end (a rendered value, a cleared variable, a looked-up key) give them back.

use crate::value::Value;
use std::cell::RefCell;

/// Buffers kept per thread, and the largest kept (a body-sized value is freed). The buffers
/// of variables go back when their request ends: 20 connections with 3 variables each held
/// ~60 while some were given back, and at 32 one in four was freed and allocated again.
const KEEP: usize = 128;
const MAX_CAPACITY: usize = 4096;
/// The least a new buffer holds: the pool's buffers go round a request's values in no
/// order, and one sized for a short value (a method) grew again for a longer one (a
/// `User-Agent`): ~2 `realloc`s per request of a 20-rule chain.
const MIN_CAPACITY: usize = 64;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A copy of `b`, in a buffer given back earlier when there is one.
pub fn copy(b: &[u8]) -> Vec<u8> {
    let mut v = SPARE
        .try_with(|s| s.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| Vec::with_capacity(b.len().max(MIN_CAPACITY)));
    if v.capacity() < b.len() {
        v.reserve(b.len().max(MIN_CAPACITY));
    }
    v.extend_from_slice(b);
    v
}

/// Gives `v`'s buffer back for a later [`copy`] (freed when the thread keeps enough).
pub fn give(mut v: Vec<u8>) {
    // (a short buffer made elsewhere, `v4_text`'s, would grow in the next `copy`)
    if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&v.capacity()) {
        return;
    }
    v.clear();
    let _ = SPARE.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            if s.len() < KEEP {
                s.push(v);
            }
        }
    });
}

/// [`give`] of a string's, a binary's or a method's bytes.
pub fn give_value(v: Value) {
    if let Value::Str(b) | Value::Bin(b) | Value::Meth(b) = v {
        give(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_empty() {
        let mut v = Vec::with_capacity(100);
        v.extend_from_slice(b"old");
        give(Vec::with_capacity(MIN_CAPACITY - 1)); // not kept: too short
        let at = v.as_ptr();
        give(v);
        let c = copy(b"new");
        assert_eq!(c, b"new");
        assert_eq!(c.as_ptr(), at, "the buffer given back");
        let d = copy(b"x");
        assert!(d.capacity() >= MIN_CAPACITY, "a short buffer is not kept");
        give(Vec::with_capacity(MAX_CAPACITY + 1));
        let big = copy(b"x");
        assert!(big.capacity() <= MAX_CAPACITY, "a large buffer is not kept");
    }
}
