//! A configuration generation's "end now" signal: HAProxy's `hard-stop-after` (a replaced or
//! stopping configuration's connections last at most that long) and `mworker-max-reloads N`
//! (the connections of a configuration N reloads old end).
//!
//! Every frontend of a generation holds its [`End`]. When the configuration can end its
//! connections (one of the two keywords is set), each connection's task is registered at
//! spawn and leaves when it ends ([`spawn`]: a few uncontended locks per connection, nothing
//! per request, no finished task kept); otherwise nothing is registered and the signal costs
//! a flag test per connection. [`End::end_now`] aborts every
//! registered task (its sockets close with it, whatever it was doing: a request, a TCP relay,
//! a tunnel, an HTTP/2 connection) and marks the generation ended: a task registered later (a
//! parked keep-alive connection waking up) is aborted at once, and the parking lots close the
//! parked connections of an ended generation when asked (`park::close_stopping`, run on each
//! worker). [`Replaced`] keeps the generations a reload replaced and ends them
//! on time.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::task::AbortHandle;

/// One generation's signal.
#[derive(Debug, Default)]
pub struct End {
    /// Connections are registered (the configuration can end them).
    tracking: bool,
    /// `hard-stop-after` of this generation's configuration.
    pub hard_stop_after: Option<Duration>,
    state: Mutex<State>,
    ended: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    /// One slot per live registered task: (its number, its handle once spawned).
    slots: Vec<Option<(u64, Option<AbortHandle>)>>,
    free: Vec<usize>,
    seq: u64,
}

impl End {
    /// A generation's signal; `tracking` when its configuration has `hard-stop-after` or
    /// `mworker-max-reloads`.
    pub fn new(tracking: bool, hard_stop_after: Option<Duration>) -> Arc<End> {
        Arc::new(End {
            tracking,
            hard_stop_after,
            ..End::default()
        })
    }

    /// Whether the generation's connections were ended.
    pub fn ended(&self) -> bool {
        self.ended.load(std::sync::atomic::Ordering::Acquire)
    }

    /// This signal, when connection tasks are to be registered with it (see [`spawn`]).
    pub fn tracker(self: &Arc<Self>) -> Option<Arc<End>> {
        self.tracking.then(|| self.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// A slot for a task about to be spawned (None: the generation has ended).
    fn reserve(&self) -> Option<(usize, u64)> {
        let mut s = self.lock();
        if self.ended() {
            return None;
        }
        s.seq += 1;
        let entry = Some((s.seq, None));
        let key = match s.free.pop() {
            Some(k) => {
                s.slots[k] = entry;
                k
            }
            None => {
                s.slots.push(entry);
                s.slots.len() - 1
            }
        };
        Some((key, s.seq))
    }

    /// The task of slot `key` is spawned: kept to be aborted (at once if ended meanwhile).
    fn fill(&self, (key, seq): (usize, u64), task: AbortHandle) {
        let mut s = self.lock();
        if self.ended() {
            task.abort();
            return;
        }
        if let Some(Some((n, h))) = s.slots.get_mut(key) {
            if *n == seq {
                *h = Some(task);
            }
        }
    }

    /// The task of slot `key` ended: its slot is free.
    fn release(&self, (key, seq): (usize, u64)) {
        let mut s = self.lock();
        if matches!(s.slots.get(key), Some(Some((n, _))) if *n == seq) {
            s.slots[key] = None;
            s.free.push(key);
        }
    }

    /// Aborts the registered tasks among `ids` (a server's sessions, `on-marked-down
    /// shutdown-sessions`); returns how many were.
    pub fn abort_tasks(&self, ids: &[tokio::task::Id]) -> usize {
        if ids.is_empty() {
            return 0;
        }
        let s = self.lock();
        let mut n = 0;
        for (_, h) in s.slots.iter().flatten() {
            if let Some(h) = h.as_ref().filter(|h| ids.contains(&h.id())) {
                h.abort();
                n += 1;
            }
        }
        n
    }

    /// Ends every connection of the generation now; returns how many tasks were aborted.
    pub fn end_now(&self) -> usize {
        let tasks: Vec<AbortHandle> = {
            let mut s = self.lock();
            self.ended.store(true, std::sync::atomic::Ordering::Release);
            s.free.clear();
            std::mem::take(&mut s.slots)
                .into_iter()
                .filter_map(|slot| slot.and_then(|(_, h)| h))
                .collect()
        };
        for t in &tasks {
            t.abort();
        }
        tasks.len()
    }
}

/// Frees a task's slot when the task ends (finished or aborted).
struct Registered(Arc<End>, (usize, u64));

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}

/// Spawns a connection's task on the current runtime, registered with `end` when given (a
/// task of an ended generation is not run: dropping it closes its connection).
pub fn spawn<F>(end: Option<Arc<End>>, task: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(end) = end else {
        tokio::spawn(task);
        return;
    };
    let Some(slot) = end.reserve() else {
        return;
    };
    let registered = Registered(end.clone(), slot);
    let handle = tokio::spawn(async move {
        let _registered = registered;
        task.await
    });
    end.fill(slot, handle.abort_handle());
}

/// The generations reloads replaced whose connections may still run.
#[derive(Debug, Default)]
pub struct Replaced {
    /// Each with how many reloads replaced it so far.
    old: Vec<(Weak<End>, u32)>,
}

impl Replaced {
    /// A reload replaced `old` (the new configuration says `max_reloads`): every replaced
    /// generation counts one more reload; those replaced more than `max_reloads` times are
    /// returned, to be ended now (HAProxy: "once its number of reloads is greater than this
    /// number, the worker will receive a SIGTERM"). Generations whose connections are all
    /// gone are forgotten.
    pub fn reload(&mut self, old: &Arc<End>, max_reloads: Option<u32>) -> Vec<Arc<End>> {
        self.old.push((Arc::downgrade(old), 0));
        let mut due = Vec::new();
        self.old.retain_mut(|(end, reloads)| {
            let Some(e) = end.upgrade() else {
                return false;
            };
            *reloads += 1;
            if max_reloads.is_some_and(|max| *reloads > max) && !e.ended() {
                due.push(e);
                return false;
            }
            !e.ended()
        });
        due
    }
}

/// A reload replaced `old`: the generations now more than `max_reloads` reloads old end now,
/// and `old`'s own connections end after its `hard-stop-after` (a timer on the current
/// runtime). Once a generation has ended, what is parked on the `workers` closes.
pub fn retire(
    replaced: &mut Replaced,
    old: &Arc<End>,
    max_reloads: Option<u32>,
    workers: Vec<tokio::runtime::Handle>,
) {
    let wake = move || {
        for w in &workers {
            w.spawn(async { crate::park::close_stopping() });
        }
    };
    for due in replaced.reload(old, max_reloads) {
        let n = due.end_now();
        tracing::info!("mworker-max-reloads: a configuration replaced more than {} times ended its {n} connection(s)", max_reloads.unwrap_or(0));
        wake();
    }
    if let Some(after) = old.hard_stop_after {
        let old = Arc::downgrade(old);
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if let Some(old) = old.upgrade().filter(|o| !o.ended()) {
                let n = old.end_now();
                tracing::info!("hard-stop-after: the replaced configuration ended its {n} remaining connection(s)");
                wake();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ending_aborts_registered_tasks_and_later_ones() {
        let end = End::new(true, None);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        spawn(end.tracker(), async move {
            let _tx = tx; // dropped when the task is aborted
            std::future::pending::<()>().await;
        });
        tokio::task::yield_now().await;
        assert_eq!(end.end_now(), 1);
        assert!(rx.await.is_err(), "the task was aborted");
        assert!(end.ended());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        spawn(end.tracker(), async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        assert!(
            rx.await.is_err(),
            "a task spawned after the end is aborted too"
        );
    }

    #[tokio::test]
    async fn a_finished_task_leaves_its_slot() {
        let end = End::new(true, None);
        for _ in 0..3 {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            spawn(end.tracker(), async move {
                let _ = tx.send(());
            });
            let _ = rx.await;
            tokio::task::yield_now().await;
        }
        let s = end.lock();
        assert!(s.slots.iter().all(Option::is_none), "{:?}", s.slots);
        assert_eq!(s.slots.len(), 1, "the slot is reused");
    }

    #[test]
    fn without_the_keywords_nothing_is_registered() {
        assert!(End::new(false, None).tracker().is_none());
    }

    #[test]
    fn a_generation_ends_once_replaced_more_than_max_reloads_times() {
        let mut r = Replaced::default();
        let g0 = End::new(true, None);
        let g1 = End::new(true, None);
        let g2 = End::new(true, None);
        assert!(r.reload(&g0, Some(1)).is_empty()); // g0 replaced once
        let due = r.reload(&g1, Some(1)); // g0 twice: > 1
        assert_eq!(due.len(), 1);
        assert!(Arc::ptr_eq(&due[0], &g0));
        due[0].end_now();
        drop(g1);
        assert!(r.reload(&g2, None).is_empty()); // without the keyword: never
        assert_eq!(
            r.old.len(),
            1,
            "a generation without connections is forgotten"
        );
    }
}
