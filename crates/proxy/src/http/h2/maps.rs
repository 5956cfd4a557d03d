//! The header maps of HTTP/2 heads, recycled per thread: the `h2` crate hands every head it
//! receives over in a map of its own (a client's request, a server's answer) and takes every
//! head sent in a map it keeps, so a proxied request would make two maps and free two. The
//! maps received go back here, emptied, once their head is in the neutral head; the heads
//! sent take them ([`take`]): their tables are allocated once per thread, not per request.

use http::HeaderMap;
use std::cell::RefCell;

/// Maps kept per thread.
const KEEP: usize = 64;
/// A map that grew beyond this many fields is not kept (a rare large head).
const LARGEST: usize = 128;

thread_local! {
    static MAPS: RefCell<Vec<HeaderMap>> = const { RefCell::new(Vec::new()) };
}

/// An empty map: a recycled one, or new.
pub fn take() -> HeaderMap {
    MAPS.with(|m| m.borrow_mut().pop()).unwrap_or_default()
}

/// Gives a received head's map back once it is read (emptied only when it is kept: one
/// the thread has no room for is dropped as it is, not emptied first).
pub fn give(map: HeaderMap) {
    if map.capacity() == 0 || map.capacity() > LARGEST {
        return;
    }
    let full = MAPS.with(|m| m.borrow().len() >= KEEP);
    if full {
        return;
    }
    let mut map = map;
    map.clear();
    MAPS.with(|m| m.borrow_mut().push(map));
}

/// `map` emptied for another head (or another map, if it is not one to keep): one to keep is
/// emptied where it is, not put in the thread's list and taken out again.
pub fn recycle(mut map: HeaderMap) -> HeaderMap {
    if map.capacity() == 0 || map.capacity() > LARGEST {
        return take();
    }
    map.clear();
    map
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_map_given_back_is_taken_again_empty() {
        let mut m = super::take();
        m.insert("x-a", http::HeaderValue::from_static("1"));
        let cap = m.capacity();
        super::give(m);
        let again = super::take();
        assert!(again.is_empty());
        assert_eq!(again.capacity(), cap);
        // Recycled: the same tables, emptied.
        let mut m = again;
        m.insert("x-b", http::HeaderValue::from_static("2"));
        let recycled = super::recycle(m);
        assert!(recycled.is_empty());
        assert_eq!(recycled.capacity(), cap);
    }
}
