//! The counters' storage: one cache-line-aligned shard per counting thread (a single writer
//! adds with a plain load and store), a shared shard for any further thread, and a coarse
//! clock advanced by a background thread so that counting reads one atomic, not the system
//! clock.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use super::N;

/// Events per second over the last second (one per shard; summed on read).
#[derive(Default)]
pub(super) struct Freq {
    /// Second (since the process epoch) `cur` counts; `prev` is the second before it.
    pub(super) sec: AtomicU64,
    pub(super) cur: AtomicU64,
    pub(super) prev: AtomicU64,
}

#[repr(align(128))]
pub(super) struct Shard {
    pub(super) c: [AtomicU64; N],
    pub(super) sess: Freq,
    pub(super) req: Freq,
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            c: std::array::from_fn(|_| AtomicU64::new(0)),
            sess: Freq::default(),
            req: Freq::default(),
        }
    }
}

pub(super) fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

/// Milliseconds since the process epoch, to within [`TICK`]: a background thread advances a
/// shared clock, so counting an event reads one atomic instead of the system clock.
pub(super) fn now_ms() -> u64 {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    static TICKER: OnceLock<()> = OnceLock::new();
    TICKER.get_or_init(|| {
        CLOCK.store(epoch().elapsed().as_millis() as u64, Ordering::Relaxed);
        let spawned = std::thread::Builder::new()
            .name("fulcrum-clock".into())
            .spawn(|| loop {
                std::thread::sleep(TICK);
                CLOCK.store(epoch().elapsed().as_millis() as u64, Ordering::Relaxed);
            });
        if let Err(e) = spawned {
            tracing::warn!("stats clock thread not started ({e}): session rates will read 0");
        }
    });
    CLOCK.load(Ordering::Relaxed)
}

/// Resolution of the counters' clock (rates are per second, `lastsess` in seconds).
pub(super) const TICK: std::time::Duration = std::time::Duration::from_millis(50);

/// Threads that get a shard of their own (one per core, at least 2, at most 64); the shard
/// after them is shared by any further thread.
pub(super) fn owned_shards() -> usize {
    static S: OnceLock<usize> = OnceLock::new();
    *S.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(4, |n| n.get())
            .clamp(2, 64)
    })
}

/// This thread's shard and whether it is the only writer there. Threads are numbered on
/// first use; numbers are never reused (worker threads live as long as the process).
#[inline]
pub(super) fn slot() -> (usize, bool) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        // (the shard and whether it is owned, decided once: no `owned_shards` per event)
        static SLOT: Cell<(usize, bool)> = const { Cell::new((usize::MAX, false)) };
    }
    SLOT.with(|s| {
        let got = s.get();
        if got.0 != usize::MAX {
            return got;
        }
        let v = NEXT.fetch_add(1, Ordering::Relaxed).min(owned_shards());
        let got = (v, v < owned_shards());
        s.set(got);
        got
    })
}

/// Adds `n` to `a`: a plain load and store when this thread is the shard's only writer.
#[inline]
pub(super) fn bump(a: &AtomicU64, n: u64, owned: bool) {
    if owned {
        a.store(a.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    } else {
        a.fetch_add(n, Ordering::Relaxed);
    }
}

/// An atomic alone on its cache line: written by every thread, it must not slow down reads of
/// its neighbours.
#[repr(align(128))]
#[derive(Default)]
pub(super) struct Padded(pub(super) AtomicU64);
