//! Stick rules keyed by a sample expression (`stick match|on|store-request|store-response
//! EXPR`) on a table of any type: a `type string [len N]` table as Octavia's APP_COOKIE
//! renders them (`stick store-response res.cook(C)` + `stick match req.cook(C)`), or an
//! address, integer or binary table with anything but the plain `stick on src` (which
//! [`super::stick`] keeps). Keys are the sample cast to the table's type, written as the
//! counter table writes them. Pure: the caller passes a sample environment (the request,
//! then the response) and the current time.
//!
//! HAProxy's order (stream.c `process_sticking_rules` / `process_store_rules`): the request's
//! `match`/`on` rules run in order until one finds a usable server (none when persistence, e.g.
//! a `cookie`, already chose one); `on` and `store-request` keep their key (the first one per
//! table) and store it with the server the request was sent to; the first `store-response`
//! rule whose sample exists stores its key with the server that answered. A store overwrites
//! an existing entry's server and refreshes its expiry. Keys are the sample's string cast, cut
//! to the table's `len` (HAProxy's default 32).
//!
//! `stick on src` on an IP table stays in [`super::stick`] (it is replicated to peers); what
//! neither runs is refused with the rule's FILE:LINE.

use super::stick::{ClearHook, StickTable, UpdateFeed};
use fulcrum_config::model::{Mode, Proxy, StickKeyType, StickRuleKind};
use fulcrum_sample::{Env, Expr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// HAProxy's default `len` of a `type string` table.
const DEFAULT_LEN: usize = 32;

#[derive(Debug)]
struct Rule {
    kind: StickRuleKind,
    expr: Expr,
}

/// A backend's sample-keyed stick rules and their table (key → server name).
#[derive(Debug)]
pub struct SampleStick {
    rules: Vec<Rule>,
    /// The table's key type (the sample is cast to it) and `len` (string and binary keys).
    ty: fulcrum_sample::Type,
    len: usize,
    table: Arc<Mutex<StickTable<Vec<u8>, String>>>,
}

/// What the request phase found: the server a `match`/`on` rule stuck the request to, and the
/// key an `on`/`store-request` rule stores once the server is known.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequestStick {
    pub server: Option<String>,
    pub store: Option<Vec<u8>>,
}

impl SampleStick {
    /// The rules of a backend whose stickiness is not the plain `stick on src` of
    /// [`super::stick`]; `Ok(None)` when the backend has no stick rules or only those.
    pub fn from_proxy(p: &Proxy) -> Result<Option<SampleStick>, String> {
        let Some(table) = &p.stick_table else {
            return Ok(None);
        };
        if p.stick_rules.is_empty() || super::stick::stick_on_src(p).is_ok_and(|t| t.is_some()) {
            return Ok(None);
        }
        if p.mode == Mode::Tcp {
            return Err(format!(
                "{}: stick rules other than 'stick on src' in TCP mode are not supported yet",
                p.stick_rules[0].span
            ));
        }
        let mut rules = Vec::new();
        for r in &p.stick_rules {
            if r.table.as_ref().is_some_and(|t| t.name != p.name) {
                return Err(format!(
                    "{}: 'stick ... table {}' (another proxy's table) is not supported yet",
                    r.span,
                    r.table.as_ref().map_or("", |t| t.name.as_str())
                ));
            }
            if r.condition.is_some() {
                return Err(format!(
                    "{}: 'if'/'unless' on a stick rule is not supported yet",
                    r.span
                ));
            }
            let text = match &r.fetch.arg {
                Some(a) => format!("{}({a})", r.fetch.name),
                None => r.fetch.name.clone(),
            };
            let expr = fulcrum_sample::compile(&text)
                .map_err(|e| format!("{}: stick rule sample '{text}': {e}", r.span))?;
            rules.push(Rule { kind: r.kind, expr });
        }
        let len = table
            .len
            .map_or(DEFAULT_LEN, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let ty = match table.key_type {
            StickKeyType::Ip => fulcrum_sample::Type::Ipv4,
            StickKeyType::Ipv6 => fulcrum_sample::Type::Ipv6,
            StickKeyType::Integer => fulcrum_sample::Type::Sint,
            StickKeyType::String => fulcrum_sample::Type::Str,
            StickKeyType::Binary => fulcrum_sample::Type::Bin,
        };
        Ok(Some(SampleStick {
            rules,
            ty,
            len,
            table: Arc::new(Mutex::new(StickTable::from_model(table))),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, StickTable<Vec<u8>, String>> {
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

    /// The request phase. `assigned`: persistence already chose a server (the match rules are
    /// then skipped, stores still kept). `usable`: whether a stored server may take traffic.
    pub fn on_request(
        &self,
        now: Instant,
        env: &dyn Env,
        assigned: bool,
        usable: impl Fn(&String) -> bool,
    ) -> RequestStick {
        let mut out = RequestStick::default();
        for r in &self.rules {
            let (is_match, is_store) = match r.kind {
                StickRuleKind::On => (true, true),
                StickRuleKind::Match => (true, false),
                StickRuleKind::StoreRequest => (false, true),
                StickRuleKind::StoreResponse => continue,
            };
            if (!is_match || assigned || out.server.is_some()) && (!is_store || out.store.is_some())
            {
                continue;
            }
            let Some(key) = self.key(&r.expr, env) else {
                continue;
            };
            if is_match && !assigned && out.server.is_none() {
                let mut t = self.lock();
                // A match refreshes the entry's date; a store rule sets the server later.
                let entry_server = t.lookup(now, &key).cloned();
                if let Some(s) = entry_server.filter(|s| usable(s)) {
                    t.store(now, key.clone(), s.clone());
                    out.server = Some(s);
                }
            }
            if is_store && out.store.is_none() {
                out.store = Some(key);
            }
        }
        out
    }

    /// The response phase: the first `store-response` rule whose sample exists stores its key
    /// with `server`, the one that answered. Returns the stored key.
    pub fn on_response(&self, now: Instant, env: &dyn Env, server: &str) -> Option<Vec<u8>> {
        let key = self
            .rules
            .iter()
            .filter(|r| r.kind == StickRuleKind::StoreResponse)
            .find_map(|r| self.key(&r.expr, env))?;
        self.store(now, key.clone(), server);
        Some(key)
    }

    /// Stores `key` → `server` (an `on`/`store-request` key once the server is connected).
    pub fn store(&self, now: Instant, key: Vec<u8>, server: &str) {
        self.lock().store(now, key, server.to_string());
    }

    /// The server `key` is stuck to, if the entry is alive (tests, runtime views).
    pub fn lookup(&self, now: Instant, key: &[u8]) -> Option<String> {
        self.lock().lookup(now, &key.to_vec()).cloned()
    }

    /// Tells `record` of every store (see [`StickTable::set_record`]).
    pub fn set_record(&self, record: UpdateFeed<Vec<u8>, String>) {
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

    /// A reload: this generation takes over `old`'s live entries.
    pub fn adopt(&self, now: Instant, old: &SampleStick) {
        let previous = old.lock().clone();
        self.lock().adopt(now, &previous);
    }
}

#[cfg(test)]
#[path = "stick_sample_tests.rs"]
mod tests;
