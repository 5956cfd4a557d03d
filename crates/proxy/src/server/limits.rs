//! A server's `slowstart`, `maxqueue`, `redir` and `on-marked-down|up` state (the model's
//! `ServerLimits`), kept on the server so that a reload that keeps it applies new values.
//!
//! - Slow start (HAProxy's warm-up): after the server goes from stopped to running, its
//!   effective weight for the dynamic algorithms is `weight × w / 16` with
//!   `w = (16 × elapsed + slowstart) / slowstart` (whole seconds, as HAProxy's
//!   `server_recalc_eweight`), and its `maxconn` is `max(1, maxconn × elapsed / slowstart)`
//!   (`srv_dynamic_maxconn`). A server UP from the start does not ramp.
//! - `maxqueue`: requests a persistence sends to this server while it is full wait for it,
//!   at most `maxqueue` of them (the farm's `assign`).
//! - Sessions: with `on-marked-down shutdown-sessions` (or as a backup of a backend with
//!   `on-marked-up shutdown-backup-sessions`) the tasks serving this server are noted, to be
//!   aborted when the health checks say so.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Limits {
    /// `slowstart` in whole seconds (0: none).
    slowstart: AtomicU32,
    /// Went from stopped to running with a slow start: ramping until `slowstart` elapsed.
    ramping: AtomicBool,
    /// `maxqueue` (0: no own queue).
    maxqueue: AtomicU32,
    /// Requests waiting for this server (its own queue).
    waiting: AtomicU32,
    /// A slot of this server was freed: a waiter looks.
    pub(crate) freed: Notify,
    redir: RwLock<Option<Arc<str>>>,
    shutdown_on_down: AtomicBool,
    shutdown_backup_on_up: AtomicBool,
    /// Sessions are noted (see the module's comment).
    noting: AtomicBool,
    /// `track`: the state is another server's (its health events set it).
    tracks: AtomicBool,
    sessions: Mutex<Vec<tokio::task::Id>>,
}

/// HAProxy's `BE_WEIGHT_SCALE`: `w` at full weight.
const FULL: u32 = crate::balance::WEIGHT_SCALE;

impl Limits {
    /// Applies the model's values (build and reload).
    pub fn set(&self, l: &fulcrum_config::model_limits::ServerLimits, note_sessions: bool) {
        // HAProxy keeps `slowstart` in seconds, rounded up
        let secs = l
            .slowstart
            .map(|d| u32::try_from(d.as_millis().div_ceil(1000)).unwrap_or(u32::MAX))
            .unwrap_or(0);
        self.slowstart.store(secs, Ordering::Relaxed);
        self.maxqueue
            .store(l.maxqueue.unwrap_or(0), Ordering::Relaxed);
        *self.redir.write().unwrap_or_else(|p| p.into_inner()) = l.redir.as_deref().map(Arc::from);
        self.shutdown_on_down
            .store(l.shutdown_on_down, Ordering::Relaxed);
        self.shutdown_backup_on_up
            .store(l.shutdown_backup_on_up, Ordering::Relaxed);
        self.noting
            .store(note_sessions || l.shutdown_on_down, Ordering::Relaxed);
        self.tracks.store(l.track.is_some(), Ordering::Relaxed);
    }

    /// `track`: the server's state follows another's (stats show it as checked).
    pub fn tracks(&self) -> bool {
        self.tracks.load(Ordering::Relaxed)
    }

    pub fn has_slowstart(&self) -> bool {
        self.slowstart.load(Ordering::Relaxed) > 0
    }

    /// The server went from stopped to running (true) or stopped (false).
    pub(crate) fn note_running(&self, running: bool) {
        self.ramping
            .store(running && self.has_slowstart(), Ordering::Relaxed);
    }

    /// Seconds into the ramp, when ramping (`since`: the unix time it came up).
    fn ramp_elapsed(&self, since: u64) -> Option<(u64, u64)> {
        if !self.ramping.load(Ordering::Relaxed) {
            return None;
        }
        let ss = u64::from(self.slowstart.load(Ordering::Relaxed));
        let e = crate::clock::unix_now().saturating_sub(since);
        if ss == 0 || e >= ss {
            self.ramping.store(false, Ordering::Relaxed);
            return None;
        }
        Some((e, ss))
    }

    /// `w` of the effective weight (1..=16; 16: full).
    pub fn weight_scale(&self, since: u64) -> u32 {
        match self.ramp_elapsed(since) {
            Some((e, ss)) => u32::try_from((u64::from(FULL) * e + ss) / ss)
                .unwrap_or(FULL)
                .min(FULL),
            None => FULL,
        }
    }

    /// `maxconn` during the ramp.
    pub fn ramped_maxconn(&self, max: u32, since: u64) -> u32 {
        match self.ramp_elapsed(since) {
            Some((e, ss)) => {
                let ratio = 100 * e / ss;
                u32::try_from(u64::from(max) * ratio / 100)
                    .unwrap_or(max)
                    .max(1)
            }
            None => max,
        }
    }

    pub fn maxqueue(&self) -> Option<u32> {
        Some(self.maxqueue.load(Ordering::Relaxed)).filter(|n| *n > 0)
    }

    /// Requests waiting in this server's own queue.
    pub fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Acquire)
    }

    /// A request starts waiting for this server: None when `maxqueue` are already waiting.
    pub(crate) fn enter_queue(&self) -> Option<QueueSeat<'_>> {
        let max = self.maxqueue()?;
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                (w < max).then_some(w + 1)
            })
            .ok()
            .map(|_| QueueSeat(self))
    }

    /// `redir PREFIX`.
    pub fn redir(&self) -> Option<Arc<str>> {
        self.redir.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn shutdown_on_down(&self) -> bool {
        self.shutdown_on_down.load(Ordering::Relaxed)
    }

    pub fn shutdown_backup_on_up(&self) -> bool {
        self.shutdown_backup_on_up.load(Ordering::Relaxed)
    }

    /// Notes the current task as serving this server (when sessions are noted).
    pub(crate) fn session_start(&self) -> Option<tokio::task::Id> {
        if !self.noting.load(Ordering::Relaxed) {
            return None;
        }
        let id = tokio::task::try_id()?;
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(id);
        Some(id)
    }

    pub(crate) fn session_end(&self, id: tokio::task::Id) {
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = s.iter().position(|x| *x == id) {
            s.swap_remove(i);
        }
    }

    /// The tasks serving this server now (to be aborted).
    pub fn sessions(&self) -> Vec<tokio::task::Id> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A place in a server's own queue, given back when dropped.
pub(crate) struct QueueSeat<'a>(&'a Limits);

impl Drop for QueueSeat<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_config::model_limits::ServerLimits;
    use std::time::Duration;

    #[test]
    fn slow_start_ramps_as_haproxy() {
        let l = Limits::default();
        l.set(
            &ServerLimits {
                slowstart: Some(Duration::from_millis(3500)),
                ..Default::default()
            },
            false,
        );
        let now = crate::clock::unix_now();
        // not ramping until it comes up
        assert_eq!(l.weight_scale(now), FULL);
        l.note_running(true);
        // 4 s (rounded up): w = (16e + 4) / 4
        assert_eq!(l.weight_scale(now), 1);
        assert_eq!(l.weight_scale(now - 1), 5);
        assert_eq!(l.weight_scale(now - 3), 13);
        assert_eq!(l.ramped_maxconn(100, now), 1);
        assert_eq!(l.ramped_maxconn(100, now - 2), 50);
        assert_eq!(l.weight_scale(now - 4), FULL, "ramp over");
        assert_eq!(l.weight_scale(now), FULL, "and stays over");
    }

    #[test]
    fn the_own_queue_holds_maxqueue() {
        let l = Limits::default();
        assert!(l.enter_queue().is_none(), "no maxqueue: no own queue");
        l.set(
            &ServerLimits {
                maxqueue: Some(2),
                ..Default::default()
            },
            false,
        );
        let a = l.enter_queue();
        let b = l.enter_queue();
        assert!(a.is_some() && b.is_some() && l.enter_queue().is_none());
        drop(a);
        assert_eq!(l.waiting(), 1);
        assert!(l.enter_queue().is_some());
    }
}
