//! Per-thread pools of reusable buffers: what a pool keeps ([`Pool`]: given back objects,
//! reused before new ones are allocated, those unused lately freed at each worker tick as
//! HAProxy frees a pool's objects beyond its recent need), and the pool of byte buffers that
//! tunnels (`mode tcp` sessions, HTTP upgrades) and a TCP session's opening read into
//! ([`Lent`], [`TUNNEL_BUF`] bytes each): taken when bytes come, given back once they are
//! forwarded and the socket is drained, so an idle tunnel holds none and a new connection
//! allocates none. The HTTP transaction sets (`http::bufs`) are pooled the same way.

use bytes::BytesMut;
use std::cell::RefCell;

/// Objects kept per thread beyond those in use; more are freed when given back. What a pool
/// keeps is bounded by [`Pool::decay`] (objects unused over [`WINDOW`] ticks are freed), so
/// this is only a backstop far above any wave a thread serves: the number of transactions
/// in flight swings by thousands between turns at 9,000 busy keep-alive clients, and with
/// 1,024 the pool overflowed at each swing (sets freed as they were given back, made anew at
/// the next requests: 3.4 `malloc`, 1.7 `realloc` and 3.3 `free` per request against 0.6 at
/// 50 clients, bench/proxy/ceiling.sh). An HTTP/2 wave (10 connections of 100 streams) needs
/// ~1,000 (with 256, two of three streams made a new set).
const KEEP: usize = 1 << 16;
/// Ticks over which a pooled object must go unused to be freed ([`Pool::decay`]).
pub const WINDOW: usize = 5;
/// Objects a thread keeps however long they go unused.
pub const FLOOR: usize = 4;

/// The room of a tunnel's byte buffer (each direction reads this much at most at once).
pub const TUNNEL_BUF: usize = 16 * 1024;

/// What a pool holds: something that keeps heap memory for reuse.
pub trait Held {
    /// Heap bytes it holds (freed with it).
    fn bytes(&self) -> usize;
}

impl Held for BytesMut {
    fn bytes(&self) -> usize {
        self.capacity()
    }
}

impl<T: Held + Default> Default for Pool<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A thread's pooled objects and how few of them were left at once lately.
pub struct Pool<T> {
    /// The pooled objects (`..full`), then empty shells: [`Pool::give_with`] moves a set's
    /// parts into a shell and [`Pool::take_with`] out of a pooled one, so a large object (an
    /// HTTP transaction's set, a few hundred bytes) is not copied whole on each way.
    sets: Vec<T>,
    full: usize,
    /// The fewest sets pooled since the last tick.
    low: usize,
    /// `low` of the last [`WINDOW`] ticks (a ring).
    lows: [usize; WINDOW],
    at: usize,
}

impl<T: Held + Default> Pool<T> {
    pub const fn new() -> Self {
        Pool {
            sets: Vec::new(),
            full: 0,
            low: 0,
            lows: [0; WINDOW],
            at: 0,
        }
    }

    /// Objects waiting in it.
    pub fn pooled(&self) -> usize {
        self.full
    }

    pub fn take(&mut self) -> Option<T> {
        let mut b = None;
        self.take_with(|slot| b = Some(std::mem::take(slot)));
        b
    }

    /// [`Pool::take`] for objects whose empty shell is not free to make (a box): the last
    /// pooled one moved out, the last shell, if any, in its place.
    pub fn take_out(&mut self) -> Option<T> {
        let Some(at) = self.full.checked_sub(1) else {
            self.low = 0;
            return None;
        };
        self.full = at;
        self.low = self.low.min(at);
        Some(self.sets.swap_remove(at))
    }

    /// Lends the last pooled object to `out`, which moves its parts out (leaving the shell
    /// empty); false when none is pooled.
    #[inline]
    pub fn take_with(&mut self, out: impl FnOnce(&mut T)) -> bool {
        let Some(at) = self.full.checked_sub(1) else {
            self.low = 0;
            return false;
        };
        self.full = at;
        self.low = self.low.min(at);
        if let Some(slot) = self.sets.get_mut(at) {
            out(slot);
        }
        true
    }

    pub fn give(&mut self, b: T) {
        let mut b = Some(b);
        self.give_with(|slot| *slot = b.take().unwrap_or_default());
    }

    /// [`Pool::give`] for objects whose empty shell is not free to make (a box): the shell in
    /// its place, if any, is kept after it (freed instead when the pool holds [`KEEP`]).
    pub fn give_in(&mut self, b: T) {
        if self.full >= KEEP {
            return;
        }
        self.sets.push(b);
        let last = self.sets.len() - 1;
        self.sets.swap(self.full, last);
        self.full += 1;
    }

    /// An empty shell (given back with [`Pool::give_shell`]), if one is kept.
    pub fn take_shell(&mut self) -> Option<T> {
        if self.sets.len() > self.full {
            self.sets.pop()
        } else {
            None
        }
    }

    /// Keeps an empty shell for [`Pool::take_shell`] (at most [`KEEP`]; the shells go at the
    /// next tick, [`Pool::decay`]).
    pub fn give_shell(&mut self, shell: T) {
        if self.sets.len() - self.full < KEEP {
            self.sets.push(shell);
        }
    }

    /// Pools an object whose parts `fill` moves into an empty shell (freed instead when the
    /// pool holds [`KEEP`] already).
    #[inline]
    pub fn give_with(&mut self, fill: impl FnOnce(&mut T)) {
        if self.full >= KEEP {
            let mut dropped = T::default();
            fill(&mut dropped);
            return;
        }
        if self.full == self.sets.len() {
            self.sets.push(T::default());
        }
        if let Some(slot) = self.sets.get_mut(self.full) {
            fill(slot);
            self.full += 1;
        }
    }

    /// A tick: frees the objects that went unused for the last [`WINDOW`] ticks (those the
    /// pool never fell below), [`FLOOR`] aside; the bytes freed. The empty shells beyond
    /// what is pooled go too.
    pub fn decay(&mut self) -> usize {
        let at = self.at;
        self.lows[at] = self.low;
        self.at = (at + 1) % WINDOW;
        let unused = self.lows.iter().copied().min().unwrap_or(0);
        let n = unused.min(self.full.saturating_sub(FLOOR));
        self.sets.truncate(self.full);
        // The coldest first (taking and giving back work at the end).
        let gone: usize = self.sets.drain(..n).map(|b| b.bytes()).sum();
        self.full -= n;
        for l in &mut self.lows {
            *l = l.saturating_sub(n);
        }
        self.low = self.full;
        gone
    }
}

thread_local! {
    static BYTES: RefCell<Pool<BytesMut>> = const { RefCell::new(Pool::new()) };
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

/// A worker's tick for the byte buffers ([`Pool::decay`]); the bytes freed.
pub fn decay() -> usize {
    BYTES.with(|p| p.borrow_mut().decay())
}

/// Byte buffers waiting in this thread's pool.
pub fn pooled_bytes() -> usize {
    BYTES.with(|p| p.borrow().pooled())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
