//! Stick-counter actions shared by `http-request` and `tcp-request` rules: `track-sc0/1/2
//! KEY [table T]`, `sc-inc-gpc(IDX,N)`, `sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`,
//! `sc-set-gpt(IDX,N) VALUE`, `sc-set-gpt0(N) VALUE`. The key and the value are sample
//! expressions, compiled here so a mistake is a `FILE:LINE` error with its column.

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
    // `sc-inc-gpc(IDX,N)`, `sc-set-gpt(IDX,N)`: the array forms (HAProxy 2.5+)
    for (prefix, set) in [("sc-inc-gpc(", false), ("sc-set-gpt(", true)] {
        if let Some(rest) = word.strip_prefix(prefix) {
            let inner = rest.strip_suffix(')').unwrap_or(rest);
            let (idx, sc) = inner.split_once(',').ok_or_else(|| {
                format!("'{word}': expects an index and a stick counter, e.g. {prefix}0,1)")
            })?;
            // HAProxy takes any index here; one past a table's array changes nothing (kept
            // as 255: no array is that long).
            let idx = match idx.trim().parse::<u32>() {
                Ok(i) => u8::try_from(i).unwrap_or(u8::MAX),
                _ => return Err(format!("'{word}': invalid index '{idx}'")),
            };
            let slot = slot_of(sc.trim(), word)?;
            return Ok(Some(if set {
                let value = set_value(line, i + 1, word, available)?;
                (
                    CounterAction::SetGpt {
                        slot,
                        idx,
                        array: true,
                        value,
                    },
                    i + 2,
                )
            } else {
                (
                    CounterAction::IncGpc {
                        slot,
                        idx,
                        array: true,
                    },
                    i + 1,
                )
            }));
        }
    }
    for (prefix, idx) in [("sc-inc-gpc0(", 0u8), ("sc-inc-gpc1(", 1)] {
        if let Some(rest) = word.strip_prefix(prefix) {
            let slot = slot_of(rest.trim_end_matches(')'), word)?;
            let action = CounterAction::IncGpc {
                slot,
                idx,
                array: false,
            };
            return Ok(Some((action, i + 1)));
        }
    }
    if let Some(rest) = word.strip_prefix("sc-set-gpt0(") {
        let slot = slot_of(rest.trim_end_matches(')'), word)?;
        let value = set_value(line, i + 1, word, available)?;
        let action = CounterAction::SetGpt {
            slot,
            idx: 0,
            array: false,
            value,
        };
        return Ok(Some((action, i + 2)));
    }
    Ok(None)
}

/// The value of `sc-set-gpt*`: an integer (kept as `int(N)`) or a sample expression, compiled
/// here so a mistake is an error at its line.
fn set_value(line: &Line<'_>, i: usize, word: &str, available: Needs) -> Result<String, String> {
    let v = line.need(i, "an integer or a sample expression")?;
    if let Ok(n) = v.parse::<i64>() {
        return Ok(format!("int({n})"));
    }
    let mut c = Compiler::default().with_available(available);
    let e = compile_with(v, &mut c)
        .map_err(|e| format!("'{word}' value '{v}': column {}: {}", e.col, e.msg))?;
    super::logformat::check_answered(e.fetch.kw.name)
        .map_err(|e| format!("'{word}' value '{v}': {e}"))?;
    Ok(v.to_string())
}
