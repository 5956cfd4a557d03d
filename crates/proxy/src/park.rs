//! Idle keep-alive client connections parked without a task of their own.
//!
//! A tokio task costs its whole future for as long as it lives (the largest state the
//! session's code can reach, laid out once at spawn) plus the task cell. A connection idle
//! for more than [`PARK_AFTER`] ends its task instead: what it needs to go on (the socket,
//! its addresses, its frontend, its counters) goes into a small box handed to this thread's
//! parking lot, which waits for all of them in one task: one slot (its waker, its deadline)
//! per connection. When bytes (or a close) arrive, the lot calls [`Parked::resume`], which
//! spawns the session again; at the idle deadline (`timeout http-keep-alive`, or what stands
//! for it) or on a stop, the box is dropped, which closes the connection as an idle timeout
//! or a soft stop did in its task.
//!
//! A connection busy enough to send its next request within [`PARK_AFTER`] never parks: the
//! request path does no extra work (no task spawned per request), only the quiet ones pay a
//! spawn when they speak again.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
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
    /// Polls the connection's read readiness (keeping `cx`'s waker): ready when bytes, a
    /// close or an error are there.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()>;
    /// Whether it must close now (a stop).
    fn stopping(&self) -> bool;
    /// Something arrived: serve it (spawns the session's task again).
    fn resume(self: Box<Self>);
}

/// One connection's place in the lot. The waker is made once per slot and kept: a wake meant
/// for a former occupant only makes the lot poll the new one, which says `Pending`.
struct Slot {
    conn: Option<Box<dyn Parked>>,
    /// Its key in `timers` (`u64::MAX`: no deadline).
    due: u64,
    waker: Waker,
}

struct Inner {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slots whose readiness was signalled (or newly parked: polled once to register).
    ready: Vec<u32>,
    /// (deadline in ms since `epoch`, slot), earliest first.
    timers: BTreeSet<(u64, u32)>,
    watcher: Option<Waker>,
    /// False once the lot's task is gone (its runtime stopped): a new lot is made.
    alive: bool,
    parked: usize,
}

struct Lot {
    inner: Mutex<Inner>,
    epoch: Instant,
    /// The stop signal of the connections parked here (one per proxy runtime).
    stop: watch::Receiver<bool>,
}

struct SlotWaker {
    lot: Weak<Lot>,
    key: u32,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(lot) = self.lot.upgrade() {
            let w = {
                let mut i = lot.lock();
                i.ready.push(self.key);
                i.watcher.take()
            };
            if let Some(w) = w {
                w.wake();
            }
        }
    }
}

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

    /// Takes the connection out of slot `key` (freed, its deadline cancelled).
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

    /// Polls the signalled slots: resumes those with something to read.
    fn poll_ready_slots(&self) {
        loop {
            let keys = std::mem::take(&mut self.lock().ready);
            if keys.is_empty() {
                return;
            }
            for key in keys {
                let taken = {
                    let mut i = self.lock();
                    i.slots
                        .get_mut(key as usize)
                        .and_then(|s| s.conn.take().map(|c| (c, s.waker.clone())))
                };
                let Some((mut conn, waker)) = taken else {
                    continue;
                };
                if conn.poll_ready(&mut Context::from_waker(&waker)).is_ready() {
                    {
                        let mut i = self.lock();
                        // Put back only to take it out with its timer and slot.
                        i.slots[key as usize].conn = Some(conn);
                        conn = match Lot::evict(&mut i, key) {
                            Some(c) => c,
                            None => continue,
                        };
                    }
                    conn.resume();
                } else {
                    self.lock().slots[key as usize].conn = Some(conn);
                }
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
        drop(gone); // closes them, outside the lock
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

    /// Ready when a slot was signalled; otherwise keeps `cx`'s waker for the next signal.
    fn poll_signalled(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut i = self.lock();
        if !i.ready.is_empty() {
            return Poll::Ready(());
        }
        match &i.watcher {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => i.watcher = Some(cx.waker().clone()),
        }
        Poll::Pending
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
            i.ready.clear();
            i.parked = 0;
            i.slots.iter_mut().filter_map(|s| s.conn.take()).collect()
        };
        drop(gone);
    }
}

/// The lot's task: waits for signals, the earliest deadline and the stop.
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
        lot.0.poll_ready_slots();
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
/// spawned on the current runtime). `None` outside a runtime, or when the lot here serves
/// another stop signal.
fn lot_for(stop: &watch::Receiver<bool>) -> Option<Arc<Lot>> {
    tokio::runtime::Handle::try_current().ok()?;
    LOT.with(|l| {
        let mut l = l.borrow_mut();
        if let Some(lot) = l.as_ref() {
            if lot.lock().alive {
                return lot.stop.same_channel(stop).then(|| lot.clone());
            }
        }
        let lot = Arc::new(Lot {
            inner: Mutex::new(Inner {
                slots: Vec::new(),
                free: Vec::new(),
                ready: Vec::new(),
                timers: BTreeSet::new(),
                watcher: None,
                alive: true,
                parked: 0,
            }),
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
                let waker = Waker::from(Arc::new(SlotWaker {
                    lot: Arc::downgrade(&lot),
                    key: k,
                }));
                i.slots.push(Slot {
                    conn: None,
                    due: u64::MAX,
                    waker,
                });
                k
            }
        };
        let due = deadline.map_or(u64::MAX, |d| lot.ms(d));
        let slot = &mut i.slots[key as usize];
        slot.conn = Some(conn);
        slot.due = due;
        if due != u64::MAX {
            i.timers.insert((due, key));
        }
        i.parked += 1;
        // Polled once by the lot, which registers the slot's waker with the socket.
        i.ready.push(key);
        i.watcher.take()
    };
    if let Some(w) = wake_watcher {
        w.wake();
    }
    Ok(())
}

/// Waits in the caller's task for what the lot would wait for (`conn` could not be parked).
pub async fn wait_here(
    mut conn: Box<dyn Parked>,
    deadline: Option<Instant>,
    mut stop: watch::Receiver<bool>,
) {
    tokio::select! {
        _ = std::future::poll_fn(|cx| conn.poll_ready(cx)) => conn.resume(),
        _ = sleep_opt(deadline) => {}
        _ = stop.changed() => {}
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
