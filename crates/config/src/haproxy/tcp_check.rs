//! `tcp-check` rules and the protocol-check options (`option tcp-check`, `redis-check`,
//! `mysql-check`, `pgsql-check`, `ldap-check`, `smtpchk`), as HAProxy 2.6 spells them. What
//! fulcrum does not run (TLS connects, SOCKS4, log-format `%[...]` expressions, variables) is
//! an error naming the keyword, never silently dropped.

use super::line::{number, Line};
use crate::model::{
    CheckProtocol, TcpCheckAction, TcpCheckConnect, TcpCheckExpect, TcpCheckRule, TcpExpectKind,
};
use std::net::IpAddr;

/// `option NAME ...` for the check options; None when `name` is not one of them.
pub fn protocol_option(
    name: &str,
    line: &Line<'_>,
    base: usize,
) -> Option<Result<CheckProtocol, String>> {
    let arg = |i: usize| line.arg(base + i);
    let r = match name {
        "tcp-check" => Ok(CheckProtocol::TcpCheck),
        "redis-check" => Ok(CheckProtocol::Redis),
        "ldap-check" => Ok(CheckProtocol::Ldap),
        "external-check" => Ok(CheckProtocol::External),
        "ssl-hello-chk" => Ok(CheckProtocol::SslHello),
        "spop-check" => Ok(CheckProtocol::Spop),
        "mysql-check" => match (arg(1), arg(2), arg(3)) {
            (None, _, _) => Ok(CheckProtocol::Mysql {
                user: None,
                pre41: false,
            }),
            (Some("user"), Some(u), v) => match v {
                None | Some("post-41") => Ok(CheckProtocol::Mysql {
                    user: Some(u.into()),
                    pre41: false,
                }),
                Some("pre-41") => Ok(CheckProtocol::Mysql {
                    user: Some(u.into()),
                    pre41: true,
                }),
                Some(o) => Err(format!(
                    "'option mysql-check user' only supports 'post-41' and 'pre-41' (got '{o}')"
                )),
            },
            (Some("user"), None, _) => {
                Err("'option mysql-check user' expects <username> as argument".into())
            }
            (Some(o), _, _) => Err(format!(
                "'option mysql-check' only supports optional values: 'user' (got '{o}')"
            )),
        },
        "pgsql-check" => match (arg(1), arg(2)) {
            (Some("user"), Some(u)) => Ok(CheckProtocol::Pgsql { user: u.into() }),
            _ => Err("'option pgsql-check' expects 'user <username>' as argument".into()),
        },
        "smtpchk" => match (arg(1), arg(2)) {
            (None, _) => Ok(CheckProtocol::Smtp {
                command: "HELO localhost".into(),
            }),
            (Some(c), Some(d))
                if c.eq_ignore_ascii_case("HELO") || c.eq_ignore_ascii_case("EHLO") =>
            {
                Ok(CheckProtocol::Smtp {
                    command: format!("{c} {d}"),
                })
            }
            // HAProxy falls back to HELO localhost for anything else.
            _ => Ok(CheckProtocol::Smtp {
                command: "HELO localhost".into(),
            }),
        },
        _ => return None,
    };
    Some(r)
}

/// HAProxy's status names an expect rule may set.
pub(super) const OK_STATUS: &[&str] = &["L7OK", "L7OKC", "L6OK", "L4OK"];
pub(super) const ERROR_STATUS: &[&str] = &["L7RSP", "L7STS", "L6RSP", "L4CON"];
pub(super) const TOUT_STATUS: &[&str] = &["L7TOUT", "L6TOUT", "L4TOUT"];

pub fn tcp_check(rules: &mut Vec<TcpCheckRule>, line: &Line<'_>) -> Result<(), String> {
    let action = match line.need(1, "connect, send, send-binary, expect or comment")? {
        "connect" => TcpCheckAction::Connect(connect(line)?),
        kw @ ("send" | "send-lf" | "send-binary" | "send-binary-lf") => {
            let data = line.need(2, "the data to send")?;
            let lf = kw.ends_with("-lf") && data.contains('%');
            if lf {
                log_format(data, &format!("tcp-check {kw}"))?;
            }
            let data = if lf {
                Vec::new()
            } else if kw.starts_with("send-binary") {
                hex(data).map_err(|e| format!("'tcp-check {kw}': {e}"))?
            } else {
                data.as_bytes().to_vec()
            };
            let comment = match (line.arg(3), line.arg(4)) {
                (None, _) => None,
                (Some("comment"), Some(c)) => Some(c.to_string()),
                (Some(o), _) => return Err(format!("'tcp-check {kw}' expects only 'comment' after the data, found '{o}'")),
            };
            if line.arg(5).is_some() {
                return Err(format!("too many arguments to 'tcp-check {kw}'"));
            }
            if lf {
                TcpCheckAction::SendLf {
                    format: line.words[2].to_string(),
                    binary: kw.starts_with("send-binary"),
                    comment,
                }
            } else {
                TcpCheckAction::Send { data, comment }
            }
        }
        "expect" => TcpCheckAction::Expect(expect(line)?),
        "comment" => TcpCheckAction::Comment(line.need(2, "a comment")?.to_string()),
        kw if kw.starts_with("set-var(") || kw.starts_with("set-var-fmt(") || kw.starts_with("unset-var(") => {
            let (scope, name, conditions) = check_var(kw)?;
            if kw.starts_with("set-var") {
                fulcrum_sample::var_uses::note_set(&scope, &name);
            }
            let fmt = kw.starts_with("set-var-fmt(");
            if kw.starts_with("set-var") {
                let expr = line.need(2, if fmt { "a log-format string" } else { "a sample expression" })?;
                if let Some(extra) = line.arg(3) {
                    return Err(format!("'tcp-check {kw}' expects one sample expression, found '{extra}' after it"));
                }
                if fmt {
                    log_format(expr, &format!("tcp-check {kw}"))?;
                } else {
                    sample_expr(expr, &format!("tcp-check {kw}"))?;
                }
                TcpCheckAction::SetVar { scope, name, expr: expr.to_string(), conditions, fmt }
            } else {
                if let Some(extra) = line.arg(2) {
                    return Err(format!("'tcp-check {kw}' takes no argument, found '{extra}'"));
                }
                no_conditions(kw, &conditions)?;
                TcpCheckAction::UnsetVar { scope, name }
            }
        }
        other => {
            return Err(format!(
                "unknown 'tcp-check' action '{other}' (expected connect, send, send-lf, send-binary, send-binary-lf, expect, comment, set-var, set-var-fmt or unset-var)"
            ))
        }
    };
    let first = rules.iter().find(|r| {
        !matches!(
            r.action,
            TcpCheckAction::Comment(_)
                | TcpCheckAction::SetVar { .. }
                | TcpCheckAction::UnsetVar { .. }
        )
    });
    if matches!(action, TcpCheckAction::Connect(_))
        && first.is_some_and(|r| !matches!(r.action, TcpCheckAction::Connect(_)))
    {
        return Err("'tcp-check connect': first step MUST also be a 'connect', optionally preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a 'connect' step in the tcp-check ruleset".into());
    }
    rules.push(TcpCheckRule {
        span: line.span.clone(),
        action,
    });
    Ok(())
}

pub(super) fn connect(line: &Line<'_>) -> Result<TcpCheckConnect, String> {
    let mut c = TcpCheckConnect::default();
    let mut i = 2;
    while let Some(a) = line.arg(i) {
        match a {
            "default" => c.default = true,
            "port" => {
                let p = line.need(i + 1, "a port")?;
                match p.parse::<u16>() {
                    Ok(n) if n > 0 => c.port = Some(n),
                    _ if p.chars().all(|ch| ch.is_ascii_digit()) => {
                        return Err(format!("'{} connect port' expects a port from 1 to 65535, found '{p}'", line.words[0]))
                    }
                    // a sample expression (`var(check.port)`), evaluated when the check runs
                    _ => {
                        sample_expr(p, &format!("{} connect port", line.words[0]))?;
                        c.port_expr = Some(p.to_string());
                    }
                }
                i += 1;
            }
            "addr" => {
                let v = line.need(i + 1, "an IP address")?;
                c.addr = Some(v.parse::<IpAddr>().map_err(|_| format!("'tcp-check connect addr' expects an IP address, found '{v}'"))?);
                i += 1;
            }
            "send-proxy" => c.send_proxy = true,
            "linger" => c.linger = true,
            "comment" => {
                c.comment = Some(line.need(i + 1, "a comment")?.to_string());
                i += 1;
            }
            "ssl" => c.ssl = true,
            "sni" => {
                c.sni = Some(line.need(i + 1, "a server name")?.to_string());
                i += 1;
            }
            "alpn" => {
                c.alpn = line
                    .need(i + 1, "a protocol list")?
                    .split(',')
                    .map(str::to_string)
                    .collect();
                i += 1;
            }
            "proto" => {
                // HAProxy's multiplexers: `none` (raw TCP) for tcp-check, `h1`/`h2`/`fcgi` for
                // http-check; fulcrum's checks speak raw TCP, HTTP/1 or HTTP/2
                let p = line.need(i + 1, "a protocol name")?;
                let http = line.words[0] == "http-check";
                match (http, p) {
                    (false, "none") | (true, "h1") => {}
                    (true, "h2") => c.proto_h2 = true,
                    (true, "fcgi") => {
                        return Err("'http-check connect proto fcgi' is not supported by fulcrum yet (HTTP/1 and HTTP/2 checks only)".to_string())
                    }
                    _ => {
                        return Err(format!("'{} connect' : 'proto' : invalid MUX protocol '{p}' for {}", line.words[0], line.words[0]))
                    }
                }
                i += 1;
            }
            "via-socks4" => c.via_socks4 = true,
            other => return Err(format!("'{} connect' expects default, port, addr, send-proxy, via-socks4, ssl, sni, alpn, proto, linger or comment, found '{other}'", line.words[0])),
        }
        i += 1;
    }
    Ok(c)
}

fn expect(line: &Line<'_>) -> Result<TcpCheckExpect, String> {
    let mut e = TcpCheckExpect {
        negate: false,
        kind: TcpExpectKind::String,
        pattern: String::new(),
        min_recv: None,
        ok_status: None,
        error_status: None,
        tout_status: None,
        on_success: None,
        on_error: None,
        comment: None,
        status_code: None,
    };
    let mut i = 2;
    loop {
        let a = line.need(i, "a match type (string, rstring, binary, rbinary)")?;
        let value = || line.need(i + 1, &format!("a value after '{a}'"));
        match a {
            "!" => e.negate = true,
            "min-recv" => {
                let v = value()?;
                e.min_recv = Some(number(v, "min-recv")?);
                i += 1;
            }
            "ok-status" => {
                e.ok_status = Some(status(value()?, OK_STATUS, a)?);
                i += 1;
            }
            "error-status" => {
                e.error_status = Some(status(value()?, ERROR_STATUS, a)?);
                i += 1;
            }
            "tout-status" => {
                e.tout_status = Some(status(value()?, TOUT_STATUS, a)?);
                i += 1;
            }
            "on-success" | "on-error" => {
                let v = value()?;
                log_format(v, &format!("tcp-check expect {a}"))?;
                if a == "on-success" {
                    e.on_success = Some(v.to_string());
                } else {
                    e.on_error = Some(v.to_string());
                }
                i += 1;
            }
            "comment" => {
                e.comment = Some(value()?.to_string());
                i += 1;
            }
            "status-code" => {
                let v = value()?;
                sample_expr(v, "tcp-check expect status-code")?;
                e.status_code = Some(v.to_string());
                i += 1;
            }
            kind => {
                let (negate, kind) = match kind.strip_prefix('!') {
                    Some(k) => (true, k),
                    None => (false, kind),
                };
                e.negate |= negate;
                e.kind = match kind {
                    "string" => TcpExpectKind::String,
                    "rstring" => TcpExpectKind::Rstring,
                    "binary" => TcpExpectKind::Binary,
                    "rbinary" => TcpExpectKind::Rbinary,
                    "string-lf" => TcpExpectKind::StringLf,
                    "binary-lf" => TcpExpectKind::BinaryLf,
                    other => return Err(format!("'tcp-check expect' expects string, rstring, binary, rbinary, string-lf, binary-lf, min-recv, ok-status, error-status, tout-status, on-success, on-error, status-code, comment or '!', found '{other}'")),
                };
                e.pattern = line
                    .need(i + 1, &format!("a pattern after '{kind}'"))?
                    .to_string();
                if e.kind == TcpExpectKind::Binary {
                    hex(&e.pattern).map_err(|err| format!("'tcp-check expect binary': {err}"))?;
                }
                if matches!(e.kind, TcpExpectKind::Rstring | TcpExpectKind::Rbinary) {
                    regex_check(&e.pattern)?;
                }
                if matches!(e.kind, TcpExpectKind::StringLf | TcpExpectKind::BinaryLf) {
                    log_format(&e.pattern, &format!("tcp-check expect {kind}"))?;
                }
                // options may follow the pattern too
                let mut j = i + 2;
                while let Some(o) = line.arg(j) {
                    match o {
                        "comment" | "on-success" | "on-error" | "min-recv" | "ok-status"
                        | "error-status" | "tout-status" | "status-code" => {
                            j = expect_option(line, j, &mut e)?;
                        }
                        other => {
                            return Err(format!(
                                "unexpected '{other}' after the 'tcp-check expect' pattern"
                            ))
                        }
                    }
                }
                return Ok(e);
            }
        }
        i += 1;
    }
}

fn status(v: &str, allowed: &[&str], kw: &str) -> Result<String, String> {
    status_name(v, allowed, "tcp-check", kw)
}

/// A status name an expect option may set (`ok-status L7OK`).
pub(super) fn status_name(
    v: &str,
    allowed: &[&str],
    rule: &str,
    kw: &str,
) -> Result<String, String> {
    if allowed.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(format!(
            "'{rule} expect {kw}' expects {}, found '{v}'",
            allowed.join(", ")
        ))
    }
}

/// One `KEY VALUE` option after the pattern; returns the index after it.
fn expect_option(line: &Line<'_>, j: usize, e: &mut TcpCheckExpect) -> Result<usize, String> {
    let k = line.need(j, "an option")?;
    let v = line.need(j + 1, &format!("a value after '{k}'"))?;
    match k {
        "comment" => e.comment = Some(v.to_string()),
        "min-recv" => e.min_recv = Some(number(v, "min-recv")?),
        "ok-status" => e.ok_status = Some(status(v, OK_STATUS, k)?),
        "error-status" => e.error_status = Some(status(v, ERROR_STATUS, k)?),
        "tout-status" => e.tout_status = Some(status(v, TOUT_STATUS, k)?),
        "status-code" => {
            sample_expr(v, "tcp-check expect status-code")?;
            e.status_code = Some(v.to_string());
        }
        _ => {
            log_format(v, &format!("tcp-check expect {k}"))?;
            if k == "on-success" {
                e.on_success = Some(v.to_string());
            } else {
                e.on_error = Some(v.to_string());
            }
        }
    }
    Ok(j + 2)
}

// HAProxy 2.6's `set-var` conditions (the sample crate's list).
use fulcrum_sample::var_set::WORDS as SET_VAR_CONDITIONS;

/// A check variable's scope, name and `set-var` conditions from
/// `set-var(SCOPE.NAME[,COND...])` / `unset-var(SCOPE.NAME)`: `check` and `sess` live for one
/// check run (HAProxy's check session), `proc` is the process's (shared with the data plane).
pub(super) fn check_var(kw: &str) -> Result<(String, String, Vec<String>), String> {
    let inner = kw
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .ok_or_else(|| format!("'{kw}': expected set-var(SCOPE.NAME) or unset-var(SCOPE.NAME)"))?;
    let mut parts = inner.split(',');
    let var = parts.next().unwrap_or_default();
    let conditions: Vec<String> = parts.map(|c| c.trim().to_string()).collect();
    if let Some(bad) = conditions
        .iter()
        .find(|c| !SET_VAR_CONDITIONS.contains(&c.as_str()))
    {
        // haproxy: "'set-var' : unknown condition \"ifbogus\""
        return Err(format!(
            "'{kw}': unknown condition \"{bad}\" (expected {})",
            SET_VAR_CONDITIONS.join(", ")
        ));
    }
    let (scope, name) = var
        .split_once('.')
        .filter(|(_, n)| !n.is_empty())
        .ok_or_else(|| format!("'{kw}': a variable is named SCOPE.NAME (e.g. check.port)"))?;
    match scope {
        "check" | "sess" | "proc" => Ok((scope.to_string(), name.to_string(), conditions)),
        other => Err(format!(
            "'{kw}': health checks have the 'check', 'sess' and 'proc' scopes, found '{other}'"
        )),
    }
}

/// `unset-var` takes no condition.
pub(super) fn no_conditions(kw: &str, conditions: &[String]) -> Result<(), String> {
    match conditions.first() {
        None => Ok(()),
        Some(_) => Err(format!("'{kw}': unset-var does not expect parameters after the variable name. Only \"set-var\" and \"set-var-fmt\" manage conditions")),
    }
}

/// A sample expression (`res.payload(0,3)`, `var(check.port)`), checked as the check runs it.
pub(super) fn sample_expr(text: &str, what: &str) -> Result<(), String> {
    fulcrum_sample::expr::compile_with(text, &mut fulcrum_sample::expr::Compiler::for_checks())
        .map(|_| ())
        .map_err(|e| format!("'{what}': {e}"))
}

/// A log-format string with `%[...]` samples, checked as the check renders it.
pub(super) fn log_format(text: &str, what: &str) -> Result<(), String> {
    let mut c = fulcrum_sample::expr::Compiler::for_checks();
    let f = fulcrum_sample::logformat::compile_format_with(text, &mut c)
        .map_err(|e| format!("'{what}': {e}"))?;
    if f.nodes
        .iter()
        .any(|n| matches!(n, fulcrum_sample::logformat::Node::Var(..)))
    {
        return Err(format!("'{what}': only %[...] samples are known in a check's log-format string (no %-variables)"));
    }
    Ok(())
}

fn regex_check(p: &str) -> Result<(), String> {
    // The health crate compiles it; here only the syntax a FILE:LINE error can point at.
    if p.is_empty() {
        return Err("empty regex".into());
    }
    Ok(())
}

/// `send-binary` / `expect binary` hex strings.
pub fn hex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("'{s}' is not an even number of hex digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| format!("'{s}' is not a hex string"))
        })
        .collect()
}

#[cfg(test)]
mod tests;
