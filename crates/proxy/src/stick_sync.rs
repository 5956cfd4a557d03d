//! The replicated stick tables' hubs (`stick-table ... peers NAME`, or cluster mode): one per
//! table name for the life of the process, so replication outlives reloads. The table of the
//! running generation feeds each store into its hub ([`Hub::feed`], coalesced by key until
//! the peers adapter takes them), and the adapter applies peers' entries to the table of the
//! current generation ([`Hub::apply`]) and lists its entries for a peer that connects
//! ([`Hub::live`]). No I/O here: the sockets are the `fulcrum-peers` crate's.

use crate::persist::stick::{StickTable, UpdateFeed};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

type Table = StickTable<IpAddr, String>;

/// Distinct keys waiting for the replicator at most (it takes them every 50 ms): past that,
/// new keys are not recorded (counted in [`Hub::dropped`]); peers still get them at their
/// next resync.
const PENDING_MAX: usize = 100_000;

/// One entry as replicated: client address, server name, expiry on this host's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: IpAddr,
    pub server: String,
    pub expires: Option<Instant>,
}

/// A replicated table's hub.
#[derive(Default)]
pub struct Hub {
    /// The tables attached, oldest first: the newest one alive is current (a reload that
    /// fails after building drops its table, and the running one is current again).
    tables: Mutex<Vec<Weak<Mutex<Table>>>>,
    pending: Mutex<HashMap<IpAddr, (String, Option<Instant>)>>,
    /// Stores not recorded because `PENDING_MAX` keys were waiting.
    pub dropped: std::sync::atomic::AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Hub {
    /// The feed a table of this hub stores through.
    pub fn feed(self: &Arc<Self>) -> UpdateFeed<IpAddr, String> {
        let hub = Arc::downgrade(self);
        UpdateFeed(Arc::new(move |key: &IpAddr, server: &String, expires| {
            if let Some(h) = hub.upgrade() {
                let mut p = lock(&h.pending);
                if p.len() < PENDING_MAX || p.contains_key(key) {
                    p.insert(*key, (server.clone(), expires));
                } else {
                    h.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }))
    }

    /// `table` is now the running generation's.
    pub fn attach(&self, table: &Arc<Mutex<Table>>) {
        let mut t = lock(&self.tables);
        t.retain(|w| w.strong_count() > 0);
        t.push(Arc::downgrade(table));
    }

    fn current(&self) -> Option<Arc<Mutex<Table>>> {
        lock(&self.tables).iter().rev().find_map(Weak::upgrade)
    }

    /// The entries stored since the last call (the last store of each key).
    pub fn take_pending(&self) -> Vec<Entry> {
        lock(&self.pending)
            .drain()
            .map(|(key, (server, expires))| Entry {
                key,
                server,
                expires,
            })
            .collect()
    }

    /// The current table's live entries.
    pub fn live(&self, now: Instant) -> Vec<Entry> {
        let Some(t) = self.current() else {
            return Vec::new();
        };
        let mut t = lock(&t);
        t.live(now)
            .into_iter()
            .map(|(key, server, expires)| Entry {
                key,
                server,
                expires,
            })
            .collect()
    }

    /// Applies peers' entries to the current table; returns how many were taken.
    pub fn apply(&self, now: Instant, entries: impl IntoIterator<Item = Entry>) -> usize {
        let Some(t) = self.current() else {
            return 0;
        };
        let mut t = lock(&t);
        entries
            .into_iter()
            .filter(|e| t.apply(now, e.key, e.server.clone(), e.expires))
            .count()
    }
}

fn hubs() -> &'static Mutex<BTreeMap<String, Arc<Hub>>> {
    static HUBS: OnceLock<Mutex<BTreeMap<String, Arc<Hub>>>> = OnceLock::new();
    HUBS.get_or_init(Default::default)
}

/// The hub of table `name` (created on first use).
pub fn hub(name: &str) -> Arc<Hub> {
    lock(hubs()).entry(name.to_string()).or_default().clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stores_reach_the_hub_and_peers_entries_reach_the_current_table() {
        let hub = hub("stick_sync_unit_test");
        let now = Instant::now();
        let mut t: Table = StickTable::new(10, Some(Duration::from_secs(30)), false);
        t.set_feed(hub.feed());
        let t = Arc::new(Mutex::new(t));
        hub.attach(&t);
        let ip: IpAddr = "10.99.0.7".parse().unwrap();
        lock(&t).store(now, ip, "s1".into());
        lock(&t).store(now + Duration::from_secs(1), ip, "s1".into());
        let p = hub.take_pending();
        assert_eq!(p.len(), 1, "coalesced by key");
        assert_eq!(p[0].expires, Some(now + Duration::from_secs(31)));
        assert!(hub.take_pending().is_empty());
        // A peer's newer entry is applied and not fed back.
        let other: IpAddr = "10.99.0.8".parse().unwrap();
        let e = Entry {
            key: other,
            server: "s2".into(),
            expires: Some(now + Duration::from_secs(20)),
        };
        assert_eq!(hub.apply(now, [e.clone()]), 1);
        assert!(
            hub.take_pending().is_empty(),
            "applied entries are not echoed"
        );
        let live = hub.live(now);
        assert_eq!(live.len(), 2);
        assert!(live.contains(&e));
        // A reload: the new generation's table is attached, the old one dropped.
        drop(t);
        assert_eq!(
            hub.apply(now, [e]),
            0,
            "no table attached: nothing to apply to"
        );
    }

    #[test]
    fn pending_keys_are_bounded() {
        let hub = Arc::new(Hub::default());
        let mut t: Table = StickTable::new(usize::MAX, None, false);
        t.set_feed(hub.feed());
        let now = Instant::now();
        for i in 0..=u32::try_from(PENDING_MAX).unwrap() {
            t.store(now, IpAddr::from(i.to_be_bytes()), "s".into());
        }
        // A key already waiting is still updated.
        t.store(now, IpAddr::from(0u32.to_be_bytes()), "s2".into());
        assert_eq!(hub.dropped.load(std::sync::atomic::Ordering::Relaxed), 1);
        let p = hub.take_pending();
        assert_eq!(p.len(), PENDING_MAX);
        assert!(p.iter().any(|e| e.server == "s2"));
    }
}
