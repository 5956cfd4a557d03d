//! Stick-counter actions shared by `http-request` and `tcp-request` rules: `track-sc0/1/2
//! KEY [table T]`, `sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`, `sc-set-gpt0(N) VALUE`. The key is
//! a sample expression, compiled here so a mistake is a `FILE:LINE` error with its column.

use super::line::Line;
use crate::model::CounterAction;
use fulcrum_sample::expr::{compile_with, Compiler};
use fulcrum_sample::fetch::Needs;

fn slot_of(text: &str, word: &str) -> Result<u8, String> {
    match text {
        "0" => Ok(0),
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(format!(
            "'{word}': stick counter '{text}' does not exist (0, 1 or 2)"
        )),
    }
}

/// Parses the counter action at word `i` if it is one: the action and the next word's
/// index. `available`: what the rule can read (for the key).
pub fn parse(
    line: &Line<'_>,
    i: usize,
    available: Needs,
) -> Result<Option<(CounterAction, usize)>, String> {
    let word = line.need(i, "an action")?;
    if let Some(n) = word.strip_prefix("track-sc") {
        let slot = slot_of(n, word)?;
        let key = line
            .need(i + 1, "a sample expression such as src")?
            .to_string();
        let mut c = Compiler::default().with_available(available);
        let e = compile_with(&key, &mut c)
            .map_err(|e| format!("'{word}' key '{key}': column {}: {}", e.col, e.msg))?;
        super::logformat::check_answered(e.fetch.kw.name)
            .map_err(|e| format!("'{word}' key '{key}': {e}"))?;
        let (table, next) = if line.arg(i + 2) == Some("table") {
            (Some(line.need(i + 3, "a table name")?.to_string()), i + 4)
        } else {
            (None, i + 2)
        };
        return Ok(Some((CounterAction::TrackSc { slot, key, table }, next)));
    }
    for (prefix, idx) in [("sc-inc-gpc0(", 0u8), ("sc-inc-gpc1(", 1)] {
        if let Some(rest) = word.strip_prefix(prefix) {
            let slot = slot_of(rest.trim_end_matches(')'), word)?;
            return Ok(Some((CounterAction::IncGpc { slot, idx }, i + 1)));
        }
    }
    if let Some(rest) = word.strip_prefix("sc-set-gpt0(") {
        let slot = slot_of(rest.trim_end_matches(')'), word)?;
        let v = line.need(i + 1, "an integer value")?;
        let value = v.parse().map_err(|_| {
            format!(
                "'{word}': '{v}' is not an integer (expressions are not run by fulcrum here yet)"
            )
        })?;
        return Ok(Some((CounterAction::SetGpt0 { slot, value }, i + 2)));
    }
    Ok(None)
}
