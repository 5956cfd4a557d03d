//! Timeouts that most waits never reach, armed as runtime timers only once a wait has lasted
//! past a worker's tick (issue 20: the cost of a new connection).
//!
//! A new connection waits under a few timeouts (`timeout connect`; in `mode tcp` the
//! opening's and the tunnel's idle timeout), each of some seconds, and most connections are
//! done long before any could fire. Armed at once, each costs a timer in tokio's wheel: its deadline
//! converted to ticks, an insertion and a removal under the driver's lock, ~470 instructions
//! (callgrind, `bench/proxy/newconn_instructions.sh`). Here a wait whose deadline is further
//! than [`MARGIN`] past the worker's last tick first only notes its waker in this thread's
//! list (no clock read, no lock); the worker's next tick (`runtime.rs`, every
//! `park::PARK_AFTER`, well before the deadline) wakes the waits still on it, which arm their
//! timer then, for the same deadline: a timeout fires when it did, a wait that ended first
//! never touched the wheel.
//!
//! Only a thread whose worker ticks ([`start`]) defers; anywhere else (tests, the shared
//! runtime layout, after [`stop`]) a wait arms its timer at once, as `tokio::time` does.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::time::Instant;

/// How far past the last tick a deadline must be for its timer to wait for the next tick:
/// three tick periods (the next tick is due one period after the last; the rest covers a late
/// one).
pub const MARGIN_TICKS: u32 = 3;

struct Ticks {
    /// From when a deadline may wait for the next tick (the last tick's time plus the margin);
    /// `None`: this thread does not tick.
    defer_from: Option<Instant>,
    /// The margin: [`MARGIN_TICKS`] tick periods.
    margin: Duration,
    /// Ticks so far: a wait noted before the last one is over.
    turn: u64,
    /// The wakers of this tick period's waits (`None`: that wait ended).
    waiting: Vec<Option<Waker>>,
    /// Free places in `waiting`.
    free: Vec<u32>,
    /// The wakers being woken by a tick (kept for its allocation).
    spare: Vec<Option<Waker>>,
}

thread_local! {
    static TICKS: RefCell<Ticks> = const {
        RefCell::new(Ticks {
            defer_from: None,
            margin: Duration::ZERO,
            turn: 0,
            waiting: Vec::new(),
            free: Vec::new(),
            spare: Vec::new(),
        })
    };
}

/// This thread's worker ticks every `period` from `now` on ([`tick`]): its waits may defer
/// their timers.
pub fn start(now: Instant, period: Duration) {
    TICKS.with(|t| {
        let mut t = t.borrow_mut();
        t.margin = period * MARGIN_TICKS;
        t.defer_from = now.checked_add(t.margin);
    });
}

/// The worker's tick: the waits noted since the last one arm their timers.
pub fn tick(now: Instant) {
    let mut woken = TICKS.with(|t| {
        let mut t = t.borrow_mut();
        let t = &mut *t;
        t.turn = t.turn.wrapping_add(1) % NOT_NOTED;
        if t.defer_from.is_some() {
            t.defer_from = now.checked_add(t.margin);
        }
        t.free.clear();
        let mut spare = std::mem::take(&mut t.spare);
        std::mem::swap(&mut spare, &mut t.waiting);
        spare
    });
    // Woken outside the borrow: a waker may run code that waits again.
    let n = woken.len();
    for w in woken.drain(..).flatten() {
        w.wake();
    }
    // The list keeps room for a period's waits, not for the largest burst ever.
    if woken.capacity() > 1024 && woken.capacity() > 4 * n {
        woken.shrink_to(2 * n);
    }
    TICKS.with(|t| {
        let mut t = t.borrow_mut();
        if t.spare.capacity() < woken.capacity() {
            t.spare = woken;
        }
    });
}

/// The worker stops ticking: the waits noted arm their timers now, later ones at once.
pub fn stop(now: Instant) {
    tick(now);
    TICKS.with(|t| t.borrow_mut().defer_from = None);
}

/// Waits until `at`, as `tokio::time::sleep_until` (its timer armed at the next tick when
/// `at` is far enough).
pub async fn sleep_until(at: Instant) {
    next_tick_before(at).await;
    tokio::time::sleep_until(at).await
}

/// `f` until `at` (`Err(())` past it), as `tokio::time::timeout_at`, its timer armed at the
/// worker's next tick when `at` is far enough: a future done before (a connection made
/// within a few turns) never touches the runtime's timers. Holds `f` by reference (pinned by
/// the caller) and the timer boxed once armed: a few words in the caller's future where
/// tokio's `Timeout` holds a whole timer entry.
pub fn timeout_at<F: Future>(at: Instant, f: Pin<&mut F>) -> Timeout<'_, F> {
    Timeout {
        f,
        tick: next_tick_before(at),
        timer: None,
    }
}

/// The future of [`timeout_at`].
pub struct Timeout<'a, F> {
    f: Pin<&'a mut F>,
    tick: NextTick,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<F: Future> Future for Timeout<'_, F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(v) = this.f.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        if this.timer.is_none() {
            if Pin::new(&mut this.tick).poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.timer = Some(Box::pin(tokio::time::sleep_until(this.tick.at)));
        }
        match this.timer.as_mut() {
            Some(t) => t.as_mut().poll(cx).map(|()| Err(())),
            None => Poll::Pending,
        }
    }
}

/// Resolves at the worker's next tick when `at` is far enough past the last one for the
/// timer of a wait until `at` to be armed then; at once otherwise.
pub fn next_tick_before(at: Instant) -> NextTick {
    NextTick {
        at,
        turn: NOT_NOTED,
        place: 0,
    }
}

/// [`NextTick::turn`] of a wait not noted.
const NOT_NOTED: u64 = u64::MAX;

/// The future of [`next_tick_before`].
pub struct NextTick {
    at: Instant,
    /// The tick count when noted ([`NOT_NOTED`]: not noted), and its place in `waiting`
    /// (two words, not an `Option` of them: a tunnel's future holds one for as long as the
    /// connection lives).
    turn: u64,
    place: u32,
}

impl Future for NextTick {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let at = self.at;
        let noted = (self.turn != NOT_NOTED).then_some((self.turn, self.place));
        let state = TICKS.with(|t| {
            let mut t = t.borrow_mut();
            match noted {
                Some((turn, i)) if turn == t.turn => {
                    if let Some(Some(w)) = t.waiting.get_mut(i as usize) {
                        if !w.will_wake(cx.waker()) {
                            *w = cx.waker().clone();
                        }
                    }
                    Some(noted)
                }
                // A tick came since it was noted.
                Some(_) => None,
                None if t.defer_from.is_some_and(|from| at >= from) => {
                    let w = Some(cx.waker().clone());
                    let i = match t.free.pop() {
                        Some(i) => {
                            t.waiting[i as usize] = w;
                            i
                        }
                        None => {
                            t.waiting.push(w);
                            (t.waiting.len() - 1) as u32
                        }
                    };
                    Some(Some((t.turn, i)))
                }
                None => None,
            }
        });
        match state {
            Some(noted) => {
                if let Some((turn, i)) = noted {
                    self.turn = turn;
                    self.place = i;
                }
                Poll::Pending
            }
            None => {
                // Polled again after this (not done by its users), it would wait anew.
                self.turn = NOT_NOTED;
                Poll::Ready(())
            }
        }
    }
}

impl Drop for NextTick {
    fn drop(&mut self) {
        if self.turn == NOT_NOTED {
            return;
        }
        let (turn, i) = (self.turn, self.place);
        // A wait that ends before the tick gives its place back (`try_`: not while the thread
        // ends, nor inside a tick's borrow).
        let _ = TICKS.try_with(|t| {
            if let Ok(mut t) = t.try_borrow_mut() {
                if t.turn == turn {
                    if let Some(w) = t.waiting.get_mut(i as usize) {
                        *w = None;
                        t.free.push(i);
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);
    impl Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn poll(f: Pin<&mut NextTick>, w: &Waker) -> Poll<()> {
        f.poll(&mut Context::from_waker(w))
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt")
    }

    #[test]
    fn without_ticks_a_wait_arms_its_timer_at_once() {
        let count = std::sync::Arc::new(Count(Default::default()));
        let w = Waker::from(count.clone());
        let mut f = std::pin::pin!(next_tick_before(Instant::now() + Duration::from_secs(60)));
        assert!(poll(f.as_mut(), &w).is_ready());
    }

    #[test]
    fn a_far_deadline_waits_for_the_next_tick_a_near_one_does_not() {
        let now = Instant::now();
        start(now, Duration::from_millis(100));
        let count = std::sync::Arc::new(Count(Default::default()));
        let w = Waker::from(count.clone());
        // Within the margin (3 ticks): armed at once.
        let mut near = std::pin::pin!(next_tick_before(now + Duration::from_millis(250)));
        assert!(poll(near.as_mut(), &w).is_ready());
        let mut far = std::pin::pin!(next_tick_before(now + Duration::from_secs(5)));
        let mut gone = Box::pin(next_tick_before(now + Duration::from_secs(5)));
        assert!(poll(far.as_mut(), &w).is_pending());
        assert!(poll(far.as_mut(), &w).is_pending());
        assert!(poll(gone.as_mut(), &w).is_pending());
        // A wait that ends before the tick gives its place back: the next one takes it.
        drop(gone);
        let mut again = std::pin::pin!(next_tick_before(now + Duration::from_secs(5)));
        assert!(poll(again.as_mut(), &w).is_pending());
        assert_eq!(TICKS.with(|t| t.borrow().waiting.len()), 2);
        tick(now + Duration::from_millis(100));
        // Both live waits woken once, then ready.
        assert_eq!(count.0.load(std::sync::atomic::Ordering::Relaxed), 2);
        assert!(poll(far.as_mut(), &w).is_ready());
        assert!(poll(again.as_mut(), &w).is_ready());
        stop(now + Duration::from_millis(150));
        let mut after = std::pin::pin!(next_tick_before(now + Duration::from_secs(60)));
        assert!(poll(after.as_mut(), &w).is_ready());
    }

    #[test]
    fn a_timeout_answers_its_future_or_ends_at_its_deadline() {
        rt().block_on(async {
            let now = Instant::now();
            start(now, Duration::from_millis(10));
            let ticker = tokio::spawn(async {
                let mut i = tokio::time::interval(Duration::from_millis(10));
                loop {
                    i.tick().await;
                    tick(Instant::now());
                }
            });
            let done = std::pin::pin!(async { 7 });
            assert_eq!(timeout_at(now + Duration::from_secs(60), done).await, Ok(7));
            let at = now + Duration::from_millis(60);
            let never = std::pin::pin!(std::future::pending::<()>());
            assert_eq!(timeout_at(at, never).await, Err(()));
            assert!(Instant::now() >= at);
            ticker.abort();
            stop(Instant::now());
        });
    }

    #[test]
    fn a_deferred_sleep_still_ends_at_its_deadline() {
        rt().block_on(async {
            let now = Instant::now();
            start(now, Duration::from_millis(10));
            let at = now + Duration::from_millis(60);
            let ticker = tokio::spawn(async {
                let mut i = tokio::time::interval(Duration::from_millis(10));
                loop {
                    i.tick().await;
                    tick(Instant::now());
                }
            });
            sleep_until(at).await;
            assert!(Instant::now() >= at);
            ticker.abort();
            stop(Instant::now());
        });
    }
}
