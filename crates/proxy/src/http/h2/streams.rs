//! The streams in flight on one HTTP/2 client connection, run inside its task
//! ([`Streams`]): each stream's future (the session serving it, several KB:
//! `size_tests`) lives in a box that outlives it. When a stream ends its box is kept, and the
//! connection's next stream is put in it: no allocation of that size per request, and the
//! future is written once into its box (a `FuturesUnordered` task of its own would take it
//! by value into a new heap allocation per stream). The boxes kept are never more than the
//! streams that were in flight at once, and are freed once the connection has had no stream
//! for a moment (`http::h2::serve`: clients send their requests in bursts, and the boxes of
//! one burst carry the next).

use futures_util::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A connection's streams and the boxes of those that ended; see the module.
pub struct Streams<F> {
    running: FuturesUnordered<Boxed<F>>,
    spare: Vec<Pin<Box<F>>>,
}

/// A stream's future in its box; resolves to the box once the stream ended.
struct Boxed<F>(Option<Pin<Box<F>>>);

impl<F: Future<Output = ()>> Future for Boxed<F> {
    type Output = Option<Pin<Box<F>>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(f) = self.0.as_mut() else {
            return Poll::Ready(None);
        };
        match f.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(self.0.take()),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future<Output = ()>> Default for Streams<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Future<Output = ()>> Streams<F> {
    pub fn new() -> Streams<F> {
        Streams {
            running: FuturesUnordered::new(),
            spare: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Starts a stream (it is first polled by the next [`Streams::drain`]). Inlined, with
    /// the functions that make the stream's future (`transaction::serve`,
    /// `http::session::serve_h2`): the compiler then sees the future made just before it is
    /// written into its box, and writes into the box only the parts made (the session, the
    /// state); out of line, the whole future (4,864 bytes) was made on the stack and copied
    /// into the box, ~480 instructions per request (measured, callgrind).
    #[inline(always)]
    pub fn push(&mut self, stream: F) {
        let boxed = match self.spare.pop() {
            Some(mut b) => {
                b.as_mut().set(stream);
                b
            }
            None => Box::pin(stream),
        };
        self.running.push(Boxed(Some(boxed)));
    }

    /// Whether boxes of ended streams are kept.
    pub fn has_spare(&self) -> bool {
        !self.spare.is_empty()
    }

    /// Polls the streams until none can move (Pending) or none is left (Ready); the boxes of
    /// those that end are kept for the next ones.
    pub async fn drain(&mut self) {
        std::future::poll_fn(|cx| loop {
            match self.running.poll_next_unpin(cx) {
                Poll::Ready(Some(b)) => self.spare.extend(b),
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        })
        .await
    }

    /// Waits for every stream to end (the connection is gone: nothing more is pushed).
    pub async fn finish(&mut self) {
        self.spare.clear();
        while self.running.next().await.is_some() {}
    }

    /// Frees the boxes kept (when the connection has no stream in flight).
    pub fn trim(&mut self) {
        if self.running.is_empty() {
            self.spare = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Polls the streams once (`drain` resolves only when none is left).
    async fn step<F: Future<Output = ()>>(s: &mut Streams<F>) {
        tokio::select! {
            biased;
            () = s.drain() => {}
            () = std::future::ready(()) => {}
        }
    }

    /// Every stream runs to its end; the box of one that ended carries the next one; the
    /// kept boxes go when the connection has no stream.
    #[tokio::test]
    async fn streams_end_and_their_boxes_carry_the_next() {
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stream = |wait: bool| {
            let (done, mut rx) = (done.clone(), rx.clone());
            async move {
                if wait {
                    let _ = rx.wait_for(|v| *v).await;
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        };
        let mut s = Streams::new();
        s.push(stream(false));
        s.push(stream(true));
        step(&mut s).await;
        // Only the waiting one is left; the other's box is kept.
        assert!(!s.is_empty());
        assert_eq!((done.load(Ordering::Relaxed), s.spare.len()), (1, 1));
        let first = s.spare[0].as_ref().get_ref() as *const _;
        s.push(stream(false));
        assert!(s.spare.is_empty());
        step(&mut s).await;
        assert_eq!(done.load(Ordering::Relaxed), 2);
        assert_eq!(s.spare[0].as_ref().get_ref() as *const _, first);
        s.trim();
        assert_eq!(s.spare.len(), 1, "kept while a stream runs");
        let _ = tx.send(true);
        s.drain().await;
        assert!(s.is_empty());
        assert_eq!((done.load(Ordering::Relaxed), s.spare.len()), (3, 2));
        s.trim();
        assert!(s.spare.is_empty());
    }
}
