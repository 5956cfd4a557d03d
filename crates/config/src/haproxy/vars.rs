//! Variable actions shared by `http-request`/`http-response` and `tcp-request` rules:
//! `set-var(scope.name) EXPR`, `set-var-fmt(scope.name) FMT`, `unset-var(scope.name)`. The
//! expression or format is compiled here so a mistake is a `FILE:LINE` error with its column,
//! and every fetch in it is one the data plane answers at that point.

use super::line::Line;
use crate::model::VarAction;
use fulcrum_sample::expr::{compile_with, Compiler};
use fulcrum_sample::fetch::Needs;

fn var_name(word: &str, prefix: &str) -> Result<(String, String), String> {
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
    if name.is_empty() {
        return Err(format!("'{word}': empty variable name"));
    }
    // HAProxy 2.5+'s conditions (`set-var(txn.x,ifnotexists)`): refused rather than read as
    // part of the name.
    if let Some((_, conds)) = name.split_once(',') {
        return Err(format!(
            "'{word}': the set-var conditions ('{conds}') are not run by fulcrum yet"
        ));
    }
    Ok((scope.to_string(), name.to_string()))
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
        let (scope, name) = var_name(word, "set-var-fmt(")?;
        fulcrum_sample::var_uses::note_set(&scope, &name);
        let format = line.need(i + 1, "a log-format string")?.to_string();
        super::logformat::check_rule_value(
            &format,
            available <= Needs::Request,
            &format!("'{word}' format"),
        )?;
        return Ok(Some((
            VarAction::SetFmt {
                scope,
                name,
                format,
            },
            i + 2,
        )));
    }
    if word.starts_with("set-var(") {
        let (scope, name) = var_name(word, "set-var(")?;
        fulcrum_sample::var_uses::note_set(&scope, &name);
        let expr = line.need(i + 1, "a sample expression")?.to_string();
        let mut c = Compiler::default().with_available(available);
        let e = compile_with(&expr, &mut c)
            .map_err(|e| format!("'{word}' expression '{expr}': column {}: {}", e.col, e.msg))?;
        super::logformat::check_answered(e.fetch.kw.name)
            .map_err(|e| format!("'{word}' expression '{expr}': {e}"))?;
        return Ok(Some((VarAction::Set { scope, name, expr }, i + 2)));
    }
    if word.starts_with("unset-var(") {
        let (scope, name) = var_name(word, "unset-var(")?;
        return Ok(Some((VarAction::Unset { scope, name }, i + 1)));
    }
    Ok(None)
}
