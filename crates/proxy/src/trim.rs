//! Gives the heap's free pages back to the system after a burst of connections went idle.
//!
//! glibc hands freed memory back only from the top of a heap: pages in the middle stay
//! resident for ever. A burst of clients that open faster than they park holds, for a moment,
//! a session each (~2.4 KB: its task, its session state, its runtime registration); once they
//! are parked (`park`, a slot of ~200 bytes each) that memory is free but still counted, so a
//! fast opener left about twice the parked state in the process's RSS. `malloc_trim(0)`
//! returns every whole free page of every arena (`MADV_DONTNEED`); the next burst faults them
//! in again, zeroed.
//!
//! When: at a worker's tick (`runtime.rs`, every `park::PARK_AFTER`) once enough memory was
//! freed since the last trim ([`MIN_FREED`]: sessions parked, the pool's unused transaction
//! buffers released) and nothing since the previous tick (the burst is over), at most once
//! per [`MIN_GAP`]; while memory keeps being freed, at most every [`MAX_GAP`]. A busy proxy
//! whose connections never go quiet never trims. A trim walks
//! the arenas' free chunks (measured: see bench/proxy/run.sh's idle test); it holds each
//! arena's lock meanwhile, so other threads' allocations wait that long.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bytes freed since the last trim that make one worth it.
pub const MIN_FREED: u64 = 512 << 10;
/// What a session freed when it parked (its task, its state, its registration), roughly.
pub const SESSION_BYTES: u64 = 2 << 10;
/// Trims are at least this far apart.
pub const MIN_GAP: Duration = Duration::from_millis(500);
/// A trim is due after this long even while connections keep parking.
pub const MAX_GAP: Duration = Duration::from_secs(10);

/// Bytes freed since the process started (all threads), as [`freed`] was told.
static FREED: AtomicU64 = AtomicU64::new(0);
/// `FREED` as the last tick saw it.
static SEEN: AtomicU64 = AtomicU64::new(0);
/// `FREED` at the last trim.
static TRIMMED_AT: AtomicU64 = AtomicU64::new(0);
/// When the last trim ran (ms since `epoch`), or when the first tick came.
static LAST: AtomicU64 = AtomicU64::new(0);

/// Gives back what the process's allocator keeps of freed memory, run before each trim (the
/// binary's allocator registers it: a kept block would hold its page in).
static GIVE_BACK: OnceLock<fn()> = OnceLock::new();

/// Registers `f` to run before each trim (once; later calls change nothing).
pub fn before_trim(f: fn()) {
    let _ = GIVE_BACK.set(f);
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// One connection was parked (its session's memory freed).
pub fn parked_one() {
    freed(SESSION_BYTES);
}

/// `bytes` of heap memory were freed.
pub fn freed(bytes: u64) {
    FREED.fetch_add(bytes, Ordering::Relaxed);
}

/// Whether a trim is due: `freed` bytes since the last one, `quiet` when nothing was freed
/// since the previous tick, `since` the last trim.
pub fn due(freed: u64, quiet: bool, since: Duration) -> bool {
    freed >= MIN_FREED && ((quiet && since >= MIN_GAP) || since >= MAX_GAP)
}

/// A worker's tick: trims when [`due`] (one thread at a time).
pub fn tick(now: Instant) {
    let total = FREED.load(Ordering::Relaxed);
    let quiet = SEEN.swap(total, Ordering::Relaxed) == total;
    let last = LAST.load(Ordering::Relaxed);
    let ms = now.saturating_duration_since(epoch()).as_millis() as u64;
    let since = Duration::from_millis(ms.saturating_sub(last));
    if !due(
        total.wrapping_sub(TRIMMED_AT.load(Ordering::Relaxed)),
        quiet,
        since,
    ) {
        return;
    }
    // Claimed by one thread.
    if LAST
        .compare_exchange(last, ms, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    TRIMMED_AT.store(total, Ordering::Relaxed);
    release();
}

/// Returns the heap's whole free pages to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release() {
    if let Some(give_back) = GIVE_BACK.get() {
        give_back();
    }
    // SAFETY: `malloc_trim` takes no pointer and may be called from any thread at any time
    // (it locks each arena as it walks it).
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators give memory back on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release() {
    if let Some(give_back) = GIVE_BACK.get() {
        give_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trim_follows_a_burst_once_it_is_over() {
        // Too little freed: never.
        assert!(!due(MIN_FREED - 1, true, MAX_GAP * 2));
        // A burst still going on: not before the longest gap.
        assert!(!due(MIN_FREED, false, MIN_GAP));
        assert!(due(MIN_FREED, false, MAX_GAP));
        // Over: at once, unless the last trim was within the shortest gap.
        assert!(due(MIN_FREED, true, MIN_GAP));
        assert!(!due(MIN_FREED * 10, true, MIN_GAP / 2));
    }

    #[test]
    fn a_tick_after_a_quiet_burst_trims_once() {
        let start = Instant::now() + MAX_GAP;
        for _ in 0..MIN_FREED / SESSION_BYTES {
            parked_one();
        }
        tick(start); // the parks are new to this tick: not quiet yet
        tick(start + Duration::from_millis(100));
        let trimmed = TRIMMED_AT.load(Ordering::Relaxed);
        assert!(trimmed >= MIN_FREED, "trimmed at {trimmed} bytes");
        tick(start + Duration::from_millis(200));
        assert_eq!(TRIMMED_AT.load(Ordering::Relaxed), trimmed, "once");
    }
}
