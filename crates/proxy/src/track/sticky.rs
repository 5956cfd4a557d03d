//! The stickiness that shares a proxy's stick table (`stick on|match|store-*`): HAProxy keeps
//! the server in the table's own entries (`server_id`, `server_key`), and `clear table`
//! forgets persistence too. fulcrum's persistence tables (`persist::stick`,
//! `persist::stick_sample`'s stores, one per table and shared by the backends naming it)
//! record each store here and register what a clear calls.

use super::Table;
use crate::persist::stick::{ClearHook, StickTable, UpdateFeed};
use crate::persist::stick_sample::{StickStore, Stuck};
use fulcrum_sample::Value;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

/// Makes a backend's `stick on src` share its stick table `t`: every store writes
/// `server_id` (`ids[i]` for the backend's server `i`: its `id`, or its number from 1 as
/// HAProxy numbers servers without one) and `server_key` into `t`'s entry for the key.
pub fn share(t: &Arc<Table>, servers: &[(String, u64)], src: &mut StickTable<IpAddr, String>) {
    let ids: Arc<[(String, u64)]> = servers.into();
    let t = t.clone();
    src.set_record(UpdateFeed(Arc::new(move |k: &IpAddr, s: &String, _| {
        let v = match k {
            IpAddr::V4(a) => Value::Ipv4(*a),
            IpAddr::V6(a) => Value::Ipv6(*a),
        };
        let id = ids.iter().find(|(n, _)| n == s).map_or(0, |(_, id)| *id);
        if let Some(key) = t.key(v) {
            t.stick_server(&key, id, s);
        }
    })));
}

impl Table {
    /// The persistence entries of the sample-keyed stick rules naming this table: made on
    /// first use, each store written into this table's entries (`server_id`, `server_key`)
    /// and forgotten by `clear table`.
    pub fn sample_store(self: &Arc<Self>) -> Arc<StickStore> {
        self.sample
            .get_or_init(|| {
                let store = Arc::new(StickStore::new(&self.name, &self.def));
                let weak = Arc::downgrade(self);
                store.set_record(UpdateFeed(Arc::new(move |k: &Vec<u8>, s: &Stuck, _| {
                    if let Some(t) = weak.upgrade() {
                        t.stick_server(k, s.id, &s.name);
                    }
                })));
                self.on_clear(&store.clear_hook());
                store
            })
            .clone()
    }
}

/// `clear table` on `t` forgets the same keys in the backend's `stick on src` table.
pub fn share_clear(t: &Table, src: &Arc<Mutex<StickTable<IpAddr, String>>>) {
    let weak = Arc::downgrade(src);
    let hook: Arc<ClearHook> = Arc::new(move |key: Option<&[u8]>| {
        let Some(table) = weak.upgrade() else { return };
        let mut table = match table.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match key {
            Some(k) => {
                if let Some(ip) = std::str::from_utf8(k).ok().and_then(|k| k.parse().ok()) {
                    table.forget(Some(&ip));
                }
            }
            None => table.forget(None),
        }
    });
    t.on_clear(&hook);
    match src.lock() {
        Ok(mut g) => g.keep_hook(hook),
        Err(p) => p.into_inner().keep_hook(hook),
    }
}

impl Table {
    /// `clear table` (all entries no stream tracks, or `key`'s), and the stickiness sharing
    /// the table forgets the same keys.
    pub fn clear(&self, key: Option<&[u8]>) {
        let gone: Vec<Vec<u8>> = match self.counters.lock() {
            Ok(mut t) => {
                let before = t.keys(Instant::now());
                t.clear(key);
                let after = t.keys(Instant::now());
                before.into_iter().filter(|k| !after.contains(k)).collect()
            }
            Err(_) => return,
        };
        let hooks: Vec<Arc<ClearHook>> = match self.clear_hooks.lock() {
            Ok(mut h) => {
                h.retain(|w| w.strong_count() > 0);
                h.iter().filter_map(Weak::upgrade).collect()
            }
            Err(_) => return,
        };
        for hook in hooks {
            // an entry a stream tracks stays, and so does its stickiness
            gone.iter().for_each(|k| hook(Some(k)));
        }
    }

    /// A stick rule stored `key` (the table's key bytes) with server `id` named `name`.
    pub fn stick_server(&self, key: &[u8], id: u64, name: &str) {
        if let Ok(mut t) = self.counters.lock() {
            t.stick(Instant::now(), key, id, name);
        }
    }

    /// The server name stored for `key` (`show table`'s `server_key`).
    pub fn server_key(&self, now: Instant, key: &[u8]) -> Option<String> {
        let t = self.counters.lock().ok()?;
        t.server_key(now, key).map(str::to_string)
    }

    /// Registers what `clear table` calls on the stickiness sharing this table.
    pub fn on_clear(&self, hook: &Arc<ClearHook>) {
        if let Ok(mut h) = self.clear_hooks.lock() {
            h.retain(|w| w.strong_count() > 0);
            h.push(Arc::downgrade(hook));
        }
    }
}
