//! The buffers of one HTTP transaction (client and server byte buffers, the request and
//! response heads, the output and scratch vectors), lent by a per-thread pool (`buf_pool`):
//! a session takes a set when a request's first bytes arrive and gives it back when the
//! transaction ends with the connection idle, so an idle keep-alive connection holds none
//! (HAProxy's buffer pools do the same). Taking and giving back moves a few pointers; the
//! allocations live on in the pool, so a busy thread allocates nothing per request once warm.
//! Sets the thread did not need lately are freed at its ticks ([`decay`]): a burst of
//! concurrent transactions (clients that then stay idle) does not leave ~18 KB per set of its
//! peak behind.

use super::message::Message;
use crate::buf_pool::{Held, Pool};
use bytes::BytesMut;
use std::cell::RefCell;

/// One transaction's buffers.
#[derive(Debug, Default)]
pub struct Bufs {
    /// Bytes from the client (request head, body, the next pipelined request).
    pub cbuf: BytesMut,
    /// Bytes from the server.
    pub sbuf: BytesMut,
    pub req: Message,
    pub res: Message,
    /// A head being sent.
    pub out: Vec<u8>,
    /// Rendered rule values, interim responses.
    pub scratch: Vec<u8>,
}

impl Bufs {
    /// Whether this set holds no memory (taken back, or never given). An HTTP/2 stream's set
    /// may hold its heads only (its byte buffers are taken when a body comes): kept.
    pub fn is_empty_set(&self) -> bool {
        self.cbuf.capacity() == 0 && self.sbuf.capacity() == 0 && !self.req.holds_memory()
    }
}

impl Held for Bufs {
    /// Its byte buffers (the heads' arenas left out).
    fn bytes(&self) -> usize {
        self.cbuf.capacity() + self.sbuf.capacity() + self.out.capacity() + self.scratch.capacity()
    }
}

thread_local! {
    static POOL: RefCell<Pool<Bufs>> = const { RefCell::new(Pool::new()) };
}

/// A set of buffers with room for `bufsize` bytes from the client: a pooled one, or new
/// (`bufsize` 0: the client buffer is left to grow when bytes come, as an HTTP/2 stream's).
pub fn take(bufsize: usize) -> Bufs {
    let pooled = POOL.with(|p| p.borrow_mut().take());
    let mut b = pooled.unwrap_or_else(|| Bufs {
        req: Message::new(),
        res: Message::new(),
        ..Bufs::default()
    });
    // `reserve` moves the client buffer back to the start of its memory: each transaction
    // reads into the same first cache lines, as HAProxy's buffers. The server buffer is
    // rewound before each answer is read (`exchange/head.rs`), whoever held it before.
    if b.cbuf.capacity() < bufsize {
        b.cbuf.reserve(bufsize);
    }
    b
}

/// Gives a set back (emptied; kept for the next transaction of this thread, or freed).
pub fn give(b: Bufs) {
    let mut b = b;
    give_back(b.parts());
}

/// A holder's own places for a set's parts (an HTTP/1 session keeps them as its fields):
/// [`lend`] and [`give_back`] move each part between them and the pool's slot, once, rather
/// than a whole set through a few calls.
pub struct Parts<'a> {
    pub cbuf: &'a mut BytesMut,
    pub sbuf: &'a mut BytesMut,
    pub req: &'a mut Message,
    pub res: &'a mut Message,
    pub out: &'a mut Vec<u8>,
    pub scratch: &'a mut Vec<u8>,
}

impl Parts<'_> {
    /// Swaps the parts with a set's (a pooled set's for empty ones, or the other way).
    #[inline]
    fn exchange(&mut self, set: &mut Bufs) {
        use std::mem::swap;
        swap(self.cbuf, &mut set.cbuf);
        swap(self.sbuf, &mut set.sbuf);
        swap(self.req, &mut set.req);
        swap(self.res, &mut set.res);
        swap(self.out, &mut set.out);
        swap(self.scratch, &mut set.scratch);
    }
}

impl Bufs {
    fn parts(&mut self) -> Parts<'_> {
        Parts {
            cbuf: &mut self.cbuf,
            sbuf: &mut self.sbuf,
            req: &mut self.req,
            res: &mut self.res,
            out: &mut self.out,
            scratch: &mut self.scratch,
        }
    }
}

/// Puts a set into a holder's empty places ([`take`]'s, without moving a whole set).
pub fn lend(mut to: Parts<'_>, bufsize: usize) {
    if !POOL.with(|p| p.borrow_mut().take_with(|set| to.exchange(set))) {
        *to.req = Message::new();
        *to.res = Message::new();
    }
    if to.cbuf.capacity() < bufsize {
        to.cbuf.reserve(bufsize);
    }
}

/// Takes a holder's set back (emptied; kept for the next transaction of this thread, or
/// freed), leaving its places empty ([`give`]'s, without moving a whole set).
pub fn give_back(mut from: Parts<'_>) {
    if from.cbuf.capacity() == 0 && from.sbuf.capacity() == 0 && !from.req.holds_memory() {
        // Nothing to keep (an HTTP/2 stream's set may hold its heads only: kept).
        *from.res = Message::default();
        *from.out = Vec::new();
        *from.scratch = Vec::new();
        return;
    }
    from.cbuf.clear();
    from.sbuf.clear();
    from.out.clear();
    from.scratch.clear();
    POOL.with(|p| p.borrow_mut().give_with(|set| from.exchange(set)));
}

/// A worker's tick (every `park::PARK_AFTER`): frees the pooled sets and byte buffers
/// (`buf_pool`) that went unused lately, as HAProxy frees a pool's objects beyond its recent
/// need, and tells `trim` what it freed.
pub fn decay() {
    let freed = POOL.with(|p| p.borrow_mut().decay()) + crate::buf_pool::decay();
    if freed > 0 {
        crate::trim::freed(freed as u64);
    }
}

/// Sets waiting in this thread's pool.
pub fn pooled() -> usize {
    POOL.with(|p| p.borrow().pooled())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_reused_and_an_empty_set_is_not_kept() {
        let before = pooled();
        let b = take(4096);
        assert!(b.cbuf.capacity() >= 4096);
        let ptr = b.cbuf.as_ptr();
        give(b);
        assert_eq!(pooled(), before + 1);
        let again = take(4096);
        assert_eq!(again.cbuf.as_ptr(), ptr, "the pooled buffer is lent again");
        assert_eq!(pooled(), before);
        give(Bufs::default());
        assert_eq!(pooled(), before, "a set holding nothing is dropped");
        give(again);
    }

    #[test]
    fn a_holders_places_get_a_pooled_set_and_give_it_back_empty() {
        struct Holder {
            cbuf: BytesMut,
            sbuf: BytesMut,
            req: Message,
            res: Message,
            out: Vec<u8>,
            scratch: Vec<u8>,
        }
        let mut h = Holder {
            cbuf: BytesMut::new(),
            sbuf: BytesMut::new(),
            req: Message::default(),
            res: Message::default(),
            out: Vec::new(),
            scratch: Vec::new(),
        };
        macro_rules! parts {
            () => {
                Parts {
                    cbuf: &mut h.cbuf,
                    sbuf: &mut h.sbuf,
                    req: &mut h.req,
                    res: &mut h.res,
                    out: &mut h.out,
                    scratch: &mut h.scratch,
                }
            };
        }
        let before = pooled();
        let pooled_set = take(4096);
        let ptr = pooled_set.cbuf.as_ptr();
        give(pooled_set);
        lend(parts!(), 4096);
        assert_eq!(h.cbuf.as_ptr(), ptr, "the pooled set is lent");
        assert!(h.req.holds_memory() && h.res.holds_memory());
        assert_eq!(pooled(), before);
        h.cbuf.extend_from_slice(b"GET / HTTP/1.1\r\n");
        h.out.extend_from_slice(b"head");
        give_back(parts!());
        assert_eq!(pooled(), before + 1);
        assert_eq!(h.cbuf.capacity(), 0, "the holder keeps nothing");
        assert!(!h.req.holds_memory() && h.out.capacity() == 0);
        // Nothing left in the set it gets next, and nothing held is given back as a set.
        lend(parts!(), 4096);
        assert_eq!(h.cbuf.as_ptr(), ptr);
        assert!(h.cbuf.is_empty() && h.out.is_empty());
        give_back(parts!());
        give_back(parts!());
        assert_eq!(pooled(), before + 1, "empty places give back no set");
        // A pool with nothing: a new set.
        let _ = take(0);
        lend(parts!(), 4096);
        assert!(h.cbuf.capacity() >= 4096 && h.req.holds_memory());
        give_back(parts!());
    }

    #[test]
    fn a_lent_set_reads_from_the_start_of_its_client_buffer() {
        use bytes::Buf;
        let mut b = take(4096);
        let start = b.cbuf.as_ptr();
        // A request read, then consumed (as the exchange forwards it).
        b.cbuf.extend_from_slice(&[b'y'; 46]);
        b.cbuf.advance(46);
        give(b);
        let again = take(4096);
        assert_eq!(again.cbuf.as_ptr(), start, "the client buffer starts over");
        assert!(again.cbuf.capacity() >= 4096);
        give(again);
    }

    #[test]
    fn sets_unused_for_a_window_are_freed() {
        // Each test runs on a thread of its own: this pool is this test's.
        let burst: Vec<Bufs> = (0..crate::buf_pool::FLOOR + 10)
            .map(|_| take(4096))
            .collect();
        for b in burst {
            give(b);
        }
        assert_eq!(pooled(), crate::buf_pool::FLOOR + 10);
        // Three sets in use at once every tick (the first tick saw the burst empty the pool).
        for _ in 0..=crate::buf_pool::WINDOW {
            let busy: Vec<Bufs> = (0..3).map(|_| take(4096)).collect();
            decay();
            busy.into_iter().for_each(give);
        }
        assert_eq!(
            pooled(),
            crate::buf_pool::FLOOR + 3,
            "the sets needed lately and FLOOR more are kept"
        );
        // Quiet: down to the floor, not below.
        for _ in 0..2 * crate::buf_pool::WINDOW {
            decay();
        }
        assert_eq!(pooled(), crate::buf_pool::FLOOR);
    }
}
