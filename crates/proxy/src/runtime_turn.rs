//! Sends batched per runtime turn: a session about to send waits until the other tasks its
//! worker had ready have run, so the sends of one turn leave together (issue 20).
//!
//! One `epoll_wait` makes many sessions ready at once. Sending each answer as soon as its
//! session has it spaces the sends by the reads and parsing of the others: the peer (the
//! server, the client) is woken by the first, handles it, sleeps, and is woken again by the
//! next. HAProxy's loop reads every ready connection, then processes and sends: a peer woken
//! once finds several answers. Here a worker runs a *turn* task ([`run`]) whose only job is
//! to be queued behind the tasks already ready: a session's [`after_ready_tasks`] registers
//! its waker and queues the turn task once; when the turn task runs, every task that was
//! ready has had its go, and it wakes the waiting sessions, which then send one after the
//! other. No extra `epoll_wait` (which `tokio::task::yield_now` costs: it defers to the
//! driver's next poll).
//!
//! Only a worker with one thread (a current-thread runtime: tasks run in the order they are
//! woken, and on this thread only) runs the turn task; anywhere else (tests, the shared
//! layout) [`after_ready_tasks`] is ready at once.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Turn {
    /// The turn task's waker: `None` where no turn task runs on this thread.
    task: Option<Waker>,
    /// Whether the turn task is already queued.
    queued: bool,
    /// Sessions waiting for the end of this turn.
    waiting: Vec<Waker>,
}

thread_local! {
    static TURN: RefCell<Turn> = const {
        RefCell::new(Turn {
            task: None,
            queued: false,
            waiting: Vec::new(),
        })
    };
    /// Turns ended so far: a waiting session is done once this moved past its own. Apart
    /// from [`TURN`]: a woken session reads only it (no borrow, no lazy initialisation).
    static ENDED: Cell<u64> = const { Cell::new(0) };
}

/// Waits until the tasks this worker had ready when called have run (at once where no turn
/// task runs on this thread).
pub fn after_ready_tasks() -> AfterReadyTasks {
    AfterReadyTasks { turn: None }
}

/// The future of [`after_ready_tasks`].
pub struct AfterReadyTasks {
    /// The turn it waits for the end of, once registered.
    turn: Option<u64>,
}

impl Future for AfterReadyTasks {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(n) = self.turn {
            return if ENDED.get() != n {
                Poll::Ready(())
            } else {
                // Polled again in the same turn: registered already.
                Poll::Pending
            };
        }
        TURN.with(|t| {
            let mut t = t.borrow_mut();
            let Some(task) = &t.task else {
                return Poll::Ready(());
            };
            // (queues the turn task: nothing runs until this poll returns)
            if !t.queued {
                task.wake_by_ref();
            }
            t.queued = true;
            t.waiting.push(cx.waker().clone());
            self.turn = Some(ENDED.get());
            Poll::Pending
        })
    }
}

/// The turn task of a one-thread worker (spawned on its runtime; runs until aborted): each
/// time it is polled, the tasks ready before it have run; it wakes the sessions waiting.
pub async fn run() {
    let _gone = Gone;
    let mut woken = Vec::new();
    std::future::poll_fn(|cx| {
        TURN.with(|t| {
            let mut t = t.borrow_mut();
            if !t.task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                t.task = Some(cx.waker().clone());
            }
            t.queued = false;
            ENDED.set(ENDED.get() + 1);
            std::mem::swap(&mut t.waiting, &mut woken);
        });
        for w in woken.drain(..) {
            w.wake();
        }
        Poll::<()>::Pending
    })
    .await
}

/// Ends batching on this thread when the turn task stops: the sessions waiting go on.
struct Gone;

impl Drop for Gone {
    fn drop(&mut self) {
        let waiting = TURN.with(|t| {
            let mut t = t.borrow_mut();
            t.task = None;
            t.queued = false;
            ENDED.set(ENDED.get() + 1);
            std::mem::take(&mut t.waiting)
        });
        for w in waiting {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// The turn task's contract: a session waiting ends after every task that was ready when it
    /// started waiting, and before the tasks those wake.
    #[test]
    fn a_wait_ends_after_the_tasks_ready_before_it() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let order = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            let turn = tokio::spawn(run());
            // Let the turn task register.
            tokio::task::yield_now().await;
            let mut tasks = Vec::new();
            for i in 0..3 {
                let order = order.clone();
                tasks.push(tokio::spawn(async move {
                    order.lock().unwrap().push(format!("ready {i}"));
                    after_ready_tasks().await;
                    order.lock().unwrap().push(format!("send {i}"));
                }));
            }
            for t in tasks {
                t.await.expect("task");
            }
            turn.abort();
        });
        let order = order.lock().unwrap().clone();
        assert_eq!(
            order,
            ["ready 0", "ready 1", "ready 2", "send 0", "send 1", "send 2"]
        );
    }

    #[test]
    fn without_a_turn_task_a_wait_ends_at_once() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut f = std::pin::pin!(after_ready_tasks());
            let polled = std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await;
            assert!(polled.is_ready());
        });
    }

    #[test]
    fn sessions_waiting_go_on_when_the_turn_task_stops() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let turn = tokio::spawn(run());
            tokio::task::yield_now().await;
            let mut f = std::pin::pin!(after_ready_tasks());
            let first = std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await;
            assert!(first.is_pending());
            turn.abort();
            let _ = turn.await;
            f.await;
            assert!(TURN.with(|t| t.borrow().task.is_none()));
        });
    }
}
