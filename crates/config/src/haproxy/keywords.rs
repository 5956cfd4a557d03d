//! Proxy keywords issue 13 moved from "refused" to "run", each as HAProxy 2.6 reads it:
//! `errorloc` / `errorloc302` / `errorloc303`, `http-error`, `disabled` / `enabled`,
//! `server-template` (expanded into plain servers), `http-send-name-header`, `use-server`,
//! `force-persist` / `ignore-persist`, some `option`s; in `global`,
//! `setenv` / `presetenv` / `resetenv` / `unsetenv`, applied as the line is read (later
//! lines and `.if defined(...)` see them, as in HAProxy).
//!
//! [`keyword`] is called for a proxy keyword the main dispatcher does not know; [`close`]
//! applies `disabled` once every file is read.

use super::line::Line;
use crate::diagnostics::Diagnostics;
use crate::model::{ErrorFile, Proxy, ProxyKind, ReturnBody, Server};
use crate::model_keywords::{EnvOp, ErrorReply};
use std::cell::RefCell;
use std::rc::Rc;

/// The environment changes made by the global section so far.
pub(super) type EnvOps = Rc<RefCell<Vec<EnvOp>>>;

/// A lookup that sees `base` through the changes recorded in the returned list.
pub(super) fn env_with_ops(base: Box<super::EnvFn>) -> (Rc<super::EnvFn>, EnvOps) {
    let ops: EnvOps = Rc::default();
    let seen = ops.clone();
    let env: Rc<super::EnvFn> =
        Rc::new(move |name: &str| EnvOp::lookup(&seen.borrow(), name, || base(name)));
    (env, ops)
}

pub(super) fn is_env(kw: &str) -> bool {
    matches!(kw, "setenv" | "presetenv" | "resetenv" | "unsetenv")
}

/// `setenv NAME VALUE`, `presetenv NAME VALUE` (only when NAME is not set), `unsetenv
/// NAME...`, `resetenv [NAME...]` (keeps only those).
pub(super) fn env(ops: &EnvOps, lookup: &super::EnvFn, line: &Line<'_>) -> Result<(), String> {
    let kw = line.keyword();
    let op = match kw {
        "setenv" | "presetenv" => {
            let name = line.need(1, "a variable name and a value")?;
            let value = line.need(2, "a value")?;
            line.no_more(3)?;
            if kw == "presetenv" && lookup(name).is_some() {
                return Ok(());
            }
            EnvOp::Set(name.to_string(), value.to_string())
        }
        "unsetenv" => {
            line.need(1, "at least one variable name")?;
            let mut ops = ops.borrow_mut();
            for name in line.args_from(1) {
                ops.push(EnvOp::Unset(name.clone()));
            }
            return Ok(());
        }
        _ => EnvOp::Reset(line.args_from(1).to_vec()),
    };
    ops.borrow_mut().push(op);
    Ok(())
}

/// `Some(result)` when `line` is one of this file's keywords.
pub(super) fn keyword(
    p: &mut Proxy,
    default_server: &Server,
    section: Option<ProxyKind>,
    line: &Line<'_>,
    diags: &mut Diagnostics,
) -> Option<Result<(), String>> {
    let kw = line.keyword();
    let backend_only = |what: &str| -> Result<(), String> {
        match section {
            Some(k) if k.is_backend() => Ok(()),
            Some(k) => Err(format!(
                "'{what}' is not allowed in a '{}' section (backend or listen only)",
                k.keyword()
            )),
            None => Err(format!("'{what}' is not allowed in a 'defaults' section")),
        }
    };
    Some(match kw {
        "errorloc" | "errorloc302" | "errorloc303" => errorloc(&mut p.errorfiles, line),
        "http-error" => http_error(&mut p.errorfiles, line),
        "disabled" => line.no_more(1).map(|()| p.options.keywords.disabled = true),
        "id" => proxy_id(p, section, line),
        "enabled" => line
            .no_more(1)
            .map(|()| p.options.keywords.disabled = false),
        "server-template" => backend_only(kw).and_then(|()| {
            let servers = server_template(line, default_server, diags)?;
            p.servers.extend(servers);
            Ok(())
        }),
        "use-server" => backend_only(kw).and_then(|()| {
            let server = line.need(1, "a server name")?.to_string();
            if !matches!(line.arg(2), Some("if" | "unless")) {
                return Err(
                    "'use-server' requires either 'if' or 'unless' followed by a condition".into(),
                );
            }
            let condition = super::acl::condition(line, 2)?;
            p.options
                .keywords
                .use_servers
                .push(crate::model_keywords::UseServer {
                    span: line.span.clone(),
                    server,
                    condition,
                });
            Ok(())
        }),
        "force-persist" | "ignore-persist" => backend_only(kw).and_then(|()| {
            if !matches!(line.arg(1), Some("if" | "unless")) {
                return Err(format!(
                    "'{kw}' requires either 'if' or 'unless' followed by a condition"
                ));
            }
            let condition = super::acl::condition(line, 1)?;
            p.options
                .keywords
                .persist_rules
                .push(crate::model_keywords::PersistRule {
                    force: kw == "force-persist",
                    condition,
                });
            Ok(())
        }),
        "rate-limit" => match section {
            Some(k) if !k.is_frontend() => Err(format!(
                "'rate-limit' is not allowed in a '{}' section (frontend, listen or defaults)",
                k.keyword()
            )),
            _ => (|| {
                if line.need(1, "'sessions'")? != "sessions" {
                    return Err(format!(
                        "'rate-limit' expects 'sessions', found '{}'",
                        line.arg(1).unwrap_or("")
                    ));
                }
                let n: u32 = super::line::number(
                    line.need(2, "a number of sessions per second")?,
                    "rate-limit sessions",
                )?;
                line.no_more(3)?;
                // 0 means no limit, as in HAProxy
                p.options.keywords.rate_limit_sessions = (n > 0).then_some(n);
                Ok(())
            })(),
        },
        "http-send-name-header" => backend_only(kw).and_then(|()| {
            let name = line.need(1, "a header name")?;
            line.no_more(2)?;
            p.options.keywords.send_name_header = Some(name.to_string());
            Ok(())
        }),
        _ => return None,
    })
}

/// `Some(result)` when `option NAME` is one of this file's.
pub(super) fn option(
    o: &mut crate::model::ProxyOptions,
    name: &str,
    line: &Line<'_>,
    base: usize,
    enable: bool,
) -> Option<Result<(), String>> {
    use crate::model_keywords::HdrNamePolicy;
    let k = &mut o.keywords;
    Some(match name {
        "checkcache" => line.no_more(base + 1).map(|()| k.checkcache = enable),
        "http-pretend-keepalive" => line.no_more(base + 1).map(|()| k.pretend_keepalive = enable),
        "http-restrict-req-hdr-names" if !enable => {
            line.no_more(base + 1).map(|()| k.restrict_req_hdr_names = HdrNamePolicy::Preserve)
        }
        "http-restrict-req-hdr-names" => {
            let policy = match line.arg(base + 1) {
                Some("preserve") => HdrNamePolicy::Preserve,
                Some("delete") => HdrNamePolicy::Delete,
                Some("reject") => HdrNamePolicy::Reject,
                _ => {
                    return Some(Err(
                        "'option http-restrict-req-hdr-names' expects 'preserve', 'delete' or 'reject'"
                            .into(),
                    ))
                }
            };
            line.no_more(base + 2).map(|()| k.restrict_req_hdr_names = policy)
        }
        // HAProxy 2.7 added it: 2.6 refuses the line as an unknown option, so does fulcrum.
        "forwarded" => Err(
            "unknown option 'forwarded' (HAProxy 2.6 has no 'option forwarded': it came with 2.7; use 'option forwardfor' or 'http-request set-header Forwarded ...')"
                .into(),
        ),
        "transparent" => Err(
            "'option transparent' is not supported by fulcrum: it needs TPROXY routing (connections to the client's original destination), which fulcrum does not set up".into(),
        ),
        _ => return None,
    })
}

/// A disabled proxy does not serve (HAProxy 2.6 does not start it): no listener, and a
/// backend without servers (a request routed there gets 503, as from haproxy).
pub(super) fn close(proxies: &mut [Proxy]) {
    for p in proxies.iter_mut().filter(|p| p.options.keywords.disabled) {
        p.binds.clear();
        p.servers.clear();
    }
}

/// `errorloc[302|303] CODE URL`: the error page for CODE becomes a redirect to URL.
fn errorloc(list: &mut Vec<ErrorFile>, line: &Line<'_>) -> Result<(), String> {
    let kw = line.keyword();
    let status = super::http_errors::status(line.need(1, "an HTTP status code")?, kw)?;
    let url = line.need(2, "a URL")?.to_string();
    line.no_more(3)?;
    let code = if kw == "errorloc303" { 303 } else { 302 };
    list.retain(|e| e.status != status);
    list.push(ErrorFile {
        span: line.span.clone(),
        status,
        path: String::new(),
        reply: Some(ErrorReply::Location { code, url }),
    });
    Ok(())
}

/// `http-error status CODE [content-type T] [string S|file F|lf-string S|lf-file F|errorfile
/// F|errorfiles NAME|default-errorfiles] [hdr NAME VALUE]...`: the error page for CODE,
/// wherever the proxy answers it (log-format parts rendered per answer).
fn http_error(list: &mut Vec<ErrorFile>, line: &Line<'_>) -> Result<(), String> {
    if line.arg(1) != Some("status") {
        return Err("'http-error' expects 'status' followed by an HTTP status code".into());
    }
    let status = super::http_errors::status(line.need(2, "an HTTP status code")?, "http-error")?;
    let (_, content_type, body, headers, end) =
        super::rules::response_options_from(line, 1, true, status, "http-error")?;
    if let Some(extra) = line.arg(end) {
        return Err(format!(
            "'http-error': unexpected '{extra}' (expected content-type, string, file, errorfile, default-errorfiles or hdr)"
        ));
    }
    let (path, reply) = match body {
        // resolved once every `http-errors` section is read (`http_errors::resolve_rules`)
        ReturnBody::Errorfiles(name) => (String::new(), ErrorReply::Section(name)),
        // rendered per answer, as haproxy 2.6 (the `hdr` values too)
        ReturnBody::LfString(text) => (
            String::new(),
            ErrorReply::Reply {
                content_type,
                body: Vec::new(),
                headers,
                lf_body: Some(text),
            },
        ),
        ReturnBody::Errorfile(f) => (f, ErrorReply::File),
        // `default-errorfiles` or nothing, without headers: the built-in page
        ReturnBody::None if headers.is_empty() && content_type.is_none() => {
            list.retain(|e| e.status != status);
            return Ok(());
        }
        ReturnBody::None => (
            String::new(),
            ErrorReply::Reply {
                content_type,
                body: Vec::new(),
                headers,
                lf_body: None,
            },
        ),
        ReturnBody::String(s) => (
            String::new(),
            ErrorReply::Reply {
                content_type,
                body: s.into_bytes(),
                headers,
                lf_body: None,
            },
        ),
        ReturnBody::File(f) => {
            let body = std::fs::read(&f)
                .map_err(|e| format!("'http-error file': cannot read '{f}': {e}"))?;
            (
                String::new(),
                ErrorReply::Reply {
                    content_type,
                    body,
                    headers,
                    lf_body: None,
                },
            )
        }
    };
    list.retain(|e| e.status != status);
    list.push(ErrorFile {
        span: line.span.clone(),
        status,
        path,
        reply: Some(reply),
    });
    Ok(())
}

/// `server-template PREFIX NUM|FIRST-LAST ADDRESS[:PORT] [options]`: servers PREFIX<n> for n
/// in 1..=NUM (or FIRST..=LAST), all at ADDRESS. Without a `resolvers` section HAProxy
/// resolves a name once at start, so every server of the template gets the same address:
/// fulcrum does the same (the name is resolved like any server's).
fn server_template(
    line: &Line<'_>,
    template: &Server,
    diags: &mut Diagnostics,
) -> Result<Vec<Server>, String> {
    let prefix = line.need(1, "a server name prefix")?;
    let range = line.need(2, "a number of servers or a range such as 1-5")?;
    line.need(3, "an address such as backend.example.com:80")?;
    let bad = || {
        format!("'server-template {prefix}': '{range}' is not a number of servers or a range FIRST-LAST (1 or more, FIRST <= LAST)")
    };
    let (first, last) = match range.split_once('-') {
        Some((a, b)) => (
            a.parse::<u32>().map_err(|_| bad())?,
            b.parse::<u32>().map_err(|_| bad())?,
        ),
        None => (1, range.parse::<u32>().map_err(|_| bad())?),
    };
    if first == 0 || last < first || last - first >= 65536 {
        return Err(bad());
    }
    let mut out = Vec::new();
    for n in first..=last {
        let mut words: Vec<String> = vec!["server".into(), format!("{prefix}{n}")];
        words.extend(line.args_from(3).iter().cloned());
        // the address keeps its index (2): shift the undefined-variable marks by one
        let undefined: Vec<(usize, String)> = line
            .undefined
            .iter()
            .filter(|(w, _)| *w >= 3)
            .map(|(w, v)| (w - 1, v.clone()))
            .collect();
        let one = Line {
            words: &words,
            span: line.span.clone(),
            undefined: &undefined,
            env: line.env,
            paths: line.paths,
        };
        out.push(super::server::parse_server(&one, template, diags)?);
    }
    Ok(out)
}

/// `id N` of a proxy (not in `defaults`).
fn proxy_id(p: &mut Proxy, section: Option<ProxyKind>, line: &Line<'_>) -> Result<(), String> {
    if section.is_none() {
        return Err("'id' is not allowed in a 'defaults' section".into());
    }
    let v = line.need(1, "a positive integer")?;
    line.no_more(2)?;
    match v.parse::<u32>() {
        Ok(n) if (1..=i32::MAX as u32).contains(&n) => {
            p.options.keywords.id = Some(n);
            Ok(())
        }
        _ => Err(format!("'id' expects a positive integer, found '{v}'")),
    }
}
