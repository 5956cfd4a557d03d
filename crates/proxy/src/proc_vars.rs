//! The global `set-var proc.NAME EXPR` / `set-var-fmt proc.NAME FMT`: evaluated once per
//! configuration generation, in order (a later one may read an earlier one), with nothing of
//! a stream (process-level fetches only, as HAProxy 2.6 evaluates them at start). Each load
//! starts from these alone: variables set at run time do not survive a reload.

use fulcrum_config::model_keywords::ProcVar;
use fulcrum_sample::fetch::Fetch;
use fulcrum_sample::{Env, Scope, Value, VarName};

/// What a global variable's expression can read: no stream, the process variables.
struct ProcessEnv<'a>(&'a crate::track::Tracking);

impl Env for ProcessEnv<'_> {
    fn fetch(&self, _: &Fetch) -> Option<Value> {
        None
    }
    fn var(&self, scope: Scope, name: &VarName) -> Option<Value> {
        self.0.var(scope, name)
    }
    fn set_var(&self, scope: Scope, name: &VarName, v: Value, c: fulcrum_sample::SetConds) -> bool {
        self.0.set_var_if(scope, name, v, c)
    }
    fn now_unix(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }
    fn random(&self) -> u32 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(self.now_unix() as u64);
        h.finish() as u32
    }
}

/// Sets the configuration's process variables (the parser checked each expression), after
/// clearing every `proc.` variable: a reload starts from the configuration's as haproxy's new
/// process does (one set at run time by a rule, a check or `set var` is gone).
pub fn set(vars: &[ProcVar]) {
    if let Ok(mut all) = fulcrum_sample::proc_vars().lock() {
        all.clear(Scope::Proc);
    }
    let t = crate::track::Tracking::default();
    for v in vars {
        let value = match (&v.expr, &v.format) {
            (Some(e), _) => fulcrum_sample::compile(e)
                .ok()
                .and_then(|e| e.eval(&ProcessEnv(&t))),
            (None, Some(f)) => fulcrum_sample::compile_format(f).ok().map(|f| {
                let mut out = Vec::new();
                f.render(&ProcessEnv(&t), &mut |_, _| false, b"", &mut out);
                Value::Str(out)
            }),
            (None, None) => None,
        };
        // As HAProxy: an expression without a value leaves the variable unset.
        if value.is_some() {
            t.set_var(Scope::Proc, &v.name, value);
        }
    }
}
