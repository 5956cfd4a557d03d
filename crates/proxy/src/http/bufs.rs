//! The buffers of one HTTP transaction (client and server byte buffers, the request and
//! response heads, the output and scratch vectors), lent by a per-thread pool (`buf_pool`):
//! a session takes a set when a request's first bytes arrive and gives it back when the
//! transaction ends with the connection idle, so an idle keep-alive connection holds none
//! (HAProxy's buffer pools do the same). A holder keeps its set boxed (an empty shell between
//! transactions): taking and giving back swap its box with a pool slot's, a pointer; the
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

impl Held for Box<Bufs> {
    fn bytes(&self) -> usize {
        (**self).bytes()
    }
}

thread_local! {
    /// The pooled sets, then empty shells ([`Pool`]): a holder swaps its box with a slot's.
    static POOL: RefCell<Pool<Box<Bufs>>> = const { RefCell::new(Pool::new()) };
}

/// A set of buffers with room for `bufsize` bytes from the client: a pooled one, or new
/// (`bufsize` 0: the client buffer is left to grow when bytes come, as an HTTP/2 stream's).
pub fn take(bufsize: usize) -> Box<Bufs> {
    let pooled = POOL.with(|p| p.borrow_mut().take_out());
    let mut b = pooled.unwrap_or_else(|| {
        Box::new(Bufs {
            req: Message::new(),
            res: Message::new(),
            ..Bufs::default()
        })
    });
    // `reserve` moves the client buffer back to the start of its memory: each transaction
    // reads into the same first cache lines, as HAProxy's buffers. The server buffer is
    // rewound before each answer is read (`exchange/head.rs`), whoever held it before.
    if b.cbuf.capacity() < bufsize {
        b.cbuf.reserve(bufsize);
    }
    b
}

/// Gives a set back (emptied; kept for the next transaction of this thread, or freed): a
/// holder's set as it ends (an HTTP/2 stream's); a set holding nothing is kept as a shell.
pub fn give(b: Box<Bufs>) {
    let mut b = b;
    if b.is_empty_set() {
        give_shell(b);
        return;
    }
    empty(&mut b);
    POOL.with(|p| p.borrow_mut().give_in(b));
}

/// An empty set for a holder that has none (a pooled shell, or new): it holds no buffer.
pub fn shell() -> Box<Bufs> {
    POOL.with(|p| p.borrow_mut().take_shell())
        .unwrap_or_default()
}

/// Keeps a holder's empty set as it ends (an HTTP/1 session's, after [`give_back`]), for the
/// next [`shell`] (a set still holding buffers is given back: [`give`]).
pub fn give_shell(b: Box<Bufs>) {
    if !b.is_empty_set() {
        return give(b);
    }
    let mut b = b;
    let_go(&mut b);
    POOL.with(|p| p.borrow_mut().give_shell(b));
}

/// Puts a pooled set into a holder's place (an empty shell, which goes to the pool's slot):
/// a pointer swap, not the set's parts moved.
pub fn lend(to: &mut Box<Bufs>, bufsize: usize) {
    if !POOL.with(|p| p.borrow_mut().take_with(|set| std::mem::swap(to, set))) {
        to.req = Message::new();
        to.res = Message::new();
    }
    if to.cbuf.capacity() < bufsize {
        to.cbuf.reserve(bufsize);
    }
}

/// Takes a holder's set back (emptied; kept for the next transaction of this thread, or
/// freed), leaving an empty shell in its place (a pointer swap).
pub fn give_back(from: &mut Box<Bufs>) {
    if from.is_empty_set() {
        // Nothing to keep (an HTTP/2 stream's set may hold its heads only: kept).
        let_go(from);
        return;
    }
    empty(from);
    POOL.with(|p| p.borrow_mut().give_with(|set| std::mem::swap(from, set)));
}

/// What a set that is not pooled may hold beside its client and server buffers and request
/// head, freed (an empty shell holds no memory).
fn let_go(b: &mut Bufs) {
    b.res = Message::default();
    b.out = Vec::new();
    b.scratch = Vec::new();
}

/// A set's buffers emptied, their memory kept.
fn empty(b: &mut Bufs) {
    b.cbuf.clear();
    b.sbuf.clear();
    b.out.clear();
    b.scratch.clear();
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
        give(Box::default());
        assert_eq!(pooled(), before, "a set holding nothing is not pooled");
        give(again);
    }

    #[test]
    fn a_holders_shell_gets_a_pooled_set_and_gives_it_back_empty() {
        let before = pooled();
        let mut h = shell();
        assert!(h.is_empty_set());
        let shell_at = &*h as *const Bufs;
        let pooled_set = take(4096);
        let ptr = pooled_set.cbuf.as_ptr();
        give(pooled_set);
        lend(&mut h, 4096);
        assert_eq!(h.cbuf.as_ptr(), ptr, "the pooled set is lent");
        assert!(h.req.holds_memory() && h.res.holds_memory());
        assert_eq!(pooled(), before);
        h.cbuf.extend_from_slice(b"GET / HTTP/1.1\r\n");
        h.out.extend_from_slice(b"head");
        assert_ne!(
            &*h as *const Bufs, shell_at,
            "the holder's box is the pool's now"
        );
        give_back(&mut h);
        assert_eq!(pooled(), before + 1);
        assert_eq!(h.cbuf.capacity(), 0, "the holder keeps nothing");
        assert!(!h.req.holds_memory() && h.out.capacity() == 0);
        assert_eq!(
            &*h as *const Bufs, shell_at,
            "its shell comes back: no set moved"
        );
        // Nothing left in the set it gets next, and nothing held is given back as a set.
        lend(&mut h, 4096);
        assert_eq!(h.cbuf.as_ptr(), ptr);
        assert!(h.cbuf.is_empty() && h.out.is_empty());
        give_back(&mut h);
        give_back(&mut h);
        assert_eq!(pooled(), before + 1, "empty places give back no set");
        // A pool with nothing: a new set.
        let _ = take(0);
        lend(&mut h, 4096);
        assert!(h.cbuf.capacity() >= 4096 && h.req.holds_memory());
        give_back(&mut h);
        // A holder's shell as it ends is kept for the next holder; a set still holding
        // buffers is pooled instead.
        let mine = &*h as *const Bufs;
        give_shell(h);
        assert_eq!(&*shell() as *const Bufs, mine, "the shell is reused");
        let full = take(4096);
        give_shell(full);
        assert_eq!(pooled(), before + 1);
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
    fn a_wave_of_thousands_of_transactions_keeps_its_sets_until_they_go_unused() {
        // Each test runs on a thread of its own: this pool is this test's. 3,000 transactions
        // in flight at once (9,000 busy clients swing by thousands between turns), then over.
        let wave: Vec<Box<Bufs>> = (0..3000).map(|_| take(4096)).collect();
        let first = wave[0].cbuf.as_ptr();
        wave.into_iter().for_each(give);
        assert_eq!(pooled(), 3000, "the wave's sets are kept for the next wave");
        // The next wave takes them all again: none is made anew.
        let again: Vec<Box<Bufs>> = (0..3000).map(|_| take(4096)).collect();
        assert_eq!(pooled(), 0);
        assert!(again.iter().any(|b| b.cbuf.as_ptr() == first), "reused");
        again.into_iter().for_each(give);
        // Unused for a window: freed down to the floor.
        for _ in 0..=crate::buf_pool::WINDOW {
            decay();
        }
        assert_eq!(pooled(), crate::buf_pool::FLOOR);
    }

    #[test]
    fn sets_unused_for_a_window_are_freed() {
        // Each test runs on a thread of its own: this pool is this test's.
        let burst: Vec<Box<Bufs>> = (0..crate::buf_pool::FLOOR + 10)
            .map(|_| take(4096))
            .collect();
        for b in burst {
            give(b);
        }
        assert_eq!(pooled(), crate::buf_pool::FLOOR + 10);
        // Three sets in use at once every tick (the first tick saw the burst empty the pool).
        for _ in 0..=crate::buf_pool::WINDOW {
            let busy: Vec<Box<Bufs>> = (0..3).map(|_| take(4096)).collect();
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
