//! What an expression is evaluated against: the caller's fetches and variables.
//!
//! The data plane implements [`Env`] for a stream (its connection, request, response, server
//! choice); tests implement it with fixed answers. Variables live in [`Vars`], one map per
//! scope; `proc` variables are the caller's to share across streams.

use crate::fetch::Fetch;
use crate::value::Value;
pub use crate::var_name::{VarKey, VarName};
use std::collections::HashSet;

/// HAProxy's variable scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Proc,
    Sess,
    Txn,
    Req,
    Res,
    Check,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        Some(match s {
            "proc" => Scope::Proc,
            "sess" => Scope::Sess,
            "txn" => Scope::Txn,
            "req" => Scope::Req,
            "res" => Scope::Res,
            "check" => Scope::Check,
            _ => return None,
        })
    }
}

/// The caller's side of an evaluation.
pub trait Env {
    /// The value of a fetch that reads the stream (`src`, `path`, `req.hdr(host)`...); `None`
    /// when there is none (no such header, no response yet).
    fn fetch(&self, fetch: &Fetch) -> Option<Value>;

    /// Every value of a fetch that may have several (each header value, each cookie of that
    /// name), for ACLs, which test them all: calls `each` until it returns true, and says
    /// whether it did. By default the one value of [`Env::fetch`].
    fn fetch_each(&self, fetch: &Fetch, each: &mut dyn FnMut(Value) -> bool) -> bool {
        self.fetch(fetch).is_some_and(each)
    }

    /// [`Env::fetch_each`] of a string fetch whose values the environment can lend (a
    /// request's path, its header values): calls `each` with each value's bytes until it
    /// returns true, and says whether it did; `None` when it does not lend this fetch's
    /// values (the caller then uses [`Env::fetch_each`]). Each value must be the one
    /// `fetch_each` gives, as a `Value::Str`.
    fn each_str(&self, _f: &Fetch, _each: &mut dyn FnMut(&[u8]) -> bool) -> Option<bool> {
        None
    }

    /// Whether fetch `f` may answer otherwise once more data has arrived (HAProxy's
    /// `SMP_F_MAY_CHANGE`: `req.len`, a `req.payload` beyond what was received, a ClientHello
    /// not complete yet), while the caller can still wait for it (`tcp-request
    /// inspect-delay`). Rules then wait instead of deciding; by default nothing changes.
    fn may_change(&self, _f: &Fetch) -> bool {
        false
    }

    /// A variable, `None` when unset.
    fn var(&self, scope: Scope, name: &VarName) -> Option<Value>;

    /// The value of string fetch `f` lent (`Some(None)`: there is none) instead of copied,
    /// where the environment holds it as bytes (a request's path, a header value); `None`
    /// when it does not lend this fetch (the caller then uses [`Env::fetch`]). What it lends
    /// is what `fetch` gives, as a `Value::Str` (`Value::Meth` for a method).
    fn str_of<'s>(&'s self, _f: &'s Fetch) -> Option<Option<&'s [u8]>> {
        None
    }

    /// [`Env::var`] lent to `with` instead of copied. `with` may hold the variables' lock:
    /// it must not read or set a variable.
    fn with_var(&self, scope: Scope, name: &VarName, with: &mut dyn FnMut(Option<&Value>)) {
        with(self.var(scope, name).as_ref());
    }

    /// The `set-var(SCOPE.NAME[,COND...])` converter: stores `v` when the conditions allow it
    /// ([`crate::var_set`]); whether they did (the converter gives no value when not, as
    /// haproxy's). By default nothing is stored and the value passes (no variables here).
    fn set_var(&self, _scope: Scope, _name: &VarName, _v: Value, _conds: crate::SetConds) -> bool {
        true
    }

    /// Seconds since the Unix epoch, for `date` (the caller's clock: tests fix it).
    fn now_unix(&self) -> i64;

    /// A pseudo-random 32-bit number, for `rand` and `uuid`.
    fn random(&self) -> u32;

    /// The `table_*` converters and `in_table`: `what` (`conn_cnt`, `http_req_rate`,
    /// `trackers`, `in_table`...) of `key` in stick table `table`. `None`: no such table, a
    /// key the table's type cannot hold, or data the table does not store.
    fn table_lookup(&self, _table: &str, _key: Value, _what: &str) -> Option<Value> {
        None
    }

    /// An environment variable, for `env(NAME)`.
    fn env_var(&self, name: &str) -> Option<String> {
        crate::environ::var(name)
    }
}

/// The `proc` scope's variables: one set per process, shared by the data plane's streams and
/// the health checks (HAProxy's `set-var(proc.x)` in a `tcp-check` is seen by `http-request`
/// rules, and the other way round).
pub fn proc_vars() -> &'static std::sync::Mutex<Vars> {
    static PROC: std::sync::LazyLock<std::sync::Mutex<Vars>> =
        std::sync::LazyLock::new(Default::default);
    &PROC
}

/// Variables of one scope set, keyed by their name's hash ([`crate::var_name`]). A stream
/// holds a few, named by the configuration: a scan comparing numbers finds one sooner than a
/// hash map would, and reading or replacing one allocates nothing. An unset variable keeps
/// its slot, so the next transaction setting it again allocates nothing.
#[derive(Debug, Default, Clone)]
pub struct Vars {
    values: Vec<(Scope, u64, Option<Value>)>,
    /// Variables that exist without a value (a conditional `set-var` created them: see
    /// [`crate::var_set`]).
    pub(crate) created: HashSet<(Scope, u64)>,
}

impl Vars {
    #[inline]
    fn position(&self, scope: Scope, hash: u64) -> Option<usize> {
        self.values
            .iter()
            .position(|(s, h, _)| *h == hash && *s == scope)
    }

    pub fn get(&self, scope: Scope, name: impl VarKey) -> Option<&Value> {
        self.position(scope, name.var_hash())
            .and_then(|i| self.values[i].2.as_ref())
    }

    pub fn set(&mut self, scope: Scope, name: impl VarKey, v: Value) {
        let hash = name.var_hash();
        match self.position(scope, hash) {
            Some(i) => {
                if let Some(old) = self.values[i].2.replace(v) {
                    crate::spare::give_value(old);
                }
            }
            None => self.values.push((scope, hash, Some(v))),
        }
    }

    pub fn unset(&mut self, scope: Scope, name: impl VarKey) {
        let hash = name.var_hash();
        if let Some(old) = self
            .position(scope, hash)
            .and_then(|i| self.values[i].2.take())
        {
            crate::spare::give_value(old);
        }
        if !self.created.is_empty() {
            self.created.remove(&(scope, hash));
        }
    }

    /// Forgets one scope (a transaction ended: `txn`, `req`, `res`).
    pub fn clear(&mut self, scope: Scope) {
        self.clear_if(|s| s == scope);
    }

    /// Forgets a transaction's scopes (`txn`, `req`, `res`) in one pass: a request ended.
    pub fn clear_transaction(&mut self) {
        self.clear_if(|s| matches!(s, Scope::Txn | Scope::Req | Scope::Res));
    }

    fn clear_if(&mut self, gone: impl Fn(Scope) -> bool) {
        for (s, _, v) in &mut self.values {
            if gone(*s) {
                if let Some(old) = v.take() {
                    crate::spare::give_value(old);
                }
            }
        }
        if !self.created.is_empty() {
            self.created.retain(|(s, _)| !gone(*s));
        }
    }
}
