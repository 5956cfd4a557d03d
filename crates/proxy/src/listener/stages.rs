//! A connection task's two stages in one place: the opening (PROXY header, session rules),
//! then the session built from what it returned (`listener::tcp_task`).
//!
//! What `futures_util`'s `.then` does, without its two moves of the second future: `.then`
//! (a `Flatten` of a `Map`) returns the session future from the closure into the `Map`'s
//! output, then writes it into the `Flatten`'s state, two copies of a ~1.9 KB `mode tcp`
//! session per connection (~430 instructions, callgrind). Here the opening is dropped in
//! place first and the session assigned straight into its room.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The opening `A`, then the session `B` that `F` makes of its output.
pub(super) enum Stages<A, F, B> {
    Opening(A, Option<F>),
    Session(B),
    Done,
}

impl<A, F, B> Stages<A, F, B> {
    pub(super) fn new(opening: A, then: F) -> Self {
        Stages::Opening(opening, Some(then))
    }
}

impl<A, F, B> Future for Stages<A, F, B>
where
    A: Future,
    F: FnOnce(A::Output) -> B,
    B: Future<Output = ()>,
{
    type Output = ();

    #[allow(unsafe_code)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: structural pinning of `A` and `B`, as `futures_util`'s `Flatten` does: neither
        // is ever moved out of this place while it lives (each is only polled through a pin
        // of its field, and dropped in place by the assignments below, which run its `Drop`
        // before the room is reused); `F` is not pinned (taken out by value), and `Stages`
        // has no `Drop` of its own nor any `Unpin` impl beyond the auto one (`A`, `B`: Unpin).
        let this = unsafe { self.get_unchecked_mut() };
        if let Stages::Opening(opening, then) = this {
            // SAFETY: see above (`opening` stays in place until dropped).
            let out = match unsafe { Pin::new_unchecked(opening) }.poll(cx) {
                Poll::Ready(out) => out,
                Poll::Pending => return Poll::Pending,
            };
            let then = then.take();
            // The opening dropped first: the session is then written into the room without
            // a drop between its making and its store (no copy through a temporary).
            *this = Stages::Done;
            match then {
                Some(then) => *this = Stages::Session(then(out)),
                None => return Poll::Ready(()),
            }
        }
        match this {
            // SAFETY: see above (`session` stays in place until dropped).
            Stages::Session(session) => unsafe { Pin::new_unchecked(session) }.poll(cx),
            _ => Poll::Ready(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_the_opening_then_the_session_made_of_its_output() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        let seen = std::rc::Rc::new(std::cell::Cell::new(0));
        let s = seen.clone();
        rt.block_on(Stages::new(
            async {
                tokio::task::yield_now().await;
                20
            },
            move |n: i32| async move {
                tokio::task::yield_now().await;
                s.set(n + 1);
            },
        ));
        assert_eq!(seen.get(), 21);
    }
}
