//! Keywords of `defaults`, `frontend`, `backend` and `listen` sections.
//!
//! `keyword` dispatches one line to the field it sets, checking that the section may hold it
//! (HAProxy's "capabilities": a `bind` needs a frontend, a `server` a backend). Option-like
//! keywords with many forms live in `options.rs`; servers, binds, ACLs and rules in their files.

use super::line::{number, number_in, Line};
use super::suggest::did_you_mean;
use super::{acl, bind, global, options, rules, server, tcp_rules};
use crate::diagnostics::{Diagnostics, Span};
use crate::model::{
    Balance, Mode, Proxy, ProxyKind, ProxyOptions, Reference, Server, Stats, Timeouts, UseBackend,
};

mod capture;
pub(super) use capture::mark_rule_slots;
mod known;
use known::*;

pub fn new_proxy(name: String, kind: ProxyKind, span: Span) -> Proxy {
    Proxy {
        name,
        kind,
        span,
        defaults: None,
        mode: Mode::Tcp,
        binds: Vec::new(),
        acls: Vec::new(),
        default_backend: None,
        use_backends: Vec::new(),
        balance: Default::default(),
        servers: Vec::new(),
        cookie: None,
        timeouts: Timeouts::default(),
        retries: 3,
        maxconn: None,
        fullconn: None,
        options: ProxyOptions::default(),
        http_check: Default::default(),
        tcp_check: Vec::new(),
        external_check: Default::default(),
        http_request: Vec::new(),
        http_response: Vec::new(),
        http_after_response: Vec::new(),
        tcp_rules: Default::default(),
        log_format: None,
        captures: Vec::new(),
        stick_table: None,
        stick_rules: Vec::new(),
        logs: Vec::new(),
        errorfiles: Vec::new(),
        stats: None,
        source: None,
        monitor_uri: None,
        monitor_fail: Vec::new(),
    }
}

/// A new proxy starting from a `defaults` template: settings are inherited, contents are not.
pub fn inherit(base: &Proxy, name: String, kind: ProxyKind, span: Span) -> Proxy {
    let mut p = base.clone();
    p.name = name;
    p.kind = kind;
    p.span = span;
    p.binds.clear();
    p.acls.clear();
    p.use_backends.clear();
    p.servers.clear();
    // Rules of a named `defaults` section run before the proxy's own (HAProxy 2.5+); the
    // ACLs they name are the section's, kept apart from the proxy's under a name no `acl`
    // line can spell.
    super::defaults_rules::inherit(&mut p, base);
    p.stick_rules.clear();
    p.stick_table = None;
    p.http_check.inherited = !p.http_check.rules.is_empty();
    p
}

pub fn keyword(
    p: &mut Proxy,
    default_server: &mut Server,
    section: Option<ProxyKind>,
    line: &Line<'_>,
    diags: &mut Diagnostics,
) {
    // A frontend's request-side rules run before a backend is chosen: fetches that read it
    // are refused there, as HAProxy 2.6 refuses them.
    let before_backend = section == Some(ProxyKind::Frontend)
        && matches!(
            line.keyword(),
            "http-request" | "tcp-request" | "use_backend" | "redirect" | "monitor"
        );
    let run = |p: &mut Proxy, default_server: &mut Server, diags: &mut Diagnostics| {
        if before_backend {
            fulcrum_sample::expr::before_backend(|| apply(p, default_server, section, line, diags))
        } else {
            apply(p, default_server, section, line, diags)
        }
    };
    // HTTP actions' log-format values: HAProxy 2.6 warns on the layer-6 fetches they read, in
    // any mode (`l6_http`).
    let http_action = matches!(
        line.keyword(),
        "http-request" | "http-response" | "http-after-response"
    );
    let (r, l6) = if http_action {
        fulcrum_sample::l6_uses::with_l6_uses(|| run(p, default_server, diags))
    } else {
        (run(p, default_server, diags), Vec::new())
    };
    match r {
        Ok(()) => super::l6_http::warn_formats(&line.span, &l6, diags),
        Err(msg) => diags.error(&line.span, msg),
    }
}

fn apply(
    p: &mut Proxy,
    default_server: &mut Server,
    section: Option<ProxyKind>,
    line: &Line<'_>,
    diags: &mut Diagnostics,
) -> Result<(), String> {
    let kw = line.keyword();
    let cap = match kw {
        "bind" | "use_backend" | "declare" => Cap::Frontend { defaults_ok: false },
        "default_backend" | "monitor-uri" | "error-log-format" => {
            Cap::Frontend { defaults_ok: true }
        }
        "monitor" => Cap::Frontend { defaults_ok: false },
        "server" | "dispatch" => Cap::Backend { defaults_ok: false },
        "balance" | "default-server" | "cookie" | "http-check" | "tcp-check" | "external-check"
        | "retries" | "retry-on" | "fullconn" | "source" | "http-reuse" => {
            Cap::Backend { defaults_ok: true }
        }
        "acl"
        | "http-request"
        | "http-response"
        | "http-after-response"
        | "tcp-request"
        | "tcp-response" => Cap::ProxyOrNamedDefaults,
        "stick-table" | "stick" => Cap::ProxyOnly,
        _ => Cap::Any,
    };
    let section_name = section.map(ProxyKind::keyword).unwrap_or("defaults");
    let allowed = match (cap, section) {
        (Cap::Any, _) => true,
        (Cap::ProxyOnly, s) => s.is_some(),
        (Cap::ProxyOrNamedDefaults, s) => s.is_some() || !p.name.is_empty(),
        (Cap::Frontend { defaults_ok }, None) | (Cap::Backend { defaults_ok }, None) => defaults_ok,
        (Cap::Frontend { .. }, Some(k)) => k.is_frontend(),
        (Cap::Backend { .. }, Some(k)) => k.is_backend(),
    };
    if !allowed {
        // HAProxy refuses contents that can never work, and ignores settings with a warning.
        let hard = matches!(
            kw,
            "bind"
                | "server"
                | "dispatch"
                | "use_backend"
                | "acl"
                | "http-request"
                | "http-response"
                | "http-after-response"
                | "tcp-request"
                | "tcp-response"
                | "stick"
                | "stick-table"
        );
        let msg = if matches!(cap, Cap::ProxyOrNamedDefaults) {
            format!("'{kw}' is allowed in a 'defaults' section only when it is named ('defaults NAME', used with 'from NAME')")
        } else {
            format!("'{kw}' is not allowed in a '{section_name}' section")
        };
        if hard {
            return Err(msg);
        }
        diags.warning(&line.span, format!("{msg}; ignored"));
        return Ok(());
    }

    match kw {
        "mode" => {
            p.mode = match line.need(1, "'tcp' or 'http'")? {
                "tcp" => Mode::Tcp,
                "http" => Mode::Http,
                "health" => return Err(
                    "'mode health' was removed in HAProxy 2.x; use 'monitor-uri' or a stats page"
                        .into(),
                ),
                other => return Err(format!("'mode' expects 'tcp' or 'http', found '{other}'")),
            };
            line.no_more(2)?;
        }
        "bind" => p.binds.extend(bind::parse(line, diags)?),
        "default_backend" => {
            p.default_backend = Some(Reference {
                name: line.need(1, "a backend name")?.to_string(),
                span: line.span.clone(),
            });
            line.no_more(2)?;
        }
        "use_backend" => {
            let name = line.need(1, "a backend name")?.to_string();
            if name.contains('%') {
                super::logformat::check_rule_value(&name, true, "the backend name")?;
            }
            let condition = match line.arg(2) {
                None => None,
                Some(_) => Some(acl::condition(line, 2)?),
            };
            p.use_backends.push(UseBackend {
                span: line.span.clone(),
                backend: Reference {
                    name,
                    span: line.span.clone(),
                },
                condition,
            });
        }
        "acl" => p.acls.push(acl::parse_named(line)?),
        "balance" => {
            p.balance = options::balance(line)?;
            p.options.keywords.balance_set = true;
            match &p.balance {
                Balance::RdpCookie { .. } => diags.warning(
                    &line.span,
                    "'balance rdp-cookie' is not run by fulcrum yet: connections are balanced round robin (as HAProxy does when the cookie is absent)",
                ),
                Balance::UrlParam { .. } if line.args_from(2).iter().any(|a| a == "check_post") => diags.warning(
                    &line.span,
                    "'balance url_param ... check_post' is not run by fulcrum yet: only the query string is looked at",
                ),
                _ => {}
            }
        }
        "server" => p
            .servers
            .push(server::parse_server(line, default_server, diags)?),
        "dispatch" => super::extras::dispatch(p, line)?,
        "retry-on" => super::extras::retry_on(&mut p.options, line)?,
        "http-reuse" => p.options.http_reuse = super::http_reuse::parse(line)?,
        "default-server" => server::parse_default_server(line, default_server, diags)?,
        "cookie" => p.cookie = Some(options::cookie(line)?),
        "timeout" => options::timeout(&mut p.timeouts, line, diags)?,
        "retries" => {
            p.retries = number_in(line.need(1, "a number of retries")?, "retries", 0, 1000)?
        }
        "maxconn" => p.maxconn = Some(number(line.need(1, "a number of connections")?, "maxconn")?),
        "fullconn" => {
            p.fullconn = Some(number(
                line.need(1, "a number of connections")?,
                "fullconn",
            )?)
        }
        "option" => options::option(p, line, true, diags)?,
        "no" => match line.arg(1) {
            Some("option") => options::option(p, line, false, diags)?,
            Some("log") => p.logs.clear(),
            other => {
                return Err(format!(
                    "'no' expects 'option' or 'log', found '{}'",
                    other.unwrap_or("")
                ))
            }
        },
        "http-check" => {
            // `disable-on-404` and `send-state` are options, not rules: they keep the rules
            let option = matches!(line.arg(1), Some("disable-on-404" | "send-state"));
            if !option && std::mem::take(&mut p.http_check.inherited) {
                p.http_check.rules.clear();
            }
            super::http_check::http_check(&mut p.http_check, line)?
        }
        "tcp-check" => {
            // rules from `defaults` give way to the proxy's own (HAProxy inherits a defaults
            // ruleset only when the proxy has none)
            if p.tcp_check
                .first()
                .is_some_and(|r| r.span.file != p.span.file || r.span.line < p.span.line)
            {
                p.tcp_check.clear();
            }
            super::tcp_check::tcp_check(&mut p.tcp_check, line)?
        }
        "external-check" => match line.need(1, "'command' or 'path'")? {
            "command" => p.external_check.command = Some(line.need(2, "a command")?.to_string()),
            "path" => p.external_check.path = Some(line.need(2, "a PATH")?.to_string()),
            other => {
                return Err(format!(
                    "'external-check' expects 'command' or 'path', found '{other}'"
                ))
            }
        },
        "tcp-request" | "tcp-response" => {
            tcp_rules::parse(&mut p.tcp_rules, section, line)?;
            capture::tcp_content_slot(p, section, line)?;
        }
        "capture" => capture::parse(p, line)?,
        "http-after-response" => p
            .http_after_response
            .push(super::after_response::rule(line)?),
        "unique-id-header" => {
            p.options.unique_id.header = Some(line.need(1, "a header name")?.to_string());
            line.no_more(2)?;
        }
        "unique-id-format" => {
            let text = line.need(1, "a log-format string")?;
            line.no_more(2)?;
            super::logformat::check_unique_id_format(text)?;
            p.options.unique_id.format = Some(text.to_string());
            p.options.unique_id.format_at = Some(line.span.clone());
        }
        "declare" => {
            let response = match (line.arg(1), line.arg(2)) {
                (Some("capture"), Some("request")) => false,
                (Some("capture"), Some("response")) => true,
                _ => return Err("'declare' expects 'capture request|response len N'".into()),
            };
            if line.arg(3) != Some("len") {
                return Err("'declare capture' expects 'len N'".into());
            }
            let len = number_in(line.need(4, "a length")?, "capture len", 1, 65535)? as usize;
            line.no_more(5)?;
            p.captures.push(crate::model::Capture {
                response,
                name: String::new(),
                len,
                sample: true,
            });
        }
        "log-tag" => {
            p.options.log_tag = Some(line.need(1, "a tag")?.to_string());
            line.no_more(2)?;
        }
        "log-format-sd" => {
            let text = line.need(1, "a log-format string")?;
            line.no_more(2)?;
            super::logformat::check_log_format(text)?;
            p.options.log_format_sd = Some(text.to_string());
        }
        "log-format" => {
            let text = line.need(1, "a log-format string")?;
            line.no_more(2)?;
            super::logformat::check_log_format(text)?;
            p.log_format = Some(text.to_string());
        }
        "error-log-format" => {
            let text = line.need(1, "a log-format string")?;
            line.no_more(2)?;
            super::logformat::check_log_format(text)?;
            super::logformat::check_error_log_format(text)?;
            p.options.log.error_log_format = Some(text.to_string());
        }
        "http-request" if line.arg(1) == Some("wait-for-body") => {
            let frontend = matches!(section, Some(ProxyKind::Frontend | ProxyKind::Listen));
            super::wait_body::place(p, line, frontend)?;
        }
        "http-request" => {
            let rule = rules::http_rule(line, true)?;
            if matches!(rule.action, crate::model::HttpAction::SetTimeout { .. })
                && section == Some(ProxyKind::Frontend)
            {
                // As HAProxy 2.6: the timeouts it sets are a backend's.
                return Err(format!(
                    "'http-request set-timeout': proxy '{}' has no backend capability",
                    p.name
                ));
            }
            let mut rule = rule;
            if let crate::model::HttpAction::Capture {
                len,
                slot,
                response: false,
                ..
            } = &mut rule.action
            {
                // `id N` names a slot `declare capture` made; `len N` makes one.
                if *len == usize::MAX {
                    p.http_request.push(rule);
                    return Ok(());
                }
                *slot = capture::new_request_slot(
                    &mut p.captures,
                    &p.name,
                    section,
                    "http-request capture ... len",
                    *len,
                )?;
            }
            p.http_request.push(rule);
        }
        "http-response" if line.arg(1) == Some("wait-for-body") => {
            super::wait_body::place_response(p, line)?;
        }
        "http-response" => p.http_response.push(rules::http_rule(line, false)?),
        "stick-table" => p.stick_table = Some(rules::stick_table(line)?),
        "stick" => p.stick_rules.push(rules::stick_rule(line)?),
        "log" => match line.arg(1) {
            Some("global") => {
                line.no_more(2)?;
                p.logs.push(crate::model::LogTarget {
                    span: line.span.clone(),
                    address: "global".into(),
                    facility: String::new(),
                    level: None,
                    min_level: None,
                    format: None,
                    len: None,
                    sample: None,
                });
            }
            _ => p.logs.push(global::log_target(line)?),
        },
        "errorfile" => super::http_errors::errorfile(&mut p.errorfiles, line)?,
        "stats" => stats(p.stats.get_or_insert_with(Stats::default), line)?,
        "compression" => super::extras::compression(&mut p.options, line)?,
        "source" => p.source = Some(super::source::parse(line, 1, false)?.0),
        "monitor-uri" => {
            let uri = line.need(1, "a URI (e.g. /haproxy_test)")?;
            line.no_more(2)?;
            p.monitor_uri = Some(uri.to_string());
        }
        "monitor" => {
            if line.need(1, "'fail'")? != "fail" {
                return Err(format!(
                    "'monitor' expects 'fail', found '{}'",
                    line.arg(1).unwrap_or("")
                ));
            }
            if line.arg(2).is_none() {
                return Err(
                    "'monitor fail' expects 'if' or 'unless' followed by a condition".into(),
                );
            }
            p.monitor_fail.push(crate::model_cache::MonitorFail {
                span: line.span.clone(),
                condition: acl::condition(line, 2)?,
            });
        }
        _ => {
            if let Some(r) = super::keywords::keyword(p, default_server, section, line, diags) {
                return r;
            }
            if kw == "grace" {
                // HAProxy 2.6's own refusal (a soft stop no longer keeps a proxy serving)
                return Err(
                    "the 'grace' keyword is not supported any more since HAProxy version 2.5."
                        .into(),
                );
            }
            if let Some((_, instead)) = REMOVED.iter().find(|(k, _)| *k == kw) {
                return Err(format!(
                    "'{kw}' was removed in HAProxy 2.x; use '{instead}' instead"
                ));
            }
            if NOT_YET.contains(&kw) {
                return Err(format!(
                    "'{kw}' is not supported by fulcrum yet (ignoring it would change what clients, servers or logs see)"
                ));
            }
            if IGNORED.contains(&kw) {
                diags.warning(
                    &line.span,
                    format!("'{kw}' is not supported by fulcrum yet and is ignored"),
                );
                return Ok(());
            }
            return Err(format!(
                "unknown keyword '{kw}' in '{section_name}' section{}",
                did_you_mean(kw, KNOWN)
            ));
        }
    }
    Ok(())
}

fn stats(s: &mut Stats, line: &Line<'_>) -> Result<(), String> {
    match line.need(1, "a stats keyword such as 'enable' or 'uri'")? {
        "enable" => s.enabled = true,
        "disable" => s.enabled = false,
        "uri" => {
            s.uri = Some(line.need(2, "a URI prefix")?.to_string());
            s.enabled = true;
        }
        "realm" => {
            s.realm = Some(line.need(2, "a realm")?.to_string());
            s.enabled = true;
        }
        "auth" => {
            let cred = line.need(2, "USER:PASSWORD")?;
            let (u, pw) = cred.split_once(':').ok_or_else(|| format!("'stats auth' expects USER:PASSWORD, found '{cred}'"))?;
            s.auth.push((u.to_string(), pw.to_string()));
            s.enabled = true;
        }
        "refresh" => {
            s.refresh = Some(super::line::time(line.need(2, "a time")?, "stats refresh")?);
            s.enabled = true;
        }
        "admin" => s.admin = Some(acl::condition(line, 2)?),
        "hide-version" => s.hide_version = true,
        "show-legends" => s.show_legends = true,
        "scope" => s.scope.push(line.need(2, "a proxy name")?.to_string()),
        "show-node" | "show-desc" | "show-modules" | "http-request" | "bind-process" => {}
        other => return Err(format!("unknown 'stats' keyword '{other}' (expected enable, uri, realm, auth, refresh, admin, hide-version, show-legends or scope)")),
    }
    Ok(())
}
