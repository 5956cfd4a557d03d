//! `http-request wait-for-body time T [at-least N] [if|unless COND]` in a frontend or
//! listen: as the first unconditional `http-request` rule it is waited for before the chain
//! (nothing runs between the head and the rule: the same behaviour); anywhere else in the
//! chain, or with a condition, it is a rule where the chain pauses until the body is in
//! (several such rules each pause there; a body already waited for is not waited for
//! again). In a backend it is always such a rule: the backend's chain pauses there.

use super::line::Line;
use crate::model::WaitForBody;

/// Parses the rule: the wait and where its condition starts (`if`/`unless`), if any.
pub fn parse(line: &Line<'_>) -> Result<(WaitForBody, Option<usize>), String> {
    let mut time = None;
    let mut at_least = 0u64;
    let mut i = 2;
    let mut cond = None;
    while let Some(w) = line.arg(i) {
        match w {
            "time" => {
                let t = line.need(i + 1, "a time")?;
                time = Some(super::line::time(t, "wait-for-body time")?);
            }
            "at-least" => at_least = size(line.need(i + 1, "a size")?)?,
            "if" | "unless" => {
                cond = Some(i);
                break;
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
        return Err(format!(
            "'{} wait-for-body' needs 'time <time>'",
            line.keyword()
        ));
    };
    Ok((WaitForBody { time, at_least }, cond))
}

/// Where the rule goes: a frontend's leading unconditional wait is waited for before the
/// chain (`options.wait_for_body`); elsewhere in a frontend or listen, and anywhere in a
/// backend, it is a rule of the chain, which pauses there.
pub fn place(p: &mut crate::model::Proxy, line: &Line<'_>, frontend: bool) -> Result<(), String> {
    let (w, cond) = parse(line)?;
    if frontend && p.http_request.is_empty() && cond.is_none() && p.options.wait_for_body.is_none()
    {
        p.options.wait_for_body = Some(w);
        return Ok(());
    }
    let condition = match cond {
        Some(at) => Some(super::acl::condition(line, at)?),
        None => None,
    };
    p.http_request.push(crate::model::HttpRule {
        span: line.span.clone(),
        action: crate::model::HttpAction::WaitForBody(w),
        condition,
    });
    Ok(())
}

/// `http-response wait-for-body time T [at-least N] [if|unless COND]`: the proxy's first,
/// unconditional one is waited for before the rules (`options.response_wait_for_body`);
/// any other is a rule where the response rules pause until the body is in.
pub fn place_response(p: &mut crate::model::Proxy, line: &Line<'_>) -> Result<(), String> {
    let (w, cond) = parse(line)?;
    if cond.is_none() && p.http_response.is_empty() && p.options.response_wait_for_body.is_none() {
        p.options.response_wait_for_body = Some(w);
        return Ok(());
    }
    let condition = match cond {
        Some(at) => Some(super::acl::condition(line, at)?),
        None => None,
    };
    p.http_response.push(crate::model::HttpRule {
        span: line.span.clone(),
        action: crate::model::HttpAction::WaitForBody(w),
        condition,
    });
    Ok(())
}

/// `http-response wait-for-body` in a backend with HTTP/2 servers (`proto h2`): their
/// answers are not waited for yet, which the operator is told (at the backend's line).
pub fn warn_h2_servers(
    proxies: &[crate::model::Proxy],
    diags: &mut crate::diagnostics::Diagnostics,
) {
    for p in proxies {
        let waits = p.options.response_wait_for_body.is_some()
            || p.http_response
                .iter()
                .any(|r| matches!(r.action, crate::model::HttpAction::WaitForBody(_)));
        if waits && p.servers.iter().any(|s| s.proto_h2) {
            diags.warning(
                &p.span,
                format!("proxy '{}': 'http-response wait-for-body' is not applied to the answers of its HTTP/2 servers yet", p.name),
            );
        }
    }
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
