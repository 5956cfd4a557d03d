//! Stick counters at run time: each proxy's `stick-table` as a shared [`Table`] of counters
//! (kept across reloads when its definition is unchanged), the up to three entries a
//! connection or request tracks (`track-sc0/1/2`) in [`Tracking`], and the answers to the
//! `sc_*`, `sc0_*`..`sc2_*` and `src_*` fetches.

use crate::persist::stick::ClearHook;
use crate::persist::track::{CounterTable, Data, Event};
use fulcrum_config::model::{Proxy, StickKeyType, StickTable};
use fulcrum_sample::{Scope, Type, Value, VarKey, Vars};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

mod sticky;
pub use sticky::{share, share_clear};

/// One proxy's stick table (its counters).
#[derive(Debug)]
pub struct Table {
    pub name: String,
    def: StickTable,
    key_type: StickKeyType,
    counters: Mutex<CounterTable>,
    /// The stickiness sharing this table (`stick on|match|store-*`): forgets its keys on
    /// `clear table`. Held weakly: each generation's backend keeps its own hook alive.
    clear_hooks: Mutex<Vec<Weak<ClearHook>>>,
    /// The persistence entries of the sample-keyed stick rules naming this table (made by
    /// the first backend that needs them, shared by every backend naming the table).
    sample: std::sync::OnceLock<Arc<crate::persist::stick_sample::StickStore>>,
}

/// Every table of a configuration, by proxy name.
pub type Tables = HashMap<String, Arc<Table>>;

/// The `store` list of a table, parsed: `(type, period)` (one per array element); an
/// unknown type is an error.
pub fn parse_store(def: &StickTable) -> Result<Vec<(Data, std::time::Duration)>, String> {
    crate::persist::track_data::parse_items(def.store.iter().map(String::as_str))
}

/// Builds the tables of `proxies` and of the `peers` sections (`SECTION/NAME`), reusing
/// `old`'s (and its counters) where the definition did not change.
pub fn build<'a>(
    proxies: impl Iterator<Item = &'a Proxy>,
    peers_tables: impl Iterator<Item = (&'a str, &'a StickTable)>,
    old: Option<&Tables>,
) -> Result<Tables, (String, String)> {
    let proxies: Vec<&Proxy> = proxies.collect();
    // Tables other proxies' stick rules name (`stick ... table T`) keep servers too.
    let named: Vec<&str> = proxies
        .iter()
        .flat_map(|p| p.stick_rules.iter())
        .filter_map(|r| r.table.as_ref().map(|t| t.name.as_str()))
        .collect();
    // (name, definition, whether its own proxy has stick rules)
    let defs = proxies
        .iter()
        .filter_map(|p| {
            Some((
                p.name.as_str(),
                p.stick_table.as_ref()?,
                !p.stick_rules.is_empty(),
            ))
        })
        .chain(peers_tables.map(|(n, t)| (n, t, false)));
    let mut out = Tables::new();
    for (name, def, own_rules) in defs {
        if let Some(t) = old.and_then(|o| o.get(name)) {
            if t.def == *def {
                out.insert(name.to_string(), t.clone());
                continue;
            }
        }
        let mut store = parse_store(def).map_err(|e| (format!("{}", def.span), e))?;
        // Stick rules keep the server in the table's entries (HAProxy adds `server_id`).
        let sticky = own_rules || named.contains(&name);
        if sticky && !store.iter().any(|(d, _)| *d == Data::ServerId) {
            store.push((Data::ServerId, std::time::Duration::ZERO));
        }
        let size = usize::try_from(def.size).unwrap_or(usize::MAX);
        out.insert(
            name.to_string(),
            Arc::new(Table {
                name: name.to_string(),
                def: def.clone(),
                key_type: def.key_type,
                counters: Mutex::new(CounterTable::new(size, def.expire, store)),
                clear_hooks: Mutex::new(Vec::new()),
                sample: std::sync::OnceLock::new(),
            }),
        );
    }
    Ok(out)
}

impl Table {
    /// The key for a sample, cast to the table's type (`None`: the sample cannot be a key,
    /// e.g. an IPv6 address in a `type ip` table).
    pub fn key(&self, v: Value) -> Option<Vec<u8>> {
        let ty = match self.key_type {
            StickKeyType::Ip => Type::Ipv4,
            StickKeyType::Ipv6 => Type::Ipv6,
            StickKeyType::Integer => Type::Sint,
            StickKeyType::String => Type::Str,
            StickKeyType::Binary => Type::Bin,
        };
        let v = fulcrum_sample::cast::cast(v, ty)?;
        Some(v.to_bytes())
    }

    fn update(&self, key: &[u8], ev: Event) {
        if let Ok(mut t) = self.counters.lock() {
            t.update(Instant::now(), key, ev);
        }
    }

    pub fn key_type(&self) -> StickKeyType {
        self.key_type
    }

    pub fn size(&self) -> u64 {
        self.def.size
    }

    /// The table's `expire`.
    pub fn expire(&self) -> Option<std::time::Duration> {
        self.def.expire
    }

    pub fn store(&self) -> Vec<(Data, std::time::Duration)> {
        self.counters
            .lock()
            .map(|t| t.store.clone())
            .unwrap_or_default()
    }

    pub fn stores(&self, d: Data) -> bool {
        self.counters.lock().is_ok_and(|t| t.stores(d))
    }

    /// The live keys (`show table`).
    pub fn keys(&self, now: Instant) -> Vec<Vec<u8>> {
        self.counters
            .lock()
            .map(|t| t.keys(now))
            .unwrap_or_default()
    }

    pub fn live_len(&self, now: Instant) -> usize {
        self.counters.lock().map_or(0, |t| t.live_count(now))
    }

    /// `(use, exp ms)` of a live key.
    pub fn usage(&self, now: Instant, key: &[u8]) -> Option<(u64, u64)> {
        self.counters.lock().ok()?.usage(now, key)
    }

    pub fn read_at(&self, now: Instant, key: &[u8], d: Data) -> Option<u64> {
        self.counters.lock().ok()?.read(now, key, d)
    }

    /// `set table ... key K data.D V ...`: the entry is created (and refreshed) even with no
    /// data, as HAProxy's.
    pub fn set(&self, now: Instant, key: &[u8], data: &[(Data, u64)]) {
        if let Ok(mut t) = self.counters.lock() {
            t.touch(now, key);
            for (d, v) in data {
                t.set(now, key, *d, *v);
            }
        }
    }

    fn read(&self, key: &[u8], d: Data) -> Option<u64> {
        self.counters.lock().ok()?.read(Instant::now(), key, d)
    }

    pub fn len(&self) -> usize {
        self.counters.lock().map_or(0, |t| t.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug)]
struct Slot {
    table: Arc<Table>,
    key: Vec<u8>,
    /// Tracked by a request's rules (`http-request`, or `tcp-request content` in HTTP
    /// mode): released when the request ends.
    per_request: bool,
}

type Slots = [Option<Slot>; 3];

/// A connection's state for rules: the stick-counter entries it (and its current request)
/// tracks, and its variables (`sess`, and `txn`/`req`/`res` of the current request; `proc`
/// ones are the process's). Rules change it through a shared reference.
#[derive(Debug, Default)]
pub struct Tracking {
    slots: Mutex<Option<Box<Slots>>>,
    /// Whether `slots` was ever filled: the events of a connection that tracks nothing (a
    /// request, its bytes) take no lock.
    tracked: std::sync::atomic::AtomicBool,
    vars: Mutex<Vars>,
    /// The client connection's facts (`so_*`/`fc_*` fetches), when the configuration reads them.
    conn: std::sync::OnceLock<Box<crate::front::ConnFacts>>,
}

impl Tracking {
    /// Keeps the connection's facts (once: later calls change nothing).
    pub fn set_conn(&self, facts: crate::front::ConnFacts) {
        let _ = self.conn.set(Box::new(facts));
    }

    /// The connection's facts, once known.
    pub fn conn(&self) -> Option<&crate::front::ConnFacts> {
        self.conn.get().map(|b| &**b)
    }

    /// Variable `scope.name`.
    pub fn var(&self, scope: Scope, name: impl VarKey) -> Option<Value> {
        let vars = if scope == Scope::Proc {
            fulcrum_sample::proc_vars()
        } else {
            &self.vars
        };
        vars.lock().ok()?.get(scope, name).cloned()
    }

    /// [`Tracking::var`] lent to `with` under the variables' lock (`with` must not touch
    /// them).
    pub fn with_var(
        &self,
        scope: Scope,
        name: impl VarKey,
        with: &mut dyn FnMut(Option<&fulcrum_sample::Value>),
    ) {
        let vars = if scope == Scope::Proc {
            fulcrum_sample::proc_vars()
        } else {
            &self.vars
        };
        match vars.lock() {
            Ok(vars) => with(vars.get(scope, name)),
            Err(_) => with(None),
        }
    }

    /// `set-var(scope.name,COND...)`: sets `scope.name` when the conditions allow it; whether
    /// they did.
    pub fn set_var_if(
        &self,
        scope: Scope,
        name: impl VarKey,
        v: Value,
        c: fulcrum_sample::SetConds,
    ) -> bool {
        let vars = if scope == Scope::Proc {
            fulcrum_sample::proc_vars()
        } else {
            &self.vars
        };
        vars.lock()
            .is_ok_and(|mut vars| vars.set_if(scope, name, v, c))
    }

    /// `set-var`: sets (or with `None`, `unset-var`: removes) variable `scope.name`.
    pub fn set_var(&self, scope: Scope, name: impl VarKey, v: Option<Value>) {
        let vars = if scope == Scope::Proc {
            fulcrum_sample::proc_vars()
        } else {
            &self.vars
        };
        if let Ok(mut vars) = vars.lock() {
            match v {
                Some(v) => vars.set(scope, name, v),
                None => vars.unset(scope, name),
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slots.lock().map_or(true, |s| {
            s.as_ref().is_none_or(|s| s.iter().all(Option::is_none))
        })
    }

    fn with<R>(&self, f: impl FnOnce(&Slots) -> R) -> Option<R> {
        if !self.tracks() {
            return None;
        }
        self.slots.lock().ok()?.as_deref().map(f)
    }

    fn tracks(&self) -> bool {
        self.tracked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `track-scN`: starts tracking `key` in `table` unless slot `n` tracks already (the
    /// first rule wins, as HAProxy). `per_request`: released when the request ends. `http`:
    /// from an `http-request` rule, which counts the request at once (the request was
    /// counted before the entry was tracked).
    pub fn track(&self, n: usize, table: &Arc<Table>, key: Vec<u8>, per_request: bool, http: bool) {
        let Ok(mut slots) = self.slots.lock() else {
            return;
        };
        let slots = slots.get_or_insert_with(Default::default);
        self.tracked
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let Some(slot) = slots.get_mut(n) else {
            return;
        };
        if slot.is_some() {
            return;
        }
        table.update(&key, Event::TrackStart);
        if http {
            table.update(&key, Event::HttpReq);
        }
        *slot = Some(Slot {
            table: table.clone(),
            key,
            per_request,
        });
    }

    fn each(&self, ev: Event) {
        self.with(|slots| {
            for s in slots.iter().flatten() {
                s.table.update(&s.key, ev);
            }
        });
    }

    /// A new HTTP request on this connection: counted for the entries tracked so far.
    pub fn http_request(&self) {
        self.each(Event::HttpReq);
    }

    /// A response status: 4xx counts as an HTTP error; `from_server` (a server was connected
    /// for it), a 5xx other than 501 and 505 counts as a server failure (`http_fail_*`, as
    /// HAProxy counts a server's 5xx, a bad answer or a server timeout).
    pub fn http_status(&self, status: u16, from_server: bool) {
        if (400..500).contains(&status) {
            self.each(Event::HttpErr);
        }
        if from_server && (500..600).contains(&status) && status != 501 && status != 505 {
            self.each(Event::HttpFail);
        }
    }

    /// The connection became a session (its `tcp-request connection|session` rules accepted
    /// it): counted for the entries tracked so far (`sess_cnt`, `sess_rate`).
    pub fn session(&self) {
        self.each(Event::Session);
    }

    /// Bytes received from the client and sent to it (`bytes_in_*`, `bytes_out_*`).
    pub fn bytes(&self, from_client: u64, to_client: u64) {
        if from_client > 0 {
            self.each(Event::BytesIn(from_client));
        }
        if to_client > 0 {
            self.each(Event::BytesOut(to_client));
        }
    }

    /// `sc-inc-gpc0(N)` / `sc-inc-gpc1(N)` / `sc-set-gpt0(N)`.
    pub fn event(&self, n: usize, ev: Event) {
        self.with(|slots| {
            if let Some(Some(s)) = slots.get(n) {
                s.table.update(&s.key, ev);
            }
        });
    }

    /// The table and key tracked in slot `n`.
    fn get(&self, n: usize) -> Option<(Arc<Table>, Vec<u8>)> {
        self.with(|slots| {
            slots
                .get(n)?
                .as_ref()
                .map(|s| (s.table.clone(), s.key.clone()))
        })?
    }

    /// The request ended: entries tracked by its `http-request` rules are released.
    pub fn end_request(&self) {
        if let Ok(mut vars) = self.vars.lock() {
            vars.clear_transaction();
        }
        if !self.tracks() {
            return;
        }
        let Ok(mut slots) = self.slots.lock() else {
            return;
        };
        let Some(slots) = slots.as_mut() else { return };
        for slot in slots.iter_mut() {
            if slot.as_ref().is_some_and(|s| s.per_request) {
                if let Some(s) = slot.take() {
                    s.table.update(&s.key, Event::TrackEnd);
                }
            }
        }
    }
}

impl Drop for Tracking {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.get_mut().ok().and_then(|s| s.as_mut()) {
            for s in slots.iter_mut().filter_map(Option::take) {
                s.table.update(&s.key, Event::TrackEnd);
            }
        }
    }
}

/// The stick tables rules can name: the rule's own proxy's, and every table by name.
pub struct TableRefs<'a> {
    pub own: Option<&'a Arc<Table>>,
    pub all: &'a Tables,
}

impl TableRefs<'_> {
    /// Table `name`, or the rule's own proxy's.
    pub fn find(&self, name: Option<&str>) -> Result<Arc<Table>, String> {
        match name {
            Some(n) => self.all.get(n).cloned(),
            None => self.own.cloned(),
        }
        .ok_or_else(|| {
            format!(
                "unable to find table '{}'",
                name.unwrap_or("(this proxy's own)")
            )
        })
    }
}

mod fetch;
pub use fetch::Counters;
mod action;
pub use action::CounterOp;
