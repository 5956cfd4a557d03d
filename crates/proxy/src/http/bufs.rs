//! The buffers of one HTTP transaction (client and server byte buffers, the request and
//! response heads, the output and scratch vectors), lent by a per-thread pool: a session takes
//! a set when a request's first bytes arrive and gives it back when the transaction ends with
//! the connection idle, so an idle keep-alive connection holds none (HAProxy's buffer pools
//! do the same). Taking and giving back moves a few pointers; the allocations live on in the
//! pool, so a busy thread allocates nothing per request once warm.

use super::message::Message;
use bytes::BytesMut;
use std::cell::RefCell;

/// Sets kept per thread beyond those in use; more are freed when given back (a burst of
/// concurrent transactions does not pin its peak memory for ever).
const KEEP: usize = 256;

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

thread_local! {
    static POOL: RefCell<Vec<Bufs>> = const { RefCell::new(Vec::new()) };
}

/// A set of buffers with room for `bufsize` bytes from the client: a pooled one, or new
/// (`bufsize` 0: the client buffer is left to grow when bytes come, as an HTTP/2 stream's).
pub fn take(bufsize: usize) -> Bufs {
    let mut b = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_else(|| Bufs {
        req: Message::new(),
        res: Message::new(),
        ..Bufs::default()
    });
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
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < KEEP {
            p.push(b);
        }
    });
}

/// Sets waiting in this thread's pool.
pub fn pooled() -> usize {
    POOL.with(|p| p.borrow().len())
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
}
