//! Idle keep-alive client connections parked without a task of their own.
//!
//! A tokio task costs its whole future for as long as it lives (the largest state the
//! session's code can reach, laid out once at spawn) plus the task cell. A connection idle
//! for more than [`PARK_AFTER`] ends its task instead: what it needs to go on (the socket,
//! its addresses, its frontend, its counters) moves into this thread's parking lot, which
//! waits for all of them in one task: one slot (that state, its deadline) per connection.
//! The slots are one vector per kind of parked state (no allocation per connection): parked
//! states allocated one by one would land in the holes that the sessions parking around
//! them free, and pin the heap's pages among that freed memory (`trim`). The socket leaves the runtime's registrations while parked (tokio keeps
//! about 300 bytes per registered socket): the lot watches it on an epoll set of its own
//! (level-triggered, the slot's key as the event's data), which costs a kernel entry and
//! none of our memory, and no peek (a fresh registration is not reported readable, as the
//! runtime's is). When bytes (or a close) arrive, the lot calls [`Parked::resume`], which
//! registers the socket again and spawns the session; at the idle deadline (`timeout
//! http-keep-alive`, or what stands for it) or on a stop, the state is dropped, which closes
//! the connection as an idle timeout or a soft stop did in its task. Parking and resuming
//! cost four `epoll_ctl` calls (off the runtime's set, onto the lot's, and back), paid only
//! by connections quiet for [`PARK_AFTER`].
//!
//! A connection busy enough to send its next request within [`PARK_AFTER`] never parks: the
//! request path does no extra work (no task spawned per request), only the quiet ones pay a
//! spawn when they speak again. While most parked connections of a thread come back soon
//! (thousands of clients each sending a request every few hundred milliseconds), the wait
//! before parking grows up to 16 times `PARK_AFTER` (`delay`), so they stop paying it.

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::any::Any;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a connection stays idle in its own task before it is parked (at least; see
/// [`park_at`]).
pub const PARK_AFTER: Duration = Duration::from_millis(100);

/// When a connection idle since `now` (a `clock::monotonic_ns` reading) is parked: this
/// thread's wait later (`PARK_AFTER`, or a few times it while parked connections come back
/// soon: `delay`), rounded up to a multiple of `PARK_AFTER` of the monotonic clock. The
/// runtime wakes its driver (a system call) whenever a timer is armed earlier than every
/// other: deadlines on a shared grid almost always meet one already armed, and each worker's
/// tick (`runtime.rs`, every `PARK_AFTER`) keeps one armed no further away, so a busy
/// connection's idle wait (armed and dropped per request) costs no wake. Measured on small keep-alive requests: an exact
/// deadline per wait cost 0.69 `write(2)` per request, the grid alone 0.46.
///
/// In u64 nanoseconds (584 years), not `Instant` and `u128` arithmetic: called per request.
pub fn park_at(now: u64) -> Instant {
    const STEP: u64 = PARK_AFTER.as_nanos() as u64;
    // (the wait is a whole number of steps)
    let slots = now.div_ceil(STEP) + u64::from(delay::steps());
    Instant::from_std(crate::clock::instant_of(slots.saturating_mul(STEP)))
}

/// An idle connection's state while parked (kept by value in its lot's slots).
pub trait Parked: Send + Sized + 'static {
    /// Its socket, watched for bytes, a close or an error while parked (off the runtime's
    /// registrations: see the module's comment).
    fn fd(&self) -> BorrowedFd<'_>;
    /// Whether it must close now (a stop).
    fn stopping(&self) -> bool;
    /// Something arrived: serve it (registers the socket again, spawns the session's task).
    fn resume(self);
}

/// One connection's place in the lot.
struct Slot<T> {
    conn: Option<T>,
    /// Bumped at each park into this slot: a timer of an earlier stay no longer matches.
    turn: u32,
    /// When the connection parked (ms since the lot's epoch): how long it stayed (`delay`).
    since: u64,
}

/// A deadline: (ms since `epoch`, slot, the slot's `turn` then), earliest first.
type Timer = Reverse<(u64, u32, u32)>;

struct Inner<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    /// The parked connections' deadlines, in one heap: an entry whose connection left stays
    /// until it comes first or the heap is compacted (no allocation per connection, which
    /// would pin heap pages among the sessions' freed memory: `trim`).
    timers: BinaryHeap<Timer>,
    /// The lot's task, woken when a deadline earlier than those it sleeps for comes in.
    watcher: Option<Waker>,
    /// Such a deadline came in: the task's sleep is to be set again.
    rearm: bool,
    /// False once the lot's task is gone (its runtime stopped): a new lot is made.
    alive: bool,
    parked: usize,
}

/// The lot's epoll set (itself watched by the runtime).
struct EpollFd(Epoll);

impl AsRawFd for EpollFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0 .0.as_raw_fd()
    }
}

struct Lot<T> {
    inner: Mutex<Inner<T>>,
    /// The parked sockets, each with its slot's key as the event's data.
    epoll: AsyncFd<EpollFd>,
    epoch: Instant,
    /// The stop signal of the connections parked here (one per proxy runtime).
    stop: watch::Receiver<bool>,
}

/// What the lot's set reports: bytes, a close (either way) or an error.
fn watched() -> EpollFlags {
    EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP
}

/// Whether timer `t` is its slot's current stay (not one that already left).
fn current<T>(slots: &[Slot<T>], t: &Timer) -> bool {
    let Reverse((_, key, turn)) = *t;
    slots
        .get(key as usize)
        .is_some_and(|s| s.conn.is_some() && s.turn == turn)
}

/// Events taken from the lot's set per `epoll_wait`.
const BATCH: usize = 64;

/// Slots kept when the lot empties: a larger vector is freed then (a burst of idle clients
/// does not pin its peak for ever).
const KEEP_SLOTS: usize = 1024;

/// A lot of any kind, as this thread's list holds them.
trait AnyLot: Send + Sync {
    fn parked(&self) -> usize;
    fn close_stopping(&self);
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<T: Parked> AnyLot for Lot<T> {
    fn parked(&self) -> usize {
        let i = self.lock();
        if i.alive {
            i.parked
        } else {
            0
        }
    }
    fn close_stopping(&self) {
        Lot::close_stopping(self)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

thread_local! {
    /// This thread's lots, one per kind of parked state.
    static LOTS: RefCell<Vec<Arc<dyn AnyLot>>> = const { RefCell::new(Vec::new()) };
}

impl<T: Parked> Lot<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn ms(&self, t: Instant) -> u64 {
        // Rounded up: a deadline is never met early.
        let d = t.saturating_duration_since(self.epoch);
        d.as_millis() as u64 + u64::from(!d.subsec_nanos().is_multiple_of(1_000_000))
    }

    /// Takes the connection out of slot `key` (freed, its deadline cancelled). Its socket
    /// stays in the lot's set until closed or [`Lot::unwatch`]ed.
    fn evict(i: &mut Inner<T>, key: u32) -> Option<T> {
        let slot = i.slots.get_mut(key as usize)?;
        let conn = slot.conn.take()?;
        i.parked -= 1;
        if i.parked == 0 && i.slots.len() > KEEP_SLOTS {
            // Empty: the vectors of a burst's peak are freed (stale events of the set find
            // no slot, or an empty one; no timer is left to meet a new slot's turn).
            i.slots = Vec::new();
            i.free = Vec::new();
            i.timers = BinaryHeap::new();
        } else {
            i.free.push(key);
            if i.parked == 0 {
                i.timers.clear();
            } else if i.timers.len() > 2 * i.parked + KEEP_SLOTS {
                let slots = &i.slots;
                i.timers.retain(|t| current(slots, t));
            }
        }
        Some(conn)
    }

    /// The earliest deadline, stale ones dropped on the way.
    fn first(i: &mut Inner<T>) -> Option<u64> {
        while let Some(t) = i.timers.peek() {
            if current(&i.slots, t) {
                return Some(t.0 .0);
            }
            i.timers.pop();
        }
        None
    }

    /// Takes `conn`'s socket out of the lot's set (it goes back to the runtime's).
    fn unwatch(&self, conn: &T) {
        // An error leaves it watched: a later event finds its slot empty or another
        // connection's, which it then polls for nothing (level-triggered: not again).
        let _ = self.epoll.get_ref().0.delete(conn.fd());
    }

    /// Resumes the connections whose sockets have something (bytes, a close, an error).
    fn resume_ready(&self) {
        let mut events = [EpollEvent::empty(); BATCH];
        loop {
            let n = match self.epoll.get_ref().0.wait(&mut events, EpollTimeout::ZERO) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            };
            // One at a time: a vector of the batch's states (up to 64 of ~200 bytes) was a
            // 12 KB allocation per wake, which grew and shrank the heap's top (page faults).
            let now = self.ms(Instant::now());
            for key in events[..n]
                .iter()
                .filter_map(|e| u32::try_from(e.data()).ok())
            {
                let conn = {
                    let mut i = self.lock();
                    let since = i.slots.get(key as usize).map_or(now, |s| s.since);
                    Lot::evict(&mut i, key).inspect(|_| {
                        delay::left(Duration::from_millis(now.saturating_sub(since)), true)
                    })
                };
                if let Some(conn) = conn {
                    self.unwatch(&conn);
                    conn.resume();
                }
            }
            if n < BATCH {
                return;
            }
        }
    }

    /// Closes the connections whose deadline has passed.
    fn expire(&self, now: Instant) {
        let now = self.ms(now);
        let gone: Vec<T> = {
            let mut i = self.lock();
            let mut gone = Vec::new();
            while let Some(due) = Lot::first(&mut i) {
                if due > now {
                    break;
                }
                if let Some(Reverse((_, key, _))) = i.timers.pop() {
                    gone.extend(Lot::evict(&mut i, key));
                }
                delay::left(Duration::MAX, false);
            }
            gone
        };
        drop(gone); // closes them (and so takes them out of the set), outside the lock
    }

    /// Closes the connections that must stop.
    fn close_stopping(&self) {
        let gone: Vec<T> = {
            let mut i = self.lock();
            let keys: Vec<u32> = (0..i.slots.len() as u32)
                .filter(|&k| {
                    i.slots[k as usize]
                        .conn
                        .as_ref()
                        .is_some_and(|c| c.stopping())
                })
                .collect();
            keys.into_iter()
                .filter_map(|k| Lot::evict(&mut i, k))
                .collect()
        };
        drop(gone);
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut i = self.lock();
        Lot::first(&mut i).map(|due| self.epoch + Duration::from_millis(due))
    }

    /// Ready when the lot's set has events or an earlier deadline came in ([`park`]);
    /// otherwise keeps `cx`'s waker.
    fn poll_signalled(&self, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut i = self.lock();
            if std::mem::take(&mut i.rearm) {
                return Poll::Ready(());
            }
            match &i.watcher {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => i.watcher = Some(cx.waker().clone()),
            }
        }
        match self.epoll.poll_read_ready(cx) {
            Poll::Ready(Ok(mut guard)) => {
                // Edge-triggered: cleared here, raised again by the next event (the set is
                // drained by `resume_ready` right after).
                guard.clear_ready();
                Poll::Ready(())
            }
            Poll::Ready(Err(_)) => Poll::Pending,
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Marks the lot dead and closes what it holds when its task ends (its runtime stopped).
struct Dead<T: Parked>(Arc<Lot<T>>);

impl<T: Parked> Drop for Dead<T> {
    fn drop(&mut self) {
        let gone: Vec<T> = {
            let mut i = self.0.lock();
            i.alive = false;
            i.timers.clear();
            i.parked = 0;
            i.slots.iter_mut().filter_map(|s| s.conn.take()).collect()
        };
        drop(gone);
    }
}

/// The lot's task: waits for the set's events, the earliest deadline and the stop.
async fn watch_lot<T: Parked>(lot: Arc<Lot<T>>) {
    let lot = Dead(lot);
    let mut stop = Some(lot.0.stop.clone());
    loop {
        let next = lot.0.next_deadline();
        tokio::select! {
            _ = std::future::poll_fn(|cx| lot.0.poll_signalled(cx)) => {}
            _ = sleep_opt(next) => {}
            r = changed(&mut stop) => {
                if r.is_err() {
                    stop = None; // the proxy runtime is gone: nothing will stop them
                }
                lot.0.close_stopping();
            }
        }
        lot.0.resume_ready();
        lot.0.expire(Instant::now());
    }
}

async fn changed(stop: &mut Option<watch::Receiver<bool>>) -> Result<(), watch::error::RecvError> {
    match stop {
        Some(s) => s.changed().await,
        None => std::future::pending().await,
    }
}

async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// This thread's lot of `T`s for connections stopped by `stop`: a live one, or a new one
/// (its task spawned on the current runtime). `None` outside a runtime, when the lot here
/// serves another stop signal, or when no epoll set can be made.
fn lot_for<T: Parked>(stop: &watch::Receiver<bool>) -> Option<Arc<Lot<T>>> {
    tokio::runtime::Handle::try_current().ok()?;
    LOTS.with(|l| {
        let mut l = l.borrow_mut();
        let mut at = None;
        for (n, any) in l.iter().enumerate() {
            if let Ok(lot) = any.clone().into_any().downcast::<Lot<T>>() {
                if lot.lock().alive {
                    return lot.stop.same_channel(stop).then_some(lot);
                }
                at = Some(n);
                break;
            }
        }
        let set = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).ok()?;
        // The AsyncFd owns the set, so the I/O-safety concern behind the deprecation (a
        // descriptor closed or reused while registered) does not arise.
        #[allow(deprecated)]
        let epoll = AsyncFd::with_interest(EpollFd(set), Interest::READABLE).ok()?;
        let lot = Arc::new(Lot {
            inner: Mutex::new(Inner {
                slots: Vec::new(),
                free: Vec::new(),
                timers: BinaryHeap::new(),
                watcher: None,
                rearm: false,
                alive: true,
                parked: 0,
            }),
            epoll,
            epoch: Instant::now(),
            stop: stop.clone(),
        });
        tokio::spawn(watch_lot(lot.clone()));
        match at {
            Some(n) => l[n] = lot.clone(),
            None => l.push(lot.clone()),
        }
        Some(lot)
    })
}

/// Parks `conn` until something arrives (resumed), `deadline` passes or `stop` turns true
/// (dropped). Given back when it cannot be parked here: the caller waits in its own task
/// ([`wait_here`]).
pub fn park<T: Parked>(
    conn: T,
    deadline: Option<Instant>,
    stop: &watch::Receiver<bool>,
) -> Result<(), T> {
    let Some(lot) = lot_for::<T>(stop) else {
        return Err(conn);
    };
    let wake_watcher = {
        let mut i = lot.lock();
        let key = match i.free.pop() {
            Some(k) => k,
            None => {
                let k = i.slots.len() as u32;
                i.slots.push(Slot {
                    conn: None,
                    turn: 0,
                    since: 0,
                });
                k
            }
        };
        let event = EpollEvent::new(watched(), u64::from(key));
        if lot.epoll.get_ref().0.add(conn.fd(), event).is_err() {
            i.free.push(key);
            return Err(conn);
        }
        let due = deadline.map_or(u64::MAX, |d| lot.ms(d));
        // The lot's task sleeps until the earliest deadline it knew: woken for an earlier one.
        let earlier = due != u64::MAX && Lot::first(&mut i).is_none_or(|first| due < first);
        let since = lot.ms(Instant::now());
        let slot = &mut i.slots[key as usize];
        slot.conn = Some(conn);
        slot.since = since;
        slot.turn = slot.turn.wrapping_add(1);
        let turn = slot.turn;
        if due != u64::MAX {
            i.timers.push(Reverse((due, key, turn)));
        }
        i.parked += 1;
        crate::trim::parked_one();
        if earlier {
            i.rearm = true;
            i.watcher.take()
        } else {
            None
        }
    };
    if let Some(w) = wake_watcher {
        w.wake();
    }
    Ok(())
}

/// Closes the connections parked on this thread that must stop now ([`Parked::stopping`]):
/// the runtime runs it on each worker when a generation's connections end.
pub fn close_stopping() {
    let lots: Vec<Arc<dyn AnyLot>> = LOTS.with(|l| l.borrow().clone());
    for lot in lots {
        lot.close_stopping();
    }
}

/// Connections parked on this thread now.
pub fn parked() -> usize {
    LOTS.with(|l| l.borrow().iter().map(|lot| lot.parked()).sum())
}

mod delay;
mod here;
pub use here::wait_here;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod grid_tests {
    use super::*;

    #[test]
    fn park_deadlines_share_a_grid() {
        let t = Instant::now();
        let n = crate::clock::ns_of(t.into_std());
        let ms = |m: u64| n + m * 1_000_000;
        let a = park_at(n);
        assert!(a >= t + PARK_AFTER && a < t + 2 * PARK_AFTER, "{:?}", a - t);
        // Connections idle a few milliseconds apart mostly share a deadline.
        let b = park_at(ms(3));
        let c = park_at(ms(7));
        assert!(b == a || c == b, "{:?} {:?} {:?}", a - t, b - t, c - t);
        assert!(park_at(n + PARK_AFTER.as_nanos() as u64) > a);
    }
}
