//! `http-request` / `http-response` rules and `stick-table` / `stick` persistence lines.

use super::acl::condition;
use super::line::{number_in, time, Line};
use super::suggest::did_you_mean;
use crate::model::{Condition, HttpAction, HttpRule, LinePart};

mod stick;
pub use stick::{stick_rule, stick_table};

mod answers;
pub mod conn;
pub(super) use answers::response_options_from;
use answers::{deny_action, redirect, return_action, tarpit_action};

const ACTIONS: &[&str] = &[
    "allow",
    "deny",
    "set-header",
    "add-header",
    "del-header",
    "redirect",
    "return",
    "use-service",
    "cache-use",
    "cache-store",
    "strict-mode",
    "set-map",
    "del-map",
    "add-acl",
    "del-acl",
];

/// Real actions fulcrum does not run yet: an error, because skipping them would change behaviour.
const UNSUPPORTED: &[&str] = &[
    "wait-for-body",
    "normalize-uri",
    "do-resolve",
    "lua",
    "send-spoe-group",
];

/// `set-map(FILE) KEY VALUE`, `del-map(FILE) KEY`, `add-acl(FILE) KEY`, `del-acl(FILE) KEY`.
fn map_edit(line: &Line<'_>, request: bool) -> Result<Option<(HttpAction, usize)>, String> {
    use crate::model::MapEditOp;
    let word = line.need(1, "an action")?;
    let Some((name, rest)) = word.split_once('(') else {
        return Ok(None);
    };
    let op = match name {
        "set-map" => MapEditOp::SetMap,
        "del-map" => MapEditOp::DelMap,
        "add-acl" => MapEditOp::AddAcl,
        "del-acl" => MapEditOp::DelAcl,
        _ => return Ok(None),
    };
    let file = rest
        .strip_suffix(')')
        .filter(|f| !f.is_empty())
        .ok_or_else(|| format!("'{word}': expected {name}(FILE)"))?
        .to_string();
    let key = line.need(2, "a key (log-format string)")?.to_string();
    super::logformat::check_rule_value(&key, request, "the key")?;
    let (value, next) = if op == MapEditOp::SetMap {
        let v = line.need(3, "a value (log-format string)")?.to_string();
        super::logformat::check_rule_value(&v, request, "the value")?;
        (Some(v), 4)
    } else {
        (None, 3)
    };
    Ok(Some((
        HttpAction::MapEdit {
            op,
            file,
            key,
            value,
        },
        next,
    )))
}

/// Why an action is not run, where a word helps (`do-resolve`: no DNS resolver).
pub(super) fn not_run_reason(action: &str) -> &'static str {
    match action.split('(').next().unwrap_or(action) {
        "do-resolve" => {
            ": fulcrum has no DNS resolver ('resolvers' sections are not run; names are resolved once at start)"
        }
        "lua" => ": Lua is not run by fulcrum",
        a if a.starts_with("lua.") => ": Lua is not run by fulcrum",
        _ => "",
    }
}

pub fn http_rule(line: &Line<'_>, request: bool) -> Result<HttpRule, String> {
    let side = if request {
        "http-request"
    } else {
        "http-response"
    };
    let action_word = line.need(1, "an action such as set-header, deny or redirect")?;
    let available = if request {
        fulcrum_sample::fetch::Needs::Request
    } else {
        fulcrum_sample::fetch::Needs::Response
    };
    if let Some((v, next)) = super::vars::parse(line, 1, available)? {
        return Ok(HttpRule {
            span: line.span.clone(),
            action: HttpAction::Var(v),
            condition: cond_at(line, next)?,
        });
    }
    if let Some((c, next)) = super::counters::parse(line, 1, available)? {
        return Ok(HttpRule {
            span: line.span.clone(),
            action: HttpAction::Counter(c),
            condition: cond_at(line, next)?,
        });
    }
    let place = if request {
        conn::Place::Request
    } else {
        conn::Place::Response
    };
    if let Some((c, next)) = conn::parse(line, 1, place, side)? {
        return Ok(HttpRule {
            span: line.span.clone(),
            action: HttpAction::Conn(c),
            condition: cond_at(line, next)?,
        });
    }
    if let Some(r) = map_edit(line, request)? {
        return Ok(HttpRule {
            span: line.span.clone(),
            action: r.0,
            condition: cond_at(line, r.1)?,
        });
    }
    let (action, next) = match action_word {
        "allow" => (HttpAction::Allow, 2),
        "reject" if request => (HttpAction::Reject { silent: false }, 2),
        "silent-drop" => (HttpAction::Reject { silent: true }, 2),
        "strict-mode" => match line.need(2, "on or off")? {
            "on" => (HttpAction::StrictMode(true), 3),
            "off" => (HttpAction::StrictMode(false), 3),
            other => return Err(format!("'strict-mode' expects on or off, found '{other}'")),
        },
        "deny" => deny_action(line, request)?,
        "disable-l7-retry" if request => (HttpAction::DisableL7Retry, 2),
        "wait-for-handshake" if request => (HttpAction::WaitForHandshake, 2),
        "early-hint" if request => {
            let name = line.need(2, "a header name")?.to_string();
            let value = line.need(3, "a value (log-format string)")?.to_string();
            super::logformat::check_rule_value(&value, request, "the early hint value")?;
            (HttpAction::EarlyHint { name, value }, 4)
        }
        "set-header" | "add-header" => {
            let name = line.need(2, "a header name")?.to_string();
            let value = line.need(3, "a value (log-format string)")?.to_string();
            super::logformat::check_rule_value(&value, request, "the header value")?;
            let a = if action_word == "set-header" {
                HttpAction::SetHeader { name, value }
            } else {
                HttpAction::AddHeader { name, value }
            };
            (a, 4)
        }
        "del-header" => {
            let name = line.need(2, "a header name")?.to_string();
            if line.arg(3) == Some("-m") {
                let m = line.need(4, "a match method: str, beg, end, sub or reg")?;
                match m {
                    "str" => (HttpAction::DelHeader { name }, 5),
                    "beg" | "end" | "sub" | "reg" => {
                        if m == "reg" {
                            check_regex(&name).map_err(|e| format!("del-header -m reg: {e}"))?;
                        }
                        let method = m.to_string();
                        (HttpAction::DelHeaderMatch { name, method }, 5)
                    }
                    other => {
                        return Err(format!(
                            "del-header: unknown match method '{other}' (str, beg, end, sub or reg)"
                        ))
                    }
                }
            } else {
                (HttpAction::DelHeader { name }, 3)
            }
        }
        "set-method" | "set-path" | "set-pathq" | "set-query" | "set-uri" => {
            if !request {
                return Err(format!("'{action_word}' is only valid in 'http-request'"));
            }
            let part = line_part(action_word);
            let value = line.need(2, "a value (log-format string)")?.to_string();
            super::logformat::check_rule_value(&value, request, "the value")?;
            (HttpAction::SetLine { part, value }, 3)
        }
        "replace-path" | "replace-pathq" | "replace-uri" => {
            if !request {
                return Err(format!("'{action_word}' is only valid in 'http-request'"));
            }
            let part = line_part(action_word);
            let regex = line.need(2, "a regular expression")?.to_string();
            check_regex(&regex).map_err(|e| format!("{action_word}: {e}"))?;
            let value = line
                .need(3, "a replacement (log-format string)")?
                .to_string();
            super::logformat::check_rule_value(&value, request, "the replacement")?;
            (HttpAction::ReplaceLine { part, regex, value }, 4)
        }
        "replace-header" | "replace-value" => {
            let name = line.need(2, "a header name")?.to_string();
            let regex = line.need(3, "a regular expression")?.to_string();
            check_regex(&regex).map_err(|e| format!("{action_word}: {e}"))?;
            let value = line
                .need(4, "a replacement (log-format string)")?
                .to_string();
            super::logformat::check_rule_value(&value, request, "the replacement")?;
            let each = action_word == "replace-value";
            (
                HttpAction::ReplaceHeader {
                    name,
                    regex,
                    value,
                    each,
                },
                5,
            )
        }
        "set-status" => {
            if request {
                return Err("'set-status' is only valid in 'http-response'".into());
            }
            let status = number_in(line.need(2, "a status code")?, "set-status", 100, 999)? as u16;
            let (reason, next) = if line.arg(3) == Some("reason") {
                (Some(line.need(4, "a reason phrase")?.to_string()), 5)
            } else {
                (None, 3)
            };
            (HttpAction::SetStatus { status, reason }, next)
        }
        "redirect" => redirect(line)?,
        "set-src" | "set-dst" | "set-src-port" | "set-dst-port" if request => {
            let part = match action_word {
                "set-src" => crate::model::AddrPart::Src,
                "set-dst" => crate::model::AddrPart::Dst,
                "set-src-port" => crate::model::AddrPart::SrcPort,
                _ => crate::model::AddrPart::DstPort,
            };
            let expr = line.need(2, "a sample expression")?.to_string();
            let mut compiler = fulcrum_sample::expr::Compiler::default()
                .with_available(fulcrum_sample::fetch::Needs::Request);
            let compiled = fulcrum_sample::expr::compile_with(&expr, &mut compiler)
                .map_err(|e| format!("{action_word} '{expr}': {e}"))?;
            super::logformat::check_answered(compiled.fetch.kw.name)
                .map_err(|e| format!("{action_word} '{expr}': {e}"))?;
            (HttpAction::SetAddr { part, expr }, 3)
        }
        "capture" => {
            let expr = line.need(2, "a sample expression")?.to_string();
            let available = if request {
                fulcrum_sample::fetch::Needs::Request
            } else {
                fulcrum_sample::fetch::Needs::Response
            };
            let mut compiler = fulcrum_sample::expr::Compiler::default().with_available(available);
            let compiled = fulcrum_sample::expr::compile_with(&expr, &mut compiler)
                .map_err(|e| format!("capture '{expr}': {e}"))?;
            super::logformat::check_answered(compiled.fetch.kw.name)
                .map_err(|e| format!("capture '{expr}': {e}"))?;
            match line.arg(3) {
                Some("len") if request => {
                    let len =
                        number_in(line.need(4, "a length")?, "capture len", 1, 65535)? as usize;
                    let response = false;
                    let slot = 0;
                    (
                        HttpAction::Capture {
                            expr,
                            len,
                            slot,
                            response,
                        },
                        5,
                    )
                }
                Some("id") => {
                    let slot =
                        number_in(line.need(4, "a capture id")?, "capture id", 0, 65535)? as usize;
                    let (len, response) = (usize::MAX, !request);
                    (
                        HttpAction::Capture {
                            expr,
                            len,
                            slot,
                            response,
                        },
                        5,
                    )
                }
                _ if request => {
                    return Err("'http-request capture SAMPLE' expects 'len N' or 'id N'".into())
                }
                _ => return Err("'http-response capture SAMPLE' expects 'id N'".into()),
            }
        }
        "set-timeout" => {
            if !request {
                return Err("'set-timeout' is only valid in 'http-request'".into());
            }
            let tunnel = match line.need(2, "'server' or 'tunnel'")? {
                "server" => false,
                "tunnel" => true,
                "client" => {
                    return Err(
                        "'set-timeout client' is not in HAProxy 2.6 (server or tunnel)".into(),
                    )
                }
                other => {
                    return Err(format!(
                        "set-timeout: expected 'server' or 'tunnel', found '{other}'"
                    ))
                }
            };
            // A time, else (as haproxy 2.6) a sample expression giving milliseconds.
            let v = line.need(3, "a time such as 5s, or a sample expression")?;
            let (value, expr) = match time(v, "set-timeout") {
                Ok(t) => (t, None),
                Err(_) => {
                    let mut c = fulcrum_sample::expr::Compiler::default()
                        .with_available(fulcrum_sample::fetch::Needs::Request);
                    let e = fulcrum_sample::expr::compile_with(v, &mut c).map_err(|e| {
                        format!("set-timeout: '{v}' is neither a time such as '5s' nor a sample expression (column {}: {})", e.col, e.msg)
                    })?;
                    super::logformat::check_answered(e.fetch.kw.name)
                        .map_err(|e| format!("set-timeout '{v}': {e}"))?;
                    (std::time::Duration::ZERO, Some(v.to_string()))
                }
            };
            (
                HttpAction::SetTimeout {
                    tunnel,
                    value,
                    expr,
                },
                4,
            )
        }
        "set-log-level" => {
            let w = line.need(2, "a log level (emerg ... debug, or silent)")?;
            (
                HttpAction::SetLogLevel {
                    level: log_level(w)?,
                },
                3,
            )
        }
        "auth" => {
            if !request {
                return Err("'auth' is only valid in 'http-request'".into());
            }
            match line.arg(2) {
                Some("realm") => (
                    HttpAction::Auth {
                        realm: Some(line.need(3, "a realm")?.to_string()),
                    },
                    4,
                ),
                _ => (HttpAction::Auth { realm: None }, 2),
            }
        }
        "tarpit" => tarpit_action(line, request)?,
        "return" => return_action(line, request)?,
        "use-service" => {
            if !request {
                return Err("'use-service' is only valid in 'http-request'".into());
            }
            let name = line
                .need(2, "a service name such as prometheus-exporter")?
                .to_string();
            (HttpAction::UseService { name }, 3)
        }
        "cache-use" | "cache-store" => {
            let store = action_word == "cache-store";
            if store == request {
                let (want, other) = if store {
                    ("http-response", "cache-use")
                } else {
                    ("http-request", "cache-store")
                };
                return Err(format!(
                    "'{side} {action_word}' is not valid: '{action_word}' is an '{want}' action ('{side}' has '{other}')"
                ));
            }
            let cache = match line.arg(2) {
                Some(n) if n != "if" && n != "unless" => n.to_string(),
                _ => return Err(format!("'{action_word}' expects a cache name")),
            };
            let action = if store {
                HttpAction::CacheStore { cache }
            } else {
                HttpAction::CacheUse { cache }
            };
            (action, 3)
        }
        other if UNSUPPORTED.contains(&other.split('(').next().unwrap_or(other)) => {
            return Err(format!(
                "'{side} {other}' is not supported by fulcrum yet{}",
                not_run_reason(other)
            ));
        }
        other => {
            return Err(format!(
                "unknown '{side}' action '{other}'{}",
                did_you_mean(other, ACTIONS)
            ))
        }
    };
    let condition = cond_at(line, next)?;
    Ok(HttpRule {
        span: line.span.clone(),
        action,
        condition,
    })
}

/// `set-log-level`'s level: 0 (emerg) .. 7 (debug), `None` for `silent`.
pub(super) fn log_level(w: &str) -> Result<Option<u8>, String> {
    const LEVELS: &[&str] = &[
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ];
    match w {
        "silent" => Ok(None),
        l => Ok(Some(LEVELS.iter().position(|x| *x == l).ok_or_else(|| {
            format!("set-log-level: unknown level '{l}' (emerg, alert, crit, err, warning, notice, info, debug or silent)")
        })? as u8)),
    }
}

/// A regular expression's compile error, if any (the sample engine's regex flavour).
fn check_regex(re: &str) -> Result<(), String> {
    use fulcrum_sample::pattern::{Method, Patterns};
    Patterns::parse(Method::Reg, false, &[re.to_string()]).map(|_| ())
}

fn line_part(action: &str) -> LinePart {
    match action.rsplit('-').next().unwrap_or("") {
        "method" => LinePart::Method,
        "pathq" => LinePart::Pathq,
        "query" => LinePart::Query,
        "uri" => LinePart::Uri,
        _ => LinePart::Path,
    }
}

fn cond_at(line: &Line<'_>, i: usize) -> Result<Option<Condition>, String> {
    match line.arg(i) {
        None => Ok(None),
        Some("if" | "unless") => condition(line, i).map(Some),
        Some(other) => Err(format!(
            "unexpected '{other}' (expected 'if', 'unless' or the end of the line)"
        )),
    }
}
