//! A stick table (`stick-table type ip size N expire T [nopurge]`) with `stick on KEY`
//! semantics, pure: the caller passes `now`. `stick on` = match then store: a known key whose
//! server is usable sends the request there; otherwise the caller balances and stores the
//! server it picked, so a DOWN server's clients are re-stuck elsewhere. Each store refreshes
//! the entry's expiry. When full, the entry closest to expiry is evicted (HAProxy purges the
//! oldest), or with `nopurge` the new key is not stored.
//!
//! Replication (`peers`): an [`UpdateFeed`] is told of every store, [`StickTable::apply`] takes
//! a peer's entry (the entry used last, i.e. expiring last, wins) and [`StickTable::live`] lists
//! the entries for a peer that (re)connects.

use fulcrum_config::model::{Proxy, StickRuleKind, StickTable as StickTableModel};
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The replication feed's callback: (key, server, expiry) of each store.
pub type FeedFn<K, S> = dyn Fn(&K, &S, Option<Instant>) + Send + Sync;

/// Told of each entry this node stores (key, server, expiry): the replication feed.
pub struct UpdateFeed<K, S>(pub Arc<FeedFn<K, S>>);

impl<K, S> Clone for UpdateFeed<K, S> {
    fn clone(&self) -> Self {
        UpdateFeed(self.0.clone())
    }
}

impl<K, S> std::fmt::Debug for UpdateFeed<K, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpdateFeed")
    }
}

#[derive(Debug, Clone)]
struct Entry<S> {
    server: S,
    expires: Option<Instant>,
    seq: u64,
}

/// Keys are e.g. `IpAddr` (`type ip`) or `String` (`type string`); servers e.g. a name.
#[derive(Debug, Clone)]
pub struct StickTable<K, S> {
    size: usize,
    expire: Option<Duration>,
    nopurge: bool,
    entries: HashMap<K, Entry<S>>,
    /// Eviction order: (expiry or creation order, seq, key).
    order: BTreeSet<(Option<Instant>, u64, K)>,
    seq: u64,
    feed: Option<UpdateFeed<K, S>>,
    /// Told of every store, a peer's too: writes `server_id`/`server_key` into the proxy's
    /// counter table, the one `show table` and `table_server_id` read (HAProxy keeps both in
    /// one entry).
    record: Option<UpdateFeed<K, S>>,
    /// Kept alive with the table: the proxy's counter table calls it on `clear table`.
    hook: Option<KeptHook>,
}

/// A [`ClearHook`] kept by its table.
#[derive(Clone)]
struct KeptHook(#[allow(dead_code)] Arc<ClearHook>);

impl std::fmt::Debug for KeptHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClearHook")
    }
}

/// What `clear table [key K]` calls on the stickiness that shares the proxy's table: the
/// key as the counter table writes it (`None`: every entry).
pub type ClearHook = dyn Fn(Option<&[u8]>) + Send + Sync;

/// What `stick on` says for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StickDecision<S> {
    /// The key is stuck to this usable server.
    Use(S),
    /// Unknown, expired, or stuck to an unusable server: balance, then [`StickTable::store`].
    Balance,
}

impl<K: Hash + Eq + Ord + Clone, S: Clone + PartialEq> StickTable<K, S> {
    pub fn new(size: usize, expire: Option<Duration>, nopurge: bool) -> Self {
        StickTable {
            size,
            expire,
            nopurge,
            entries: HashMap::new(),
            order: BTreeSet::new(),
            seq: 0,
            feed: None,
            record: None,
            hook: None,
        }
    }

    pub fn from_model(m: &StickTableModel) -> Self {
        Self::new(
            usize::try_from(m.size).unwrap_or(usize::MAX),
            m.expire,
            m.nopurge,
        )
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every entry whose expiry is at or before `now`.
    pub fn purge_expired(&mut self, now: Instant) {
        while let Some((Some(exp), _, _)) = self.order.first().cloned() {
            if exp > now {
                break;
            }
            if let Some((_, _, key)) = self.order.pop_first() {
                self.entries.remove(&key);
            }
        }
    }

    /// The server stored for `key`, if the entry is still alive.
    pub fn lookup(&mut self, now: Instant, key: &K) -> Option<&S> {
        self.purge_expired(now);
        self.entries.get(key).map(|e| &e.server)
    }

    /// `stick on`: match part. `usable` says whether a stored server may take traffic.
    pub fn stick_on(
        &mut self,
        now: Instant,
        key: &K,
        usable: impl Fn(&S) -> bool,
    ) -> StickDecision<S> {
        match self.lookup(now, key) {
            Some(s) if usable(s) => {
                let s = s.clone();
                self.store(now, key.clone(), s.clone());
                StickDecision::Use(s)
            }
            _ => StickDecision::Balance,
        }
    }

    /// Takes over `old`'s live entries (a reload): each keeps its server and its expiry date
    /// (this table's `expire` applies from the next store), oldest first, so when this table
    /// is smaller the most recently used entries are the ones kept.
    pub fn adopt(&mut self, now: Instant, old: &Self) {
        for (exp, _, key) in &old.order {
            if exp.is_some_and(|e| e <= now) {
                continue;
            }
            let Some(entry) = old.entries.get(key) else {
                continue;
            };
            if let Some(prev) = self.entries.remove(key) {
                self.order.remove(&(prev.expires, prev.seq, key.clone()));
            } else if self.entries.len() >= self.size {
                if self.size == 0 {
                    return;
                }
                if let Some((_, _, victim)) = self.order.pop_first() {
                    self.entries.remove(&victim);
                }
            }
            self.seq += 1;
            let expires = match (*exp, self.expire) {
                (Some(e), _) => Some(e),
                (None, Some(d)) => Some(now + d),
                (None, None) => None,
            };
            self.order.insert((expires, self.seq, key.clone()));
            self.entries.insert(
                key.clone(),
                Entry {
                    server: entry.server.clone(),
                    expires,
                    seq: self.seq,
                },
            );
        }
    }

    /// `record` is told of every later store (this node's and peers'), see the field.
    pub fn set_record(&mut self, record: UpdateFeed<K, S>) {
        self.record = Some(record);
    }

    /// Keeps `hook` alive as long as this table (the counter table holds it weakly).
    pub fn keep_hook(&mut self, hook: Arc<ClearHook>) {
        self.hook = Some(KeptHook(hook));
    }

    /// `clear table`: forgets `key`, or every entry.
    pub fn forget(&mut self, key: Option<&K>) {
        match key {
            Some(k) => {
                if let Some(e) = self.entries.remove(k) {
                    self.order.remove(&(e.expires, e.seq, k.clone()));
                }
            }
            None => {
                self.entries.clear();
                self.order.clear();
            }
        }
    }

    /// Replication: `feed` is told of every later [`store`](Self::store).
    pub fn set_feed(&mut self, feed: UpdateFeed<K, S>) {
        self.feed = Some(feed);
    }

    /// Replication: the live entries (key, server, expiry), for a peer that connects.
    pub fn live(&mut self, now: Instant) -> Vec<(K, S, Option<Instant>)> {
        self.purge_expired(now);
        self.entries
            .iter()
            .map(|(k, e)| (k.clone(), e.server.clone(), e.expires))
            .collect()
    }

    /// Replication: a peer's entry, not fed back. Conflict rule: the entry that expires
    /// last was used last and wins; on a tie the local entry stays. Returns whether it was
    /// taken.
    pub fn apply(&mut self, now: Instant, key: K, server: S, expires: Option<Instant>) -> bool {
        self.purge_expired(now);
        if expires.is_some_and(|e| e <= now) {
            return false;
        }
        if let Some(old) = self.entries.get(&key) {
            let newer = match (old.expires, expires) {
                (Some(o), Some(n)) => n > o,
                (None, _) | (_, None) => old.server != server,
            };
            if !newer {
                return false;
            }
        }
        let feed = self.feed.take();
        let expire = self.expire;
        // Stored with the peer's expiry, not this table's `expire` from now.
        self.expire = None;
        self.store(now, key.clone(), server);
        self.expire = expire;
        self.feed = feed;
        let Some(e) = self.entries.get_mut(&key) else {
            return false;
        };
        let seq = e.seq;
        self.order.remove(&(e.expires, seq, key.clone()));
        e.expires = expires.or(expire.map(|d| now + d));
        self.order.insert((e.expires, seq, key));
        true
    }

    /// `stick on`/`stick store`: store part; creates or refreshes the entry.
    pub fn store(&mut self, now: Instant, key: K, server: S) {
        self.purge_expired(now);
        if let Some(old) = self.entries.remove(&key) {
            self.order.remove(&(old.expires, old.seq, key.clone()));
        } else if self.entries.len() >= self.size {
            if self.nopurge || self.size == 0 {
                return;
            }
            if let Some((_, _, victim)) = self.order.pop_first() {
                self.entries.remove(&victim);
            }
        }
        self.seq += 1;
        let expires = self.expire.map(|e| now + e);
        self.order.insert((expires, self.seq, key.clone()));
        if let Some(f) = &self.feed {
            (f.0)(&key, &server, expires);
        }
        if let Some(r) = &self.record {
            (r.0)(&key, &server, expires);
        }
        self.entries.insert(
            key,
            Entry {
                server,
                expires,
                seq: self.seq,
            },
        );
    }
}

/// The table a backend needs for `stick-table type ip|ipv6 ...` + `stick on src` (kept by
/// address, replicated to peers, run in TCP mode too). `Ok(None)`: no stickiness, or other
/// stick rules, which [`super::stick_sample`] runs or refuses; `Err`: configured but not
/// supported yet (`FILE:LINE: ...`): the configuration is refused by `run` and `check`.
pub fn stick_on_src(p: &Proxy) -> Result<Option<StickTable<IpAddr, String>>, String> {
    if p.stick_rules.is_empty() {
        return Ok(None);
    }
    // A `type string` table's rules are `stick_sample`'s.
    if p.stick_table
        .as_ref()
        .is_some_and(|t| t.key_type == fulcrum_config::model::StickKeyType::String)
    {
        return Ok(None);
    }
    // Rules naming other proxies' tables only: `stick_sample`'s (the model checks names).
    let Some(table) = &p.stick_table else {
        return Ok(None);
    };
    // Any other form (`match`, `store-*`, another sample, a condition) is `stick_sample`'s.
    let plain = p.stick_rules.iter().all(|r| {
        r.kind == StickRuleKind::On
            && r.expr == "src"
            && r.condition.is_none()
            && r.table.as_ref().is_none_or(|t| t.name == p.name)
    });
    if !plain {
        return Ok(None);
    }
    Ok(Some(StickTable::from_model(table)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn adopt_keeps_live_entries_newest_first_when_smaller() {
        let t0 = Instant::now();
        let mut old: StickTable<IpAddr, &str> =
            StickTable::new(10, Some(Duration::from_secs(10)), false);
        old.store(t0, ip("10.99.0.1"), "a");
        old.store(t0 + Duration::from_secs(5), ip("10.99.0.2"), "b");
        old.store(t0 + Duration::from_secs(6), ip("10.99.0.3"), "c");
        // At t0+12 the first entry has expired; a table of 1 keeps the most recent.
        let now = t0 + Duration::from_secs(12);
        let mut small: StickTable<IpAddr, &str> =
            StickTable::new(1, Some(Duration::from_secs(10)), false);
        small.adopt(now, &old);
        assert_eq!(small.len(), 1);
        assert_eq!(small.lookup(now, &ip("10.99.0.3")), Some(&"c"));
        let mut big: StickTable<IpAddr, &str> =
            StickTable::new(10, Some(Duration::from_secs(10)), false);
        big.adopt(now, &old);
        assert_eq!(big.len(), 2, "the expired entry is not carried over");
        assert_eq!(big.lookup(now, &ip("10.99.0.2")), Some(&"b"));
        // Entries keep their expiry dates.
        assert_eq!(
            big.lookup(t0 + Duration::from_secs(15), &ip("10.99.0.2")),
            None
        );
        assert_eq!(
            big.lookup(t0 + Duration::from_secs(15), &ip("10.99.0.3")),
            Some(&"c")
        );
    }

    #[test]
    fn built_from_a_backend_with_stick_on_src() {
        let text = "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
                    backend db\n    stick-table type ip size 200k expire 30m\n    stick on src\n    server a 127.0.0.1:1\n\
                    backend plain\n    server a 127.0.0.1:1\n";
        let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
            name: "t.cfg",
            text,
        }]);
        assert!(loaded.is_ok(), "{:?}", loaded.diagnostics);
        let db = loaded.config.backend("db").expect("db");
        let t = stick_on_src(db).expect("supported").expect("a table");
        assert_eq!(
            (t.size, t.expire),
            (200 * 1024, Some(Duration::from_secs(1800))),
            "HAProxy's k = 1024"
        );
        assert!(stick_on_src(loaded.config.backend("plain").expect("plain"))
            .expect("ok")
            .is_none());
    }

    #[test]
    fn sticks_until_expire_and_refreshes_on_use() {
        let t0 = Instant::now();
        let mut t: StickTable<IpAddr, &str> =
            StickTable::new(10, Some(Duration::from_secs(30)), false);
        assert_eq!(
            t.stick_on(t0, &ip("10.0.0.1"), |_| true),
            StickDecision::Balance
        );
        t.store(t0, ip("10.0.0.1"), "s1");
        assert_eq!(
            t.stick_on(t0 + Duration::from_secs(20), &ip("10.0.0.1"), |_| true),
            StickDecision::Use("s1")
        );
        // refreshed at 20s: still there at 45s, gone at 51s
        assert_eq!(
            t.stick_on(t0 + Duration::from_secs(45), &ip("10.0.0.1"), |_| true),
            StickDecision::Use("s1")
        );
        assert_eq!(
            t.lookup(t0 + Duration::from_secs(76), &ip("10.0.0.1")),
            None
        );
        assert!(t.is_empty());
    }

    #[test]
    fn a_down_servers_clients_are_re_stuck_elsewhere() {
        let t0 = Instant::now();
        let mut t: StickTable<IpAddr, &str> =
            StickTable::new(10, Some(Duration::from_secs(30)), false);
        t.store(t0, ip("10.0.0.1"), "s1");
        let down = |s: &&str| *s != "s1";
        assert_eq!(
            t.stick_on(t0, &ip("10.0.0.1"), down),
            StickDecision::Balance
        );
        t.store(t0, ip("10.0.0.1"), "s2");
        assert_eq!(
            t.stick_on(t0, &ip("10.0.0.1"), |_| true),
            StickDecision::Use("s2")
        );
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn size_limit_evicts_the_oldest_or_refuses_with_nopurge() {
        let t0 = Instant::now();
        let mut t: StickTable<IpAddr, u32> =
            StickTable::new(2, Some(Duration::from_secs(30)), false);
        t.store(t0, ip("10.0.0.1"), 1);
        t.store(t0 + Duration::from_secs(1), ip("10.0.0.2"), 2);
        t.store(t0 + Duration::from_secs(2), ip("10.0.0.3"), 3);
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.lookup(t0 + Duration::from_secs(2), &ip("10.0.0.1")),
            None,
            "oldest evicted"
        );
        assert_eq!(
            t.lookup(t0 + Duration::from_secs(2), &ip("10.0.0.3")),
            Some(&3)
        );
        let mut n: StickTable<IpAddr, u32> = StickTable::new(1, None, true);
        n.store(t0, ip("10.0.0.1"), 1);
        n.store(t0, ip("10.0.0.2"), 2);
        assert_eq!(
            n.lookup(t0, &ip("10.0.0.2")),
            None,
            "nopurge: full table keeps old entries"
        );
        assert_eq!(
            n.lookup(t0 + Duration::from_secs(100_000), &ip("10.0.0.1")),
            Some(&1),
            "no expire: kept"
        );
    }

    #[test]
    fn expired_entries_free_room() {
        let t0 = Instant::now();
        let mut t: StickTable<IpAddr, u32> = StickTable::new(1, Some(Duration::from_secs(5)), true);
        t.store(t0, ip("10.0.0.1"), 1);
        t.store(t0 + Duration::from_secs(6), ip("10.0.0.2"), 2);
        assert_eq!(
            t.lookup(t0 + Duration::from_secs(6), &ip("10.0.0.2")),
            Some(&2)
        );
    }
}
