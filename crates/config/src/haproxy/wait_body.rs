//! `http-request wait-for-body time T [at-least N]`, read where fulcrum runs it exactly as
//! HAProxy does: as the first `http-request` rule of a frontend (or listen), without a
//! condition. There nothing runs between the head and the rule, so waiting before the
//! rule chain (as `option http-buffer-request` does) is the same behaviour. Elsewhere it is
//! refused with the reason (the rule chain does not pause in the middle yet).

use super::line::Line;
use crate::model::WaitForBody;

/// Parses the rule; `first` tells whether no `http-request` rule came before it in a
/// proxy with a frontend side.
pub fn parse(line: &Line<'_>, first: bool, frontend: bool) -> Result<WaitForBody, String> {
    let mut time = None;
    let mut at_least = 0u64;
    let mut i = 2;
    while let Some(w) = line.arg(i) {
        match w {
            "time" => {
                let t = line.need(i + 1, "a time")?;
                time = Some(super::line::time(t, "wait-for-body time")?);
            }
            "at-least" => at_least = size(line.need(i + 1, "a size")?)?,
            "if" | "unless" => {
                return Err(
                    "'http-request wait-for-body' with a condition is not supported by fulcrum yet (it runs only as the first, unconditional http-request rule of a frontend)"
                        .to_string(),
                )
            }
            other => {
                return Err(format!(
                    "'http-request wait-for-body' expects 'time' or 'at-least', found '{other}'"
                ))
            }
        }
        i += 2;
    }
    let Some(time) = time else {
        return Err("'http-request wait-for-body' needs 'time <time>'".to_string());
    };
    if !first || !frontend {
        return Err(
            "'http-request wait-for-body' is supported by fulcrum only as the first http-request rule of a frontend or listen section (the rule chain does not pause in the middle yet)"
                .to_string(),
        );
    }
    Ok(WaitForBody { time, at_least })
}

/// A size with HAProxy's optional `k`, `m` or `g` suffix (powers of 1024).
fn size(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((p, _)) => text.split_at(p),
        None => (text, ""),
    };
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(format!("'at-least': invalid size '{text}'")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("'at-least': invalid size '{text}'"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::size("10"), Ok(10));
        assert_eq!(super::size("2k"), Ok(2048));
        assert!(super::size("2x").is_err());
        assert!(super::size("").is_err());
    }
}
