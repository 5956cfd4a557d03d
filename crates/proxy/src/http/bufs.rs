//! The buffers of one HTTP transaction (client and server byte buffers, the request and
//! response heads, the output and scratch vectors), lent by a per-thread pool: a session takes
//! a set when a request's first bytes arrive and gives it back when the transaction ends with
//! the connection idle, so an idle keep-alive connection holds none (HAProxy's buffer pools
//! do the same). Taking and giving back moves a few pointers; the allocations live on in the
//! pool, so a busy thread allocates nothing per request once warm. Sets the thread did not
//! need for [`WINDOW`] ticks (`decay`, every `park::PARK_AFTER`) are freed, as HAProxy frees
//! a pool's objects beyond its recent need: a burst of concurrent transactions (clients that
//! then stay idle) does not leave ~18 KB per set of its peak behind.
//!
//! The same per-thread pooling lends the byte buffers of byte tunnels (`mode tcp` sessions,
//! HTTP upgrades: [`Lent`], [`TUNNEL_BUF`] bytes each) and of a TCP session's opening (the
//! client's first bytes, the server's): taken when bytes come, given back when the bytes have
//! been forwarded and the socket is drained, so an idle tunnel holds none.

use super::message::Message;
use bytes::BytesMut;
use std::cell::RefCell;

/// Sets kept per thread beyond those in use; more are freed when given back. As many as one
/// wave of HTTP/2 streams (10 connections of 100 streams: the sets of the streams that end
/// serve those that start; with 256, two of three streams made a new set), the unused ones
/// freed by [`decay`].
const KEEP: usize = 1024;
/// Ticks over which a pooled set must go unused to be freed (`decay`).
const WINDOW: usize = 5;
/// Sets a thread keeps however long they go unused.
const FLOOR: usize = 4;

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

/// The room of a tunnel's byte buffer (each direction reads this much at most at once).
pub const TUNNEL_BUF: usize = 16 * 1024;

/// What a pool holds: something that keeps heap memory for reuse.
trait Held {
    /// Heap bytes it holds (freed with it).
    fn bytes(&self) -> usize;
}

impl Held for Bufs {
    /// Its byte buffers (the heads' arenas left out).
    fn bytes(&self) -> usize {
        self.cbuf.capacity() + self.sbuf.capacity() + self.out.capacity() + self.scratch.capacity()
    }
}

impl Held for BytesMut {
    fn bytes(&self) -> usize {
        self.capacity()
    }
}

/// A thread's pooled objects and how few of them were left at once lately.
struct Pool<T> {
    sets: Vec<T>,
    /// The fewest sets pooled since the last tick.
    low: usize,
    /// `low` of the last [`WINDOW`] ticks (a ring).
    lows: [usize; WINDOW],
    at: usize,
}

impl<T: Held> Pool<T> {
    const fn new() -> Self {
        Pool {
            sets: Vec::new(),
            low: 0,
            lows: [0; WINDOW],
            at: 0,
        }
    }

    fn take(&mut self) -> Option<T> {
        let b = self.sets.pop();
        self.low = self.low.min(self.sets.len());
        b
    }

    fn give(&mut self, b: T) {
        if self.sets.len() < KEEP {
            self.sets.push(b);
        }
    }

    /// A tick: frees the objects that went unused for the last [`WINDOW`] ticks (those the
    /// pool never fell below), [`FLOOR`] aside; the bytes freed.
    fn decay(&mut self) -> usize {
        let at = self.at;
        self.lows[at] = self.low;
        self.at = (at + 1) % WINDOW;
        let unused = self.lows.iter().copied().min().unwrap_or(0);
        let n = unused.min(self.sets.len().saturating_sub(FLOOR));
        // The coldest first (taking and giving back work at the end).
        let gone: usize = self.sets.drain(..n).map(|b| b.bytes()).sum();
        for l in &mut self.lows {
            *l = l.saturating_sub(n);
        }
        self.low = self.sets.len();
        gone
    }
}

thread_local! {
    static POOL: RefCell<Pool<Bufs>> = const { RefCell::new(Pool::new()) };
    static BYTES: RefCell<Pool<BytesMut>> = const { RefCell::new(Pool::new()) };
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
pub fn give(mut b: Bufs) {
    if b.is_empty_set() {
        return;
    }
    b.cbuf.clear();
    b.sbuf.clear();
    b.out.clear();
    b.scratch.clear();
    POOL.with(|p| p.borrow_mut().give(b));
}

/// An empty byte buffer with room for [`TUNNEL_BUF`] bytes: a pooled one, or new.
pub fn take_bytes() -> BytesMut {
    let mut b = BYTES.with(|p| p.borrow_mut().take()).unwrap_or_default();
    // Back to the start of its memory (see `take`).
    if b.capacity() < TUNNEL_BUF {
        b.reserve(TUNNEL_BUF);
    }
    b
}

/// Gives a byte buffer back (emptied; kept if it is one of [`take_bytes`]'s size, else freed).
pub fn give_bytes(mut b: BytesMut) {
    b.clear();
    if (TUNNEL_BUF..=2 * TUNNEL_BUF).contains(&b.capacity()) {
        BYTES.with(|p| p.borrow_mut().give(b));
    }
}

/// A byte buffer that goes back to the thread's pool ([`give_bytes`]) when dropped; empty
/// (holding no memory) until [`Lent::fill_from_pool`] or a `BytesMut` is put in.
#[derive(Debug, Default)]
pub struct Lent(BytesMut);

impl Lent {
    /// Takes a pooled buffer if it holds none.
    pub fn fill_from_pool(&mut self) {
        if self.0.capacity() == 0 {
            self.0 = take_bytes();
        }
    }

    /// Gives its buffer back to the pool now (it then holds none).
    pub fn give_back(&mut self) {
        if self.0.capacity() > 0 {
            give_bytes(std::mem::take(&mut self.0));
        }
    }

    /// The buffer, no longer given back when dropped.
    pub fn into_inner(mut self) -> BytesMut {
        std::mem::take(&mut self.0)
    }
}

impl From<BytesMut> for Lent {
    fn from(b: BytesMut) -> Self {
        Lent(b)
    }
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for Lent {
    type Target = BytesMut;
    fn deref(&self) -> &BytesMut {
        &self.0
    }
}

impl std::ops::DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut BytesMut {
        &mut self.0
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.give_back();
    }
}

/// A worker's tick: frees the pooled sets and byte buffers that went unused for the last
/// [`WINDOW`] ticks (those the pool never fell below), [`FLOOR`] of each aside, and tells
/// `trim` what it freed.
pub fn decay() {
    let freed = POOL.with(|p| p.borrow_mut().decay()) + BYTES.with(|p| p.borrow_mut().decay());
    if freed > 0 {
        crate::trim::freed(freed as u64);
    }
}

/// Sets waiting in this thread's pool.
pub fn pooled() -> usize {
    POOL.with(|p| p.borrow().sets.len())
}

/// Byte buffers waiting in this thread's pool.
pub fn pooled_bytes() -> usize {
    BYTES.with(|p| p.borrow().sets.len())
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
    fn byte_buffers_are_reused_and_others_are_not_kept() {
        // Each test runs on a thread of its own: this pool is this test's.
        let b = take_bytes();
        assert!(b.is_empty() && b.capacity() >= TUNNEL_BUF);
        let ptr = b.as_ptr();
        give_bytes(b);
        assert_eq!(pooled_bytes(), 1);
        let mut lent = Lent::default();
        assert_eq!(lent.capacity(), 0, "nothing taken before it is asked for");
        lent.fill_from_pool();
        assert_eq!(lent.as_ptr(), ptr, "the pooled buffer is lent again");
        lent.extend_from_slice(b"bytes");
        assert_eq!(pooled_bytes(), 0);
        drop(lent);
        assert_eq!(pooled_bytes(), 1, "given back when dropped");
        give_bytes(BytesMut::with_capacity(100));
        give_bytes(BytesMut::with_capacity(8 * TUNNEL_BUF));
        assert_eq!(pooled_bytes(), 1, "other sizes are freed");
        let kept = Lent::from(take_bytes()).into_inner();
        assert_eq!(pooled_bytes(), 0, "taken out of the pool's care");
        give_bytes(kept);
    }

    #[test]
    fn sets_unused_for_a_window_are_freed() {
        // Each test runs on a thread of its own: this pool is this test's.
        let burst: Vec<Bufs> = (0..FLOOR + 10).map(|_| take(4096)).collect();
        for b in burst {
            give(b);
        }
        assert_eq!(pooled(), FLOOR + 10);
        // Three sets in use at once every tick (the first tick saw the burst empty the pool).
        for _ in 0..=WINDOW {
            let busy: Vec<Bufs> = (0..3).map(|_| take(4096)).collect();
            decay();
            busy.into_iter().for_each(give);
        }
        assert_eq!(
            pooled(),
            FLOOR + 3,
            "the sets needed lately and FLOOR more are kept"
        );
        // Quiet: down to the floor, not below.
        for _ in 0..2 * WINDOW {
            decay();
        }
        assert_eq!(pooled(), FLOOR);
    }
}
