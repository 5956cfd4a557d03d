//! The streams in flight on one HTTP/2 client connection, run inside its task
//! ([`Streams`]): each stream's future (the session serving it, several KB:
//! `size_tests`) lives in a box that outlives it, held by a runner that outlives it too. When
//! a stream ends, its runner (the box, and the waker its stream was polled with) waits idle,
//! and the connection's next stream is put in it: no allocation per request (neither the
//! box nor a task, as a `FuturesUnordered` of the streams would allocate for each), and the
//! future is written once into its box. The runners kept are never more than the streams
//! that were in flight at once, and are freed once the connection has had no stream for a
//! moment (`http::h2::serve`: clients send their requests in bursts, and the runners of one
//! burst carry the next).
//!
//! A runner's waker (what its stream's waits hold) queues the runner's number in the
//! connection's ready list and wakes the connection's task; [`Streams::drain`] polls the
//! runners listed. A wake that comes late (its runner since idle, or since given another
//! stream, or gone) only polls a runner for nothing, which futures allow.

use futures_util::task::AtomicWaker;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// A connection's streams and their runners; see the module.
pub struct Streams<F> {
    runners: Vec<Runner<F>>,
    /// Runners with no stream, and the boxes of their last streams (kept for the next ones;
    /// out of the runner, so that a new stream is written into its box before anything that
    /// could fail: made first and then moved, it would be copied, ~1,000 instructions).
    idle: Vec<(u32, Pin<Box<F>>)>,
    /// Runners given a stream since the last [`Streams::drain`] (polled by it, not woken).
    started: Vec<u32>,
    /// The runners woken, taken from `ready` by `drain` (kept: its allocation is reused).
    batch: Vec<u32>,
    /// Runners with a stream that has not ended.
    running: usize,
    ready: Arc<Ready>,
}

/// What the runners' wakers share with the connection.
#[derive(Default)]
struct Ready {
    /// Numbers of the runners woken since `drain` last took them.
    woken: Mutex<Vec<u32>>,
    /// The connection's task.
    task: AtomicWaker,
}

/// One runner: its stream's box (none while idle) and the waker the stream is polled with.
struct Runner<F> {
    stream: Option<Pin<Box<F>>>,
    wake: Arc<RunnerWake>,
    waker: Waker,
}

/// A runner's waker.
struct RunnerWake {
    number: u32,
    /// Set while the runner is listed (in `Ready::woken` or `Streams::started`): a stream
    /// woken several times before it is polled is listed once.
    queued: AtomicBool,
    ready: Arc<Ready>,
}

impl Wake for RunnerWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            // A poisoned lock: a thread panicked while pushing a number; the list is whole.
            let mut woken = self.ready.woken.lock().unwrap_or_else(|e| e.into_inner());
            woken.push(self.number);
            drop(woken);
            self.ready.task.wake();
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
            runners: Vec::new(),
            idle: Vec::new(),
            started: Vec::new(),
            batch: Vec::new(),
            running: 0,
            ready: Arc::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.running == 0
    }

    /// Starts a stream (it is first polled by the next [`Streams::drain`]). Inlined, with
    /// the functions that make the stream's future (`transaction::serve`,
    /// `http::session::serve_h2`): the compiler then sees the future made just before it is
    /// written into its box, and writes into the box only the parts made (the session, the
    /// state); out of line, the whole future (4,864 bytes) was made on the stack and copied
    /// into the box, ~480 instructions per request (measured, callgrind).
    #[inline(always)]
    pub fn push(&mut self, stream: F) {
        // The future is written into its box first: before it is, nothing may fail.
        let (number, boxed) = match self.idle.pop() {
            Some((n, mut b)) => {
                b.as_mut().set(stream);
                (n, b)
            }
            None => {
                let b = Box::pin(stream);
                (self.new_runner(), b)
            }
        };
        let r = &mut self.runners[number as usize];
        r.stream = Some(boxed);
        self.running += 1;
        // Already listed if a late wake listed it: polled from there.
        if !r.wake.queued.swap(true, Ordering::AcqRel) {
            self.started.push(number);
        }
    }

    /// A runner more, with no stream yet; returns its number.
    #[inline(never)]
    fn new_runner(&mut self) -> u32 {
        let number = self.runners.len() as u32;
        let wake = Arc::new(RunnerWake {
            number,
            queued: AtomicBool::new(false),
            ready: self.ready.clone(),
        });
        self.runners.push(Runner {
            stream: None,
            waker: Waker::from(wake.clone()),
            wake,
        });
        number
    }

    /// Whether runners (and their boxes) of ended streams are kept.
    pub fn has_spare(&self) -> bool {
        !self.idle.is_empty()
    }

    /// Polls the streams until none can move (Pending) or none is left (Ready); the runners
    /// of those that end are kept for the next ones.
    pub async fn drain(&mut self) {
        std::future::poll_fn(|cx| self.poll_drain(cx)).await
    }

    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // Before the list is read: a wake after the read wakes this task.
        self.ready.task.register(cx.waker());
        let mut polled = 0;
        loop {
            let mut batch = std::mem::take(&mut self.batch);
            batch.append(&mut self.started);
            {
                let mut woken = self.ready.woken.lock().unwrap_or_else(|e| e.into_inner());
                batch.append(&mut woken);
            }
            if batch.is_empty() {
                self.batch = batch;
                return if self.running == 0 {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                };
            }
            if polled > 0 && polled >= self.runners.len() {
                // Every runner had its turn and some woke again (a stream that yields, or
                // out of the task's budget): the connection's other work goes first, the
                // rest on the task's next turn.
                self.batch = batch;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            for n in batch.drain(..) {
                let Some(r) = self.runners.get_mut(n as usize) else {
                    continue;
                };
                r.wake.queued.store(false, Ordering::Release);
                let Some(stream) = r.stream.as_mut() else {
                    continue;
                };
                polled += 1;
                if stream
                    .as_mut()
                    .poll(&mut Context::from_waker(&r.waker))
                    .is_ready()
                {
                    self.running -= 1;
                    self.idle.extend(r.stream.take().map(|b| (n, b)));
                }
            }
            self.batch = batch;
        }
    }

    /// Waits for every stream to end (the connection is gone: nothing more is pushed).
    pub async fn finish(&mut self) {
        self.idle = Vec::new();
        self.drain().await
    }

    /// Frees the runners kept (when the connection has no stream in flight).
    pub fn trim(&mut self) {
        if self.running == 0 {
            self.runners = Vec::new();
            self.idle = Vec::new();
            self.started = Vec::new();
            self.batch = Vec::new();
            *self.ready.woken.lock().unwrap_or_else(|e| e.into_inner()) = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Polls the streams once (`drain` resolves only when none is left).
    async fn step<F: Future<Output = ()>>(s: &mut Streams<F>) {
        tokio::select! {
            biased;
            () = s.drain() => {}
            () = std::future::ready(()) => {}
        }
    }

    /// Every stream runs to its end; the runner (and box) of one that ended carries the next
    /// one; the kept runners go when the connection has no stream.
    #[tokio::test]
    async fn streams_end_and_their_runners_carry_the_next() {
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
        // Only the waiting one is left; the other's runner is kept.
        assert!(!s.is_empty());
        assert_eq!(done.load(Ordering::Relaxed), 1);
        assert_eq!(s.idle.iter().map(|i| i.0).collect::<Vec<_>>(), [0]);
        let first: *const _ = &*s.idle[0].1;
        s.push(stream(false));
        assert!(!s.has_spare());
        step(&mut s).await;
        assert_eq!(done.load(Ordering::Relaxed), 2);
        assert_eq!(s.runners.len(), 2, "no runner more");
        assert_eq!(&*s.idle[0].1 as *const _, first, "the same box");
        s.trim();
        assert_eq!(s.runners.len(), 2, "kept while a stream runs");
        // The waiting stream is woken through its runner's waker.
        let _ = tx.send(true);
        s.drain().await;
        assert!(s.is_empty());
        assert_eq!((done.load(Ordering::Relaxed), s.idle.len()), (3, 2));
        s.trim();
        assert!(s.runners.is_empty() && !s.has_spare());
        s.push(stream(false));
        s.drain().await;
        assert_eq!(done.load(Ordering::Relaxed), 4);
    }

    /// A wake that comes after its stream ended (a waker kept somewhere) polls nothing: the
    /// ended future is not polled again, and the runner's next stream runs as usual.
    #[tokio::test]
    async fn a_late_wake_polls_no_ended_stream() {
        let kept: Arc<Mutex<Option<Waker>>> = Arc::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let stream = || {
            let (kept, runs) = (kept.clone(), runs.clone());
            std::future::poll_fn(move |cx| {
                *kept.lock().expect("lock") = Some(cx.waker().clone());
                runs.fetch_add(1, Ordering::Relaxed);
                Poll::Ready(())
            })
        };
        let mut s = Streams::new();
        s.push(stream());
        s.drain().await;
        let late = kept.lock().expect("lock").take().expect("a waker");
        late.wake_by_ref();
        s.drain().await;
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        // Woken while idle, then given a stream: polled once.
        late.wake_by_ref();
        s.push(stream());
        s.drain().await;
        assert_eq!(runs.load(Ordering::Relaxed), 2);
        assert_eq!(s.runners.len(), 1);
    }

    /// A stream that wakes itself at once (yields) does not keep `drain` to itself: each
    /// runner is polled about once per turn of the task, and the task is woken to go on.
    #[test]
    fn a_stream_that_yields_lets_the_task_turn() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut s = Streams::new();
        for _ in 0..2 {
            let polls = polls.clone();
            s.push(std::future::poll_fn(move |cx| {
                polls.fetch_add(1, Ordering::Relaxed);
                cx.waker().wake_by_ref();
                Poll::<()>::Pending
            }));
        }
        let turns = Arc::new(AtomicUsize::new(0));
        let waker = Waker::from(Arc::new(CountWake(turns.clone())));
        let mut cx = Context::from_waker(&waker);
        for _ in 0..3 {
            assert!(s.poll_drain(&mut cx).is_pending());
        }
        assert_eq!(polls.load(Ordering::Relaxed), 6, "each once per turn");
        assert!(
            turns.load(Ordering::Relaxed) >= 3,
            "the task is woken to go on"
        );
    }

    struct CountWake(Arc<AtomicUsize>);

    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}
