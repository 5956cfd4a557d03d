//! Idle keep-alive client connections parked without a task of their own.
//!
//! A tokio task costs its whole future for as long as it lives (the largest state the
//! session's code can reach, laid out once at spawn) plus the task cell. A connection idle
//! for more than [`PARK_AFTER`] ends its task instead: what it needs to go on (the socket,
//! its addresses, its frontend, its counters) goes into a small box handed to this thread's
//! parking lot, which waits for all of them in one task: one slot (the box, its deadline)
//! per connection. The socket leaves the runtime's registrations while parked (tokio keeps
//! about 300 bytes per registered socket): the lot watches it on an epoll set of its own
//! (level-triggered, the slot's key as the event's data), which costs a kernel entry and
//! none of our memory, and no peek (a fresh registration is not reported readable, as the
//! runtime's is). When bytes (or a close) arrive, the lot calls [`Parked::resume`], which
//! registers the socket again and spawns the session; at the idle deadline (`timeout
//! http-keep-alive`, or what stands for it) or on a stop, the box is dropped, which closes
//! the connection as an idle timeout or a soft stop did in its task. Parking and resuming
//! cost four `epoll_ctl` calls (off the runtime's set, onto the lot's, and back), paid only
//! by connections quiet for [`PARK_AFTER`].
//!
//! A connection busy enough to send its next request within [`PARK_AFTER`] never parks: the
//! request path does no extra work (no task spawned per request), only the quiet ones pay a
//! spawn when they speak again.

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::cell::RefCell;
use std::collections::BTreeSet;
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

/// When a connection idle since `now` is parked: `PARK_AFTER` later, rounded up to a multiple
/// of `PARK_AFTER` since the process's first call. The runtime wakes its driver (a system
/// call) whenever a timer is armed earlier than every other: deadlines on a shared grid
/// almost always meet one already armed, and each worker's tick (`runtime.rs`, every
/// `PARK_AFTER`) keeps one armed no further away, so a busy connection's idle wait (armed and
/// dropped per request) costs no wake. Measured on small keep-alive requests: an exact
/// deadline per wait cost 0.69 `write(2)` per request, the grid alone 0.46.
pub fn park_at(now: Instant) -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(|| now);
    let step = PARK_AFTER.as_nanos();
    let due = (now + PARK_AFTER)
        .saturating_duration_since(epoch)
        .as_nanos();
    let slots = due.div_ceil(step);
    epoch + Duration::from_nanos((slots * step).min(u128::from(u64::MAX)) as u64)
}

/// An idle connection's state while parked.
pub trait Parked: Send + 'static {
    /// Its socket, watched for bytes, a close or an error while parked (off the runtime's
    /// registrations: see the module's comment).
    fn fd(&self) -> BorrowedFd<'_>;
    /// Whether it must close now (a stop).
    fn stopping(&self) -> bool;
    /// Something arrived: serve it (registers the socket again, spawns the session's task).
    fn resume(self: Box<Self>);
}

/// One connection's place in the lot.
struct Slot {
    conn: Option<Box<dyn Parked>>,
    /// Its key in `timers` (`u64::MAX`: no deadline).
    due: u64,
}

struct Inner {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// (deadline in ms since `epoch`, slot), earliest first.
    timers: BTreeSet<(u64, u32)>,
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

struct Lot {
    inner: Mutex<Inner>,
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

/// Events taken from the lot's set per `epoll_wait`.
const BATCH: usize = 64;

thread_local! {
    static LOT: RefCell<Option<Arc<Lot>>> = const { RefCell::new(None) };
}

impl Lot {
    fn lock(&self) -> MutexGuard<'_, Inner> {
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
    fn evict(i: &mut Inner, key: u32) -> Option<Box<dyn Parked>> {
        let slot = i.slots.get_mut(key as usize)?;
        let conn = slot.conn.take()?;
        let due = std::mem::replace(&mut slot.due, u64::MAX);
        if due != u64::MAX {
            i.timers.remove(&(due, key));
        }
        i.free.push(key);
        i.parked -= 1;
        Some(conn)
    }

    /// Takes `conn`'s socket out of the lot's set (it goes back to the runtime's).
    fn unwatch(&self, conn: &dyn Parked) {
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
            let ready: Vec<Box<dyn Parked>> = {
                let mut i = self.lock();
                events[..n]
                    .iter()
                    .filter_map(|e| u32::try_from(e.data()).ok())
                    .filter_map(|key| Lot::evict(&mut i, key))
                    .collect()
            };
            for conn in ready {
                self.unwatch(&*conn);
                conn.resume();
            }
            if n < BATCH {
                return;
            }
        }
    }

    /// Closes the connections whose deadline has passed.
    fn expire(&self, now: Instant) {
        let now = self.ms(now);
        let gone: Vec<Box<dyn Parked>> = {
            let mut i = self.lock();
            let mut gone = Vec::new();
            while let Some(&(due, key)) = i.timers.first() {
                if due > now {
                    break;
                }
                i.timers.pop_first();
                if let Some(s) = i.slots.get_mut(key as usize) {
                    s.due = u64::MAX;
                }
                gone.extend(Lot::evict(&mut i, key));
            }
            gone
        };
        drop(gone); // closes them (and so takes them out of the set), outside the lock
    }

    /// Closes the connections that must stop.
    fn close_stopping(&self) {
        let gone: Vec<Box<dyn Parked>> = {
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
        let i = self.lock();
        i.timers
            .first()
            .map(|&(due, _)| self.epoch + Duration::from_millis(due))
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
struct Dead(Arc<Lot>);

impl Drop for Dead {
    fn drop(&mut self) {
        let gone: Vec<Box<dyn Parked>> = {
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
async fn watch_lot(lot: Arc<Lot>) {
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

/// This thread's lot for connections stopped by `stop`: a live one, or a new one (its task
/// spawned on the current runtime). `None` outside a runtime, when the lot here serves
/// another stop signal, or when no epoll set can be made.
fn lot_for(stop: &watch::Receiver<bool>) -> Option<Arc<Lot>> {
    tokio::runtime::Handle::try_current().ok()?;
    LOT.with(|l| {
        let mut l = l.borrow_mut();
        if let Some(lot) = l.as_ref() {
            if lot.lock().alive {
                return lot.stop.same_channel(stop).then(|| lot.clone());
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
                timers: BTreeSet::new(),
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
        *l = Some(lot.clone());
        Some(lot)
    })
}

/// Parks `conn` until something arrives (resumed), `deadline` passes or `stop` turns true
/// (dropped). Given back when it cannot be parked here: the caller waits in its own task
/// ([`wait_here`]).
pub fn park(
    conn: Box<dyn Parked>,
    deadline: Option<Instant>,
    stop: &watch::Receiver<bool>,
) -> Result<(), Box<dyn Parked>> {
    let Some(lot) = lot_for(stop) else {
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
                    due: u64::MAX,
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
        let earlier = due != u64::MAX && i.timers.first().is_none_or(|&(first, _)| due < first);
        let slot = &mut i.slots[key as usize];
        slot.conn = Some(conn);
        slot.due = due;
        if due != u64::MAX {
            i.timers.insert((due, key));
        }
        i.parked += 1;
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

/// A socket the caller's task watches without owning it ([`wait_here`]).
struct Borrowed(RawFd);

impl AsRawFd for Borrowed {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Waits in the caller's task for what the lot would wait for (`conn` could not be parked).
pub async fn wait_here(
    conn: Box<dyn Parked>,
    deadline: Option<Instant>,
    mut stop: watch::Receiver<bool>,
) {
    // Registered for the wait only (dropped, so deregistered, before `resume` registers
    // the socket again, and before `conn` closes it on the other paths: the descriptor
    // stays open and the same while registered, the I/O safety the deprecation is about);
    // a socket the runtime cannot take is closed.
    #[allow(deprecated)]
    let Ok(watch) = AsyncFd::with_interest(Borrowed(conn.fd().as_raw_fd()), Interest::READABLE) else {
        return;
    };
    let arrived = tokio::select! {
        // Bytes, a close or an error: the session reads and sees which.
        _ = watch.readable() => true,
        _ = sleep_opt(deadline) => false,
        _ = stop.changed() => false,
    };
    drop(watch);
    if arrived {
        conn.resume();
    }
}

/// Closes the connections parked on this thread that must stop now ([`Parked::stopping`]):
/// the runtime runs it on each worker when a generation's connections end.
pub fn close_stopping() {
    let lot = LOT.with(|l| l.borrow().clone());
    if let Some(lot) = lot {
        lot.close_stopping();
    }
}

/// Connections parked on this thread now.
pub fn parked() -> usize {
    LOT.with(|l| {
        l.borrow().as_ref().map_or(0, |lot| {
            let i = lot.lock();
            if i.alive {
                i.parked
            } else {
                0
            }
        })
    })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod grid_tests {
    use super::*;

    #[test]
    fn park_deadlines_share_a_grid() {
        let t = Instant::now();
        let a = park_at(t);
        assert!(a >= t + PARK_AFTER && a < t + 2 * PARK_AFTER, "{:?}", a - t);
        // Connections idle a few milliseconds apart mostly share a deadline.
        let b = park_at(t + Duration::from_millis(3));
        let c = park_at(t + Duration::from_millis(7));
        assert!(b == a || c == b, "{:?} {:?} {:?}", a - t, b - t, c - t);
        assert!(park_at(t + PARK_AFTER) > a);
    }
}
