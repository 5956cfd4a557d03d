//! Variable actions shared by `http-request`/`http-response` and `tcp-request` rules:
//! `set-var(scope.name) EXPR`, `set-var-fmt(scope.name) FMT`, `unset-var(scope.name)`. The
//! expression or format is compiled here so a mistake is a `FILE:LINE` error with its column,
//! and every fetch in it is one the data plane answers at that point.

use super::line::Line;
use crate::model::VarAction;
use fulcrum_sample::expr::{compile_with, Compiler};
use fulcrum_sample::fetch::Needs;

/// `scope.name[,COND...]` of `PREFIXscope.name)`: the scope, the name and the conditions
/// (only `set-var`/`set-var-fmt` take them, as haproxy 2.6).
fn var_name(word: &str, prefix: &str) -> Result<(String, String, Vec<String>), String> {
    let inner = word
        .strip_prefix(prefix)
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("'{word}': expected {prefix}scope.name)"))?;
    let (scope, name) = inner.split_once('.').ok_or_else(|| {
        format!("'{word}': a variable is scope.name (proc, sess, txn, req or res)")
    })?;
    if !["proc", "sess", "txn", "req", "res"].contains(&scope) {
        return Err(format!(
            "'{word}': unknown variable scope '{scope}' (expected proc, sess, txn, req or res)"
        ));
    }
    // HAProxy 2.5+'s conditions (`set-var(txn.x,ifnotexists)`).
    let (name, conditions) = match name.split_once(',') {
        Some((n, conds)) => {
            if prefix == "unset-var(" {
                return Err(format!("'{word}': unset-var does not expect parameters after the variable name (only set-var and set-var-fmt take conditions)"));
            }
            let words: Vec<String> = conds
                .split(',')
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect();
            fulcrum_sample::SetConds::parse(words.iter().map(String::as_str))
                .map_err(|e| format!("'{word}': {e}"))?;
            (n, words)
        }
        None => (name, Vec::new()),
    };
    if name.is_empty() {
        return Err(format!("'{word}': empty variable name"));
    }
    Ok((scope.to_string(), name.to_string(), conditions))
}

/// Parses the variable action at word `i` if it is one: the action and the next word's
/// index. `available`: what the rule can read.
pub fn parse(
    line: &Line<'_>,
    i: usize,
    available: Needs,
) -> Result<Option<(VarAction, usize)>, String> {
    let word = line.need(i, "an action")?;
    if word.starts_with("set-var-fmt(") {
        let (scope, name, conditions) = var_name(word, "set-var-fmt(")?;
        fulcrum_sample::var_uses::note_set(&scope, &name);
        let format = line.need(i + 1, "a log-format string")?.to_string();
        // HAProxy 2.6 does not warn on layer-6 fetches here (not an HTTP log-format string
        // to it): what they note is dropped (`l6_http`).
        let (checked, _) = fulcrum_sample::l6_uses::with_l6_uses(|| {
            super::logformat::check_rule_value(
                &format,
                available <= Needs::Request,
                &format!("'{word}' format"),
            )
        });
        checked?;
        return Ok(Some((
            VarAction::SetFmt {
                scope,
                name,
                format,
                conditions,
            },
            i + 2,
        )));
    }
    if word.starts_with("set-var(") {
        let (scope, name, conditions) = var_name(word, "set-var(")?;
        fulcrum_sample::var_uses::note_set(&scope, &name);
        let expr = line.need(i + 1, "a sample expression")?.to_string();
        let mut c = Compiler::default().with_available(available);
        let e = compile_with(&expr, &mut c)
            .map_err(|e| format!("'{word}' expression '{expr}': column {}: {}", e.col, e.msg))?;
        super::logformat::check_answered(e.fetch.kw.name)
            .map_err(|e| format!("'{word}' expression '{expr}': {e}"))?;
        return Ok(Some((
            VarAction::Set {
                scope,
                name,
                expr,
                conditions,
            },
            i + 2,
        )));
    }
    if word.starts_with("unset-var(") {
        let (scope, name, _) = var_name(word, "unset-var(")?;
        return Ok(Some((VarAction::Unset { scope, name }, i + 1)));
    }
    Ok(None)
}
