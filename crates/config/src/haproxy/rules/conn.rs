//! `set-mark MARK`, `set-tos TOS`, `set-nice N`, `set-priority-class EXPR` and
//! `set-priority-offset EXPR`: the actions on the client's connection and on the stream's
//! scheduling, parsed the same way in `tcp-request` and `http-request|http-response` rules
//! (numbers as HAProxy 2.6 reads them: `strtoul(.., 0)` for a mark or a TOS, `atoi` clamped to
//! -1024..1024 for a nice value).

use super::super::line::Line;
use crate::model::ConnAction;
use fulcrum_sample::fetch::Needs;

/// Where a rule stands: which of these actions HAProxy 2.6 allows there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// `tcp-request connection|session`: `set-mark`, `set-tos`.
    Accept,
    /// `tcp-request content`, `http-request`: all of them.
    Request,
    /// `http-response`, `tcp-response content`: `set-mark`, `set-tos`, `set-nice`.
    Response,
}

/// The action at word `i`, if it is one of these: (action, the next word).
pub fn parse(
    line: &Line<'_>,
    i: usize,
    place: Place,
    what: &str,
) -> Result<Option<(ConnAction, usize)>, String> {
    let word = line.need(i, "an action")?;
    let allowed = match word {
        "set-mark" | "set-tos" => true,
        "set-nice" => place != Place::Accept,
        "set-priority-class" | "set-priority-offset" => place == Place::Request,
        _ => return Ok(None),
    };
    if !allowed {
        return Err(format!(
            "'{word}' is not allowed in '{what}' rules (HAProxy 2.6)"
        ));
    }
    let arg = line.need(i + 1, "a value")?;
    let action = match word {
        "set-mark" => ConnAction::SetMark(c_ulong(arg, word)? as u32),
        "set-tos" => ConnAction::SetTos(c_ulong(arg, word)? as u32),
        "set-nice" => ConnAction::SetNice(atoi(arg).clamp(-1024, 1024)),
        _ => {
            let available = if place == Place::Request {
                Needs::Request
            } else {
                Needs::Connection
            };
            let mut compiler = fulcrum_sample::expr::Compiler::default().with_available(available);
            let compiled = fulcrum_sample::expr::compile_with(arg, &mut compiler)
                .map_err(|e| format!("{word} '{arg}': {e}"))?;
            super::super::logformat::check_answered(compiled.fetch.kw.name)
                .map_err(|e| format!("{word} '{arg}': {e}"))?;
            ConnAction::SetPriority {
                offset: word == "set-priority-offset",
                expr: arg.to_string(),
            }
        }
    };
    Ok(Some((action, i + 2)))
}

/// `set-mark`/`set-tos` in the `http-request|http-response` rules of a proxy whose binds
/// speak HTTP/2 (`proto h2`, or `h2` in `alpn`): fulcrum does not set them on an HTTP/2
/// connection yet (its streams have no socket of their own), which the operator is told.
pub fn warn_h2(proxies: &[crate::model::Proxy], diags: &mut crate::diagnostics::Diagnostics) {
    use crate::model::HttpAction;
    for p in proxies {
        let h2 = p.binds.iter().any(|b| {
            b.proto_h2
                || b.tls
                    .alpn
                    .as_ref()
                    .is_some_and(|a| a.iter().any(|x| x == "h2"))
        });
        if !h2 {
            continue;
        }
        for r in p.http_request.iter().chain(&p.http_response) {
            if let HttpAction::Conn(ConnAction::SetMark(_) | ConnAction::SetTos(_)) = r.action {
                diags.warning(
                    &r.span,
                    format!("proxy '{}' serves HTTP/2: fulcrum does not apply set-mark/set-tos to HTTP/2 connections yet (HTTP/1 clients get it)", p.name),
                );
            }
        }
    }
}

/// `set-nice` wherever it stands: accepted (HAProxy 2.6 configs carry it) and not run —
/// fulcrum's streams have no run-queue priority — which `check` says at the rule's line.
pub fn warn_nice(proxies: &[crate::model::Proxy], diags: &mut crate::diagnostics::Diagnostics) {
    use crate::model::{HttpAction, TcpAction};
    let says = "'set-nice' is accepted and ignored: fulcrum's streams have no scheduling priority (only who waits first when the CPU is short would change)";
    for p in proxies {
        let http = p
            .http_request
            .iter()
            .chain(&p.http_response)
            .filter_map(|r| {
                matches!(r.action, HttpAction::Conn(ConnAction::SetNice(_))).then_some(&r.span)
            });
        let tcp = p.tcp_rules.all().filter_map(|r| {
            matches!(r.action, TcpAction::Conn(ConnAction::SetNice(_))).then_some(&r.span)
        });
        for span in http.chain(tcp) {
            diags.warning(span, says.to_string());
        }
    }
}

/// C's `strtoul(s, &end, 0)` with the whole word required: `0x` hex, a leading `0` octal,
/// else decimal; wraps as the C `unsigned int` it is stored in.
fn c_ulong(s: &str, what: &str) -> Result<u64, String> {
    let bad = || format!("'{what}': invalid number '{s}'");
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() {
        return Err(bad());
    }
    u128::from_str_radix(digits, radix)
        .map(|v| v as u64)
        .map_err(|_| bad())
}

/// C's `atoi`: leading digits with an optional sign, 0 without any.
fn atoi(s: &str) -> i32 {
    atol(s).clamp(-i64::from(i32::MAX), i64::from(i32::MAX)) as i32
}

/// C's `atol`: leading digits with an optional sign, 0 without any (saturating).
pub(crate) fn atol(s: &str) -> i64 {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let n = rest
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |a, d| {
            a.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if neg {
        -n
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_haproxy_reads_them() {
        assert_eq!(c_ulong("0x10", "m"), Ok(16));
        assert_eq!(c_ulong("010", "m"), Ok(8));
        assert_eq!(c_ulong("0", "m"), Ok(0));
        assert_eq!(c_ulong("4294967296", "m").map(|v| v as u32), Ok(0));
        assert!(c_ulong("abc", "m").is_err());
        assert!(c_ulong("0x", "m").is_err());
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi("5000").clamp(-1024, 1024), 1024);
        assert_eq!(atoi("-12x"), -12);
    }
}
