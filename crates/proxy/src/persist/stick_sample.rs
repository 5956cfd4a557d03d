//! Stick rules keyed by a sample expression (`stick match|on|store-request|store-response
//! EXPR [table T] [if|unless COND]`) on tables of any type: a `type string [len N]` table as
//! Octavia's APP_COOKIE renders them (`stick store-response res.cook(C)` + `stick match
//! req.cook(C)`), an address, integer or binary table with anything but the plain `stick on
//! src` (which [`super::stick`] keeps), a condition, or another proxy's table. Keys are the
//! sample cast to the table's type, written as the counter table writes them. Pure: the
//! caller passes a sample environment (the request, then the response), the current time and
//! whether each rule's condition holds (`C`: the caller's compiled condition).
//!
//! HAProxy's order (stream.c `process_sticking_rules` / `process_store_rules`): the request's
//! rules run in order; a rule whose table already has a key to store is skipped; a rule whose
//! condition holds and whose sample exists: `match`/`on` look the key up (unless persistence,
//! e.g. a `cookie`, or an earlier rule already chose a server) and a usable server found is
//! the request's; `on`/`store-request` keep the key to store with the server the request is
//! sent to. In the response, the first `store-response` rule per table whose condition holds
//! and whose sample exists keeps its key; every kept key is then stored with the server that
//! answered. A store overwrites an existing entry's server and refreshes its expiry. Keys are
//! the sample's string cast, cut to the table's `len` (HAProxy's default 32).
//!
//! A table ([`StickStore`]) may serve several backends' rules (`table T`): it keeps the
//! server's name and its id in the backend that stored it; a backend reading it finds its own
//! server of that name, else its server of that id (HAProxy 2.6 looks `server_key` up
//! first, then `server_id`): the caller's `usable` says which, if usable.

use super::stick::{ClearHook, StickTable, UpdateFeed};
use fulcrum_config::model::{
    Condition, Mode, Proxy, StickKeyType, StickRuleKind, StickTable as TableModel,
};
use fulcrum_sample::{Env, Expr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// HAProxy's default `len` of a `type string` table.
const DEFAULT_LEN: usize = 32;

/// What a table keeps per key: the server's name and its id (`server_id`) in the backend
/// that stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stuck {
    pub name: String,
    pub id: u64,
}

/// One stick table's persistence entries (key → server), shared by every backend whose rules
/// name it.
#[derive(Debug)]
pub struct StickStore {
    /// The table's name (its proxy's).
    pub name: String,
    /// The key type (the sample is cast to it) and `len` (string and binary keys).
    ty: fulcrum_sample::Type,
    len: usize,
    table: Arc<Mutex<StickTable<Vec<u8>, Stuck>>>,
}

impl StickStore {
    pub fn new(name: &str, m: &TableModel) -> StickStore {
        StickStore {
            name: name.to_string(),
            ty: match m.key_type {
                StickKeyType::Ip => fulcrum_sample::Type::Ipv4,
                StickKeyType::Ipv6 => fulcrum_sample::Type::Ipv6,
                StickKeyType::Integer => fulcrum_sample::Type::Sint,
                StickKeyType::String => fulcrum_sample::Type::Str,
                StickKeyType::Binary => fulcrum_sample::Type::Bin,
            },
            len: m
                .len
                .map_or(DEFAULT_LEN, |l| usize::try_from(l).unwrap_or(usize::MAX)),
            table: Arc::new(Mutex::new(StickTable::from_model(m))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, StickTable<Vec<u8>, Stuck>> {
        match self.table.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn key(&self, expr: &Expr, env: &dyn Env) -> Option<Vec<u8>> {
        let v = fulcrum_sample::cast::cast(expr.eval(env)?, self.ty)?;
        let mut k = v.to_bytes();
        if matches!(
            self.ty,
            fulcrum_sample::Type::Str | fulcrum_sample::Type::Bin
        ) {
            k.truncate(self.len);
        }
        Some(k)
    }

    /// Stores `key` → `server`.
    pub fn store(&self, now: Instant, key: Vec<u8>, server: Stuck) {
        self.lock().store(now, key, server);
    }

    /// The server `key` is stuck to, if the entry is alive (tests, runtime views).
    pub fn lookup(&self, now: Instant, key: &[u8]) -> Option<Stuck> {
        self.lock().lookup(now, &key.to_vec()).cloned()
    }

    /// Tells `record` of every store (see [`StickTable::set_record`]).
    pub fn set_record(&self, record: UpdateFeed<Vec<u8>, Stuck>) {
        self.lock().set_record(record);
    }

    /// What `clear table` calls to forget this table's keys too (kept alive by the table).
    pub fn clear_hook(&self) -> Arc<ClearHook> {
        let weak = Arc::downgrade(&self.table);
        let hook: Arc<ClearHook> = Arc::new(move |key: Option<&[u8]>| {
            if let Some(t) = weak.upgrade() {
                let mut t = match t.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                t.forget(key.map(<[u8]>::to_vec).as_ref());
            }
        });
        self.lock().keep_hook(hook.clone());
        hook
    }

    /// A reload: this table takes over `old`'s live entries.
    pub fn adopt(&self, now: Instant, old: &StickStore) {
        let previous = old.lock().clone();
        self.lock().adopt(now, &previous);
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[derive(Debug)]
struct Rule<C> {
    kind: StickRuleKind,
    expr: Expr,
    cond: Option<C>,
    store: Arc<StickStore>,
}

/// A backend's sample-keyed stick rules and the tables they use.
#[derive(Debug)]
pub struct SampleStick<C> {
    rules: Vec<Rule<C>>,
}

/// What the request phase found: the server a `match`/`on` rule stuck the request to, and the
/// keys `on`/`store-request` rules store once the server is known (one per table).
#[derive(Debug, Default, Clone)]
pub struct RequestStick {
    pub server: Option<String>,
    pub stores: Vec<(Arc<StickStore>, Vec<u8>)>,
}

impl RequestStick {
    /// The kept keys' bytes (tests).
    pub fn keys(&self) -> Vec<&[u8]> {
        self.stores.iter().map(|(_, k)| k.as_slice()).collect()
    }
}

impl<C> SampleStick<C> {
    /// The rules of a backend whose stickiness is not the plain `stick on src` of
    /// [`super::stick`]; `Ok(None)` when the backend has no stick rules or only those.
    /// `store_of`: the table a rule names (`None`: the backend's own), `cond_of`: a rule's
    /// condition compiled.
    pub fn from_proxy(
        p: &Proxy,
        mut store_of: impl FnMut(Option<&str>) -> Result<Arc<StickStore>, String>,
        mut cond_of: impl FnMut(&Condition) -> Result<C, String>,
    ) -> Result<Option<SampleStick<C>>, String> {
        if p.stick_rules.is_empty() || super::stick::stick_on_src(p).is_ok_and(|t| t.is_some()) {
            return Ok(None);
        }
        let mut rules = Vec::new();
        for r in &p.stick_rules {
            // TCP mode: the server's bytes are read by `tcp-response content` rules; without
            // any, fulcrum does not hold the first bytes back to look at them.
            if p.mode == Mode::Tcp
                && r.kind == StickRuleKind::StoreResponse
                && p.tcp_rules.response.is_empty()
            {
                return Err(format!(
                    "{}: 'stick store-response' in TCP mode needs 'tcp-response content' rules in this backend (fulcrum reads the server's bytes there; not supported yet without)",
                    r.span
                ));
            }
            let name = r.table.as_ref().map(|t| t.name.as_str());
            let store =
                store_of(name.filter(|n| *n != p.name)).map_err(|e| format!("{}: {e}", r.span))?;
            let text = &r.expr;
            let expr = fulcrum_sample::compile(text)
                .map_err(|e| format!("{}: stick rule sample '{text}': {e}", r.span))?;
            let cond = match &r.condition {
                Some(c) => Some(cond_of(c).map_err(|e| format!("{}: {e}", r.span))?),
                None => None,
            };
            rules.push(Rule {
                kind: r.kind,
                expr,
                cond,
                store,
            });
        }
        Ok(Some(SampleStick { rules }))
    }

    /// The tables the rules use (each once).
    pub fn stores(&self) -> Vec<Arc<StickStore>> {
        let mut out: Vec<Arc<StickStore>> = Vec::new();
        for r in &self.rules {
            if !out.iter().any(|s| Arc::ptr_eq(s, &r.store)) {
                out.push(r.store.clone());
            }
        }
        out
    }

    /// Whether a rule reads the response (a `store-response`).
    pub fn has_response_rules(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.kind == StickRuleKind::StoreResponse)
    }

    /// The request phase. `assigned`: persistence already chose a server (the match rules are
    /// then skipped, stores still kept). `usable`: whether a stored server may take traffic;
    /// `holds`: whether a rule's condition holds.
    pub fn on_request(
        &self,
        now: Instant,
        env: &dyn Env,
        assigned: bool,
        usable: impl Fn(&Stuck) -> Option<String>,
        holds: impl Fn(&C) -> bool,
    ) -> RequestStick {
        let mut out = RequestStick::default();
        for r in &self.rules {
            let (is_match, is_store) = match r.kind {
                StickRuleKind::On => (true, true),
                StickRuleKind::Match => (true, false),
                StickRuleKind::StoreRequest => (false, true),
                StickRuleKind::StoreResponse => continue,
            };
            if out.stores.iter().any(|(s, _)| Arc::ptr_eq(s, &r.store)) {
                continue;
            }
            if r.cond.as_ref().is_some_and(|c| !holds(c)) {
                continue;
            }
            let Some(key) = r.store.key(&r.expr, env) else {
                continue;
            };
            if is_match && !assigned && out.server.is_none() {
                let mut t = r.store.lock();
                // A match refreshes the entry's date; a store rule sets the server later.
                let entry = t.lookup(now, &key).cloned();
                if let Some(s) = entry {
                    if let Some(name) = usable(&s) {
                        out.server = Some(name);
                    }
                    t.store(now, key.clone(), s);
                }
            }
            if is_store {
                out.stores.push((r.store.clone(), key));
            }
        }
        out
    }

    /// The response phase: the first `store-response` rule per table whose condition holds
    /// and whose sample exists keeps its key. Returns the keys, to [`Self::store`] with the
    /// server that answered.
    pub fn on_response(
        &self,
        env: &dyn Env,
        holds: impl Fn(&C) -> bool,
    ) -> Vec<(Arc<StickStore>, Vec<u8>)> {
        let mut out: Vec<(Arc<StickStore>, Vec<u8>)> = Vec::new();
        for r in &self.rules {
            if r.kind != StickRuleKind::StoreResponse
                || out.iter().any(|(s, _)| Arc::ptr_eq(s, &r.store))
                || r.cond.as_ref().is_some_and(|c| !holds(c))
            {
                continue;
            }
            if let Some(key) = r.store.key(&r.expr, env) {
                out.push((r.store.clone(), key));
            }
        }
        out
    }

    /// Stores each kept key with `server` (the request's once connected, or the response's).
    pub fn store(now: Instant, stores: Vec<(Arc<StickStore>, Vec<u8>)>, server: &Stuck) {
        for (s, key) in stores {
            s.store(now, key, server.clone());
        }
    }
}

/// What `fulcrum check` refuses as `run` does: the rules compiled (conditions by `cond_of`)
/// against a stand-in table (the tables' names are checked with the model).
pub fn check(
    p: &Proxy,
    cond_of: impl FnMut(&Condition) -> Result<(), String>,
) -> Result<(), String> {
    let stand_in = TableModel {
        span: Default::default(),
        key_type: StickKeyType::String,
        len: None,
        size: 1,
        expire: None,
        nopurge: false,
        store: Vec::new(),
        peers: None,
    };
    SampleStick::from_proxy(p, |_| Ok(Arc::new(StickStore::new("", &stand_in))), cond_of)
        .map(|_| ())
}

#[cfg(test)]
#[path = "stick_sample_tests.rs"]
mod tests;
