//! `maxcompcpuusage N`: HAProxy 2.6 stops compressing new responses while its threads are
//! busier than N% (`idle_pct < 100 - N`). fulcrum's measure is the process's CPU time over
//! the last half second or more (`/proc/self/stat`'s utime + stime), per worker thread, read
//! at most twice a second and only when the keyword is set (else one atomic load per
//! response that could be compressed).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// 100: no limit (HAProxy's default).
static LIMIT: AtomicU32 = AtomicU32::new(100);
static THREADS: AtomicU32 = AtomicU32::new(1);
static BUSY: AtomicU32 = AtomicU32::new(0);
static SAMPLE: Mutex<Option<(Instant, u64)>> = Mutex::new(None);

/// Linux's USER_HZ: /proc times are in 1/100 s.
const TICK: Duration = Duration::from_millis(10);

/// Sets the limit (at each configuration load) and the number of worker threads.
pub fn install(limit: Option<u32>, threads: usize) {
    LIMIT.store(limit.unwrap_or(100).min(100), Ordering::Relaxed);
    THREADS.store(
        u32::try_from(threads.max(1)).unwrap_or(1),
        Ordering::Relaxed,
    );
}

/// Whether compression is to be skipped now (the process is busier than the limit).
pub fn over_limit() -> bool {
    let limit = LIMIT.load(Ordering::Relaxed);
    if limit >= 100 {
        return false;
    }
    refresh();
    BUSY.load(Ordering::Relaxed) > limit
}

fn refresh() {
    let Ok(mut s) = SAMPLE.try_lock() else {
        return;
    };
    let now = Instant::now();
    if s.is_some_and(|(at, _)| now.duration_since(at) < Duration::from_millis(500)) {
        return;
    }
    let Some(ticks) = cpu_ticks() else {
        return;
    };
    if let Some((at, before)) = *s {
        let wall = now.duration_since(at);
        let used = TICK * u32::try_from(ticks.saturating_sub(before)).unwrap_or(u32::MAX);
        BUSY.store(
            busy_pct(used, wall, THREADS.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }
    *s = Some((now, ticks));
}

/// Percent of `threads` CPUs that `used` CPU time over `wall` is.
pub fn busy_pct(used: Duration, wall: Duration, threads: u32) -> u32 {
    let all = wall.as_secs_f64() * f64::from(threads.max(1));
    if all <= 0.0 {
        return 0;
    }
    (used.as_secs_f64() / all * 100.0).round().clamp(0.0, 100.0) as u32
}

/// The process's user + system time, in ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_ticks(&stat)
}

fn parse_ticks(stat: &str) -> Option<u64> {
    // after the command's closing parenthesis: field 3 (state) on; utime and stime are
    // fields 14 and 15
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_percent_and_proc_stat() {
        let s = Duration::from_secs(1);
        assert_eq!(busy_pct(s / 2, s, 1), 50);
        assert_eq!(busy_pct(s, s, 4), 25);
        assert_eq!(busy_pct(s * 3, s, 1), 100);
        let stat = "123 (a b) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0";
        assert_eq!(parse_ticks(stat), Some(300));
        assert!(cpu_ticks().is_some());
    }
}
