//! `http-request` / `http-response` rules and `stick-table` / `stick` persistence lines.

use super::acl::{condition, parse_fetch};
use super::line::{number, number_in, time, Line};
use super::suggest::did_you_mean;
use crate::model::{
    Condition, HttpAction, HttpRule, LinePart, RedirectKind, Reference, ReturnBody, StickKeyType,
    StickRule, StickRuleKind, StickTable,
};
use crate::units;

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
];

/// Real actions fulcrum does not run yet: an error, because skipping them would change behaviour.
const UNSUPPORTED: &[&str] = &[
    "add-acl",
    "del-acl",
    "set-map",
    "del-map",
    "silent-drop",
    "reject",
    "wait-for-body",
    "normalize-uri",
    "early-hint",
    "do-resolve",
    "lua",
    "send-spoe-group",
    "set-nice",
    "set-tos",
    "set-mark",
];

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
    let (action, next) = match action_word {
        "allow" => (HttpAction::Allow, 2),
        "deny" => deny_action(line, request)?,
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
            let v = line.need(3, "a time such as 5s")?;
            let value = time(v, "set-timeout").map_err(|e| {
                format!("{e} (a sample expression as the value is not run by fulcrum yet)")
            })?;
            (HttpAction::SetTimeout { tunnel, value }, 4)
        }
        "set-log-level" => {
            let w = line.need(2, "a log level (emerg ... debug, or silent)")?;
            const LEVELS: &[&str] = &[
                "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
            ];
            let level = match w {
                "silent" => None,
                l => Some(LEVELS.iter().position(|x| *x == l).ok_or_else(|| {
                    format!("set-log-level: unknown level '{l}' (emerg, alert, crit, err, warning, notice, info, debug or silent)")
                })? as u8),
            };
            (HttpAction::SetLogLevel { level }, 3)
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
        "tarpit" => {
            if !request {
                return Err("'tarpit' is only valid in 'http-request'".into());
            }
            let (status, content_type, body, headers, i) =
                response_options(line, request, 500, "deny")?;
            if !matches!(body, ReturnBody::None) || !headers.is_empty() || content_type.is_some() {
                return Err(
                    "'http-request tarpit' with a response (string, file, hdr...) is not run by fulcrum yet: use deny_status and errorfile"
                        .into(),
                );
            }
            (HttpAction::Tarpit { status }, i)
        }
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
        other if UNSUPPORTED.contains(&other) => {
            return Err(format!("'{side} {other}' is not supported by fulcrum yet"));
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

/// `redirect location|prefix|scheme VALUE [code N] [drop-query] [append-slash] [set-cookie X] [clear-cookie X]`
fn redirect(line: &Line<'_>) -> Result<(HttpAction, usize), String> {
    let kind = match line.need(2, "location, prefix or scheme")? {
        "location" => RedirectKind::Location,
        "prefix" => RedirectKind::Prefix,
        "scheme" => RedirectKind::Scheme,
        other => {
            return Err(format!(
                "'redirect' expects location, prefix or scheme, found '{other}'"
            ))
        }
    };
    let target = line.need(3, "a target")?.to_string();
    if target.contains('%') {
        return Err(format!(
            "'redirect {}' with a log-format target ('{target}') is not run by fulcrum yet",
            line.words[2]
        ));
    }
    let mut code = 302;
    let (mut drop_query, mut append_slash, mut cookie) = (false, false, None);
    let mut i = 4;
    while let Some(w) = line.arg(i) {
        match w {
            "code" => {
                code = number(line.need(i + 1, "a status code")?, "redirect code")?;
                if ![301, 302, 303, 307, 308].contains(&code) {
                    return Err(format!(
                        "redirect code must be 301, 302, 303, 307 or 308, found {code}"
                    ));
                }
                i += 2;
            }
            "drop-query" => {
                drop_query = true;
                i += 1;
            }
            "append-slash" => {
                append_slash = true;
                i += 1;
            }
            // Only meaningful for log-format targets, which are refused above.
            "ignore-empty" => i += 1,
            "set-cookie" => {
                let c = line.need(i + 1, "a cookie NAME[=VALUE]")?;
                cookie = Some(format!("{c}; path=/;"));
                i += 2;
            }
            "clear-cookie" => {
                let c = line.need(i + 1, "a cookie NAME[=]")?;
                cookie = Some(format!("{c}; path=/; Max-Age=0;"));
                i += 2;
            }
            _ => break,
        }
    }
    Ok((
        HttpAction::Redirect {
            kind,
            target,
            code,
            drop_query,
            append_slash,
            cookie,
        },
        i,
    ))
}

/// `return [status N] [content-type T] [string S|lf-string S|file F|lf-file F|errorfile F|default-errorfiles] [hdr N V]...`
/// `deny [deny_status N] [content-type T] [string S|lf-string S|file F|lf-file F|errorfile F] [hdr N V]...`:
/// without a response option, the proxy's error page for the status; with one, that
/// response (as `return`).
fn deny_action(line: &Line<'_>, request: bool) -> Result<(HttpAction, usize), String> {
    let (status, content_type, body, headers, i) = response_options(line, request, 403, "deny")?;
    if matches!(body, ReturnBody::None) && headers.is_empty() && content_type.is_none() {
        let status = if line
            .args_from(2)
            .iter()
            .any(|w| w == "deny_status" || w == "status")
        {
            Some(status)
        } else {
            None
        };
        return Ok((HttpAction::Deny { status }, i));
    }
    Ok((
        HttpAction::Return {
            status,
            content_type,
            body,
            headers,
        },
        i,
    ))
}

fn return_action(line: &Line<'_>, request: bool) -> Result<(HttpAction, usize), String> {
    let (status, content_type, body, headers, i) = response_options(line, request, 200, "return")?;
    Ok((
        HttpAction::Return {
            status,
            content_type,
            body,
            headers,
        },
        i,
    ))
}

pub(super) type ResponseOptions = (
    u16,
    Option<String>,
    ReturnBody,
    Vec<(String, String)>,
    usize,
);

/// The response options of `return` and `deny`, from word 2.
fn response_options(
    line: &Line<'_>,
    request: bool,
    default_status: u16,
    what: &str,
) -> Result<ResponseOptions, String> {
    response_options_from(line, 2, request, default_status, what)
}

/// The response options from word `i` (`http-error status N ...` reads them from word 1).
pub(super) fn response_options_from(
    line: &Line<'_>,
    mut i: usize,
    request: bool,
    default_status: u16,
    what: &str,
) -> Result<ResponseOptions, String> {
    let mut status = default_status;
    let mut content_type = None;
    let mut body = ReturnBody::None;
    let mut headers = Vec::new();
    while let Some(w) = line.arg(i) {
        match w {
            "errorfiles" => {
                return Err(format!(
                    "'{what} errorfiles' (http-errors sections) is not run by fulcrum yet"
                ))
            }
            "deny_status" if what != "deny" => break,
            "status" | "deny_status" => {
                status = number_in(line.need(i + 1, "a status code")?, "status", 200, 599)? as u16;
                i += 2;
            }
            "content-type" => {
                content_type = Some(line.need(i + 1, "a content type")?.to_string());
                i += 2;
            }
            "string" | "lf-string" | "file" | "lf-file" | "errorfile" => {
                let v = line.need(i + 1, "a value")?.to_string();
                if matches!(w, "file" | "lf-file" | "errorfile") {
                    std::fs::metadata(&v)
                        .map_err(|e| format!("'return {w}': cannot open '{v}': {e}"))?;
                }
                body = match w {
                    "string" => ReturnBody::String(v),
                    "lf-string" => {
                        super::logformat::check_rule_value(&v, request, "the lf-string")?;
                        ReturnBody::LfString(v)
                    }
                    // An lf-file is a log-format string kept in a file: read it now.
                    "lf-file" => {
                        let text = std::fs::read_to_string(&v)
                            .map_err(|e| format!("'return lf-file': cannot read '{v}': {e}"))?;
                        super::logformat::check_rule_value(&text, request, "the lf-file")?;
                        ReturnBody::LfString(text)
                    }
                    "errorfile" => ReturnBody::Errorfile(v),
                    _ => ReturnBody::File(v),
                };
                i += 2;
            }
            "default-errorfiles" => i += 1,
            "hdr" => {
                let n = line.need(i + 1, "a header name")?.to_string();
                let v = line.need(i + 2, "a header value")?.to_string();
                if v.contains('%') {
                    return Err(format!(
                        "'return hdr {n} {v}': log-format in return header values is not run by fulcrum yet"
                    ));
                }
                headers.push((n, v));
                i += 3;
            }
            _ => break,
        }
    }
    if !matches!(body, ReturnBody::None)
        && content_type.is_none()
        && !matches!(body, ReturnBody::Errorfile(_))
    {
        return Err(format!("'{what}' with a body needs a 'content-type'"));
    }
    Ok((status, content_type, body, headers, i))
}

/// `stick-table type T [len N] size N [expire T] [nopurge] [peers P] [store D,...]`
pub fn stick_table(line: &Line<'_>) -> Result<StickTable, String> {
    let mut key_type = None;
    let mut len = None;
    let mut size = None;
    let mut expire = None;
    let mut nopurge = false;
    let mut store = Vec::new();
    let mut peers = None;
    let mut i = 1;
    while let Some(w) = line.arg(i) {
        match w {
            "type" => {
                key_type = Some(match line.need(i + 1, "ip, ipv6, integer, string or binary")? {
                    "ip" => StickKeyType::Ip,
                    "ipv6" => StickKeyType::Ipv6,
                    "integer" => StickKeyType::Integer,
                    "string" => StickKeyType::String,
                    "binary" => StickKeyType::Binary,
                    other => return Err(format!("stick-table type must be ip, ipv6, integer, string or binary, found '{other}'")),
                });
                i += 2;
            }
            "len" => {
                len = Some(number(line.need(i + 1, "a length")?, "len")?);
                i += 2;
            }
            "size" => {
                size = Some(units::parse_size(line.need(i + 1, "a size such as 200k")?)?);
                i += 2;
            }
            "expire" => {
                expire = Some(time(line.need(i + 1, "a time")?, "expire")?);
                i += 2;
            }
            "nopurge" => {
                nopurge = true;
                i += 1;
            }
            "peers" => {
                peers = Some(line.need(i + 1, "the name of a 'peers' section")?.to_string());
                i += 2;
            }
            "srvkey" | "write-to" | "recv-only" => i += if w == "recv-only" { 1 } else { 2 },
            "store" => {
                for item in line.need(i + 1, "data types")?.split(',') {
                    let name = item.split('(').next().unwrap_or(item);
                    if !STORE_TYPES.contains(&name) {
                        return Err(format!("stick-table store: data type '{name}' is not kept by fulcrum yet (it keeps {})", STORE_TYPES.join(", ")));
                    }
                    store.push(item.to_string());
                }
                i += 2;
            }
            other => return Err(format!("unknown stick-table option '{other}' (expected type, len, size, expire, nopurge, peers or store)")),
        }
    }
    let key_type =
        key_type.ok_or("stick-table needs 'type' (ip, ipv6, integer, string or binary)")?;
    let size = size.ok_or("stick-table needs 'size'")?;
    Ok(StickTable {
        span: line.span.clone(),
        key_type,
        len,
        size,
        expire,
        nopurge,
        store,
        peers,
    })
}

/// The `stick-table ... store` data types fulcrum keeps (the proxy's `persist::track`).
pub const STORE_TYPES: &[&str] = &[
    "conn_cnt",
    "conn_cur",
    "conn_rate",
    "http_req_cnt",
    "http_req_rate",
    "http_err_cnt",
    "http_err_rate",
    "gpc0",
    "gpc0_rate",
    "gpc1",
    "gpt0",
    "bytes_in_cnt",
    "bytes_out_cnt",
    "bytes_in_rate",
    "bytes_out_rate",
    "server_id",
];

/// `stick on|match|store-request|store-response PATTERN [table T] [if|unless COND]`
pub fn stick_rule(line: &Line<'_>) -> Result<StickRule, String> {
    let kind = match line.need(1, "on, match, store-request or store-response")? {
        "on" => StickRuleKind::On,
        "match" => StickRuleKind::Match,
        "store-request" => StickRuleKind::StoreRequest,
        "store-response" => StickRuleKind::StoreResponse,
        other => {
            return Err(format!(
                "'stick' expects on, match, store-request or store-response, found '{other}'"
            ))
        }
    };
    let sample = line.need(2, "a sample such as src")?;
    let fetch = parse_fetch(sample)?;
    if sample.contains(',') {
        return Err(format!(
            "converters after a stick rule's sample ('{sample}') are not supported yet"
        ));
    }
    let mut i = 3;
    let mut table = None;
    if line.arg(i) == Some("table") {
        table = Some(Reference {
            name: line.need(i + 1, "a table name")?.to_string(),
            span: line.span.clone(),
        });
        i += 2;
    }
    let condition = cond_at(line, i)?;
    Ok(StickRule {
        span: line.span.clone(),
        kind,
        fetch,
        table,
        condition,
    })
}
