//! Variable actions (`set-var`, `set-var-fmt`, `unset-var`) compiled once and run by the
//! `http-request`/`http-response` and `tcp-request` rules against the stream's state
//! ([`crate::track::Tracking`]). A sample that has no value sets nothing, as HAProxy; the
//! `set-var` conditions (`ifnotexists`...) are the sample crate's ([`fulcrum_sample::var_set`]).

use crate::http::sample_env::HttpEnv;
use fulcrum_config::model::VarAction;
use fulcrum_sample::{Expr, Format, Scope, SetConds, Value, VarName};

#[derive(Debug)]
pub enum VarOp {
    Set(Scope, VarName, Expr, SetConds),
    SetFmt(Scope, VarName, Format, SetConds),
    Unset(Scope, VarName),
}

fn conds(words: &[String]) -> Result<SetConds, String> {
    SetConds::parse(words.iter().map(String::as_str))
}

fn scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s).ok_or_else(|| format!("unknown variable scope '{s}'"))
}

pub fn compile(v: &VarAction) -> Result<VarOp, String> {
    Ok(match v {
        VarAction::Set {
            scope: s,
            name,
            expr,
            conditions,
        } => VarOp::Set(
            scope(s)?,
            VarName::new(name),
            fulcrum_sample::compile(expr).map_err(|e| format!("set-var '{expr}': {e}"))?,
            conds(conditions)?,
        ),
        VarAction::SetFmt {
            scope: s,
            name,
            format,
            conditions,
        } => VarOp::SetFmt(
            scope(s)?,
            VarName::new(name),
            fulcrum_sample::compile_format(format)
                .map_err(|e| format!("set-var-fmt '{format}': {e}"))?,
            conds(conditions)?,
        ),
        VarAction::Unset { scope: s, name } => VarOp::Unset(scope(s)?, VarName::new(name)),
    })
}

impl VarOp {
    pub fn run(&self, env: &HttpEnv<'_>) {
        let Some(c) = env.counters else { return };
        match self {
            VarOp::Set(s, n, e, k) => {
                if let Some(v) = e.eval(env) {
                    c.tracking.set_var_if(*s, n, v, *k);
                }
            }
            VarOp::SetFmt(s, n, f, k) => {
                let mut out = Vec::new();
                f.render_flagged(
                    env,
                    &mut |name, fl, o| env.var_flagged(name, fl, o),
                    b"",
                    &mut out,
                );
                c.tracking.set_var_if(*s, n, Value::Str(out), *k);
            }
            VarOp::Unset(s, n) => c.tracking.set_var(*s, n, None),
        }
    }
}
