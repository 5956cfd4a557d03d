//! Compiling `http-request` / `http-response` rules from the model: actions, their
//! conditions, log-format values and the tables they track (`rules::compile`), HAProxy's
//! 401 page for `auth`.

use super::*;
use crate::acl;
use crate::applet::Applet;
use crate::http::errors;
use crate::http::response::Response;
use crate::track::TableRefs;
use fulcrum_config::model::{Acl, CounterAction, HttpAction, HttpRule};
use regex::bytes::Regex;
use std::sync::Arc;

/// Compiles rules; `service` resolves `use-service NAME` (an unknown name is an error).
pub fn compile(
    proxy: &str,
    tarpit: std::time::Duration,
    rules: &[HttpRule],
    acls: &[Acl],
    service: &dyn Fn(&str) -> Option<Arc<dyn Applet>>,
    tables: &TableRefs<'_>,
) -> Result<Vec<Rule>, acl::AclError> {
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        let _at = fulcrum_sample::registry::at(&r.span.file, r.span.line);
        let cond = r
            .condition
            .as_ref()
            .map(|c| acl::compile_condition(c, acls))
            .transpose()?;
        if let Some(op) = super::knobs::compile(&r.action) {
            let op = op.map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?;
            out.push(Rule {
                action: Action::Knob(op),
                cond,
            });
            continue;
        }
        let action = match &r.action {
            // Nothing to run: fulcrum's rewrites do not fail for lack of room.
            HttpAction::StrictMode(_) => continue,
            HttpAction::Reject { silent } => Action::Drop(*silent),
            HttpAction::Allow => Action::Allow,
            HttpAction::Deny { status } => Action::Deny(status.unwrap_or(403)),
            // Added names are written in lower case, as haproxy's HTX stores them (and its
            // HTTP/1 output sends them, `h1-case-adjust` aside).
            HttpAction::SetHeader { name, value } => Action::SetHeader(
                Name::new(name.to_ascii_lowercase().into_bytes()),
                Fmt::parse(value).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
            ),
            HttpAction::AddHeader { name, value } => Action::AddHeader(
                Name::new(name.to_ascii_lowercase().into_bytes()),
                Fmt::parse(value).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
            ),
            HttpAction::DelHeader { name } => {
                Action::DelHeader(Name::new(name.clone().into_bytes()))
            }
            HttpAction::Redirect {
                kind,
                target,
                log_format,
                code,
                drop_query,
                append_slash,
                cookie,
                ignore_empty,
            } => Action::Redirect(super::redirect::Redirect {
                kind: *kind,
                target: target.clone().into_bytes(),
                format: if *log_format {
                    Some(
                        Fmt::parse(target)
                            .map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
                    )
                } else {
                    None
                },
                code: *code,
                drop_query: *drop_query,
                append_slash: *append_slash,
                cookie: cookie.clone().map(String::into_bytes),
                ignore_empty: *ignore_empty,
            }),
            HttpAction::Return {
                status,
                content_type,
                body,
                headers,
            } => Action::Return(reply::compile(
                &r.span.to_string(),
                *status,
                content_type.as_deref(),
                body,
                headers,
            )?),
            HttpAction::DenyReply(d) => Action::DenyReply(reply_of(&r.span.to_string(), d)?),
            HttpAction::SetLine { part, value } => Action::SetLine(
                *part,
                Fmt::parse(value).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
            ),
            HttpAction::ReplaceLine { part, regex, value } => Action::ReplaceLine(
                *part,
                regex_of(regex).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
                Fmt::parse(value).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
            ),
            HttpAction::ReplaceHeader {
                name,
                regex,
                value,
                each,
            } => Action::ReplaceHeader {
                name: name.clone().into_bytes(),
                regex: regex_of(regex).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
                value: Fmt::parse(value).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
                each: *each,
            },
            HttpAction::SetStatus { status, reason } => {
                Action::SetStatus(*status, reason.clone().map(String::into_bytes))
            }
            HttpAction::DelHeaderMatch { name, method } => Action::DelHeaderMatch(
                name.clone().into_bytes(),
                method.clone(),
                if method == "reg" {
                    Some(regex_of(name).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?)
                } else {
                    None
                },
            ),
            HttpAction::Var(v) => Action::Var(
                crate::vars::compile(v).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
            ),
            HttpAction::Counter(c) => {
                counter_action(c, tables).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?
            }
            HttpAction::CacheUse { cache } | HttpAction::CacheStore { cache } => {
                let c = super::super::cache::find(cache).ok_or_else(|| {
                    acl::AclError(format!("{}: unable to find cache '{cache}'", r.span))
                })?;
                if matches!(r.action, HttpAction::CacheUse { .. }) {
                    Action::CacheUse(c)
                } else {
                    Action::CacheStore(c)
                }
            }
            HttpAction::Auth { realm } => {
                let realm = realm.as_deref().unwrap_or(proxy);
                Action::Auth(
                    Arc::new(auth_response(realm)),
                    Arc::new(proxy_auth_response(realm)),
                )
            }
            HttpAction::Tarpit { status, reply } => Action::Tarpit(
                *status,
                tarpit,
                reply
                    .as_ref()
                    .map(|d| reply_of(&r.span.to_string(), d))
                    .transpose()?,
            ),
            HttpAction::SetLogLevel { level } => Action::SetLogLevel(level.unwrap_or(SILENT)),
            HttpAction::MapEdit {
                op,
                file,
                key,
                value,
            } => {
                use fulcrum_config::model::MapEditOp as Op;
                use fulcrum_sample::registry_edit::Edit;
                let err = |e: String| acl::AclError(format!("{}: {e}", r.span));
                let registry = fulcrum_sample::registry::current();
                let map = matches!(op, Op::SetMap | Op::DelMap);
                registry
                    .edited(file, map, || {
                        std::fs::read_to_string(file).map_err(|e| format!("'{file}': {e}"))
                    })
                    .map_err(err)?;
                Action::MapEdit {
                    edit: match op {
                        Op::SetMap => Edit::SetMap,
                        Op::DelMap | Op::DelAcl => Edit::Delete,
                        Op::AddAcl => Edit::AddAcl,
                    },
                    file: file.clone(),
                    key: Fmt::parse(key).map_err(err)?,
                    value: value.as_deref().map(Fmt::parse).transpose().map_err(err)?,
                    registry,
                }
            }
            HttpAction::Capture {
                expr,
                len,
                slot,
                response,
            } => Action::Capture {
                expr: fulcrum_sample::compile(expr)
                    .map_err(|e| acl::AclError(format!("{}: capture '{expr}': {e}", r.span)))?,
                len: *len,
                slot: *slot,
                response: *response,
            },
            HttpAction::SetAddr { part, expr } => Action::SetAddr(
                *part,
                fulcrum_sample::compile(expr)
                    .map_err(|e| acl::AclError(format!("{}: '{expr}': {e}", r.span)))?,
            ),
            HttpAction::SetTimeout {
                tunnel,
                value,
                expr,
            } => Action::SetTimeout(
                *tunnel,
                u64::try_from(value.as_millis()).unwrap_or(u64::MAX - 1),
                match expr {
                    Some(e) => Some(
                        fulcrum_sample::compile(e)
                            .map_err(|x| acl::AclError(format!("{}: '{e}': {x}", r.span)))?,
                    ),
                    None => None,
                },
            ),
            // `http-response wait-for-body` before a proxy's other response rules (the
            // `http-request` ones are split off by the state: `state::BodyWait`).
            HttpAction::WaitForBody(w) => Action::WaitBody(w.clone()),
            HttpAction::Conn(_)
            | HttpAction::DisableL7Retry
            | HttpAction::WaitForHandshake
            | HttpAction::EarlyHint { .. } => {
                return Err(acl::AclError(format!(
                    "{}: this action is not run by fulcrum yet",
                    r.span
                )))
            }
            HttpAction::UseService { name } => match service(name) {
                Some(a) => Action::Service(a),
                None => {
                    return Err(acl::AclError(format!(
                        "{}: {}",
                        r.span,
                        unknown_service(name)
                    )))
                }
            },
        };
        out.push(Rule { action, cond });
    }
    Ok(out)
}

/// HAProxy 2.6's answer to `http-request auth`: its 401 page with a Basic challenge.
pub fn auth_response(realm: &str) -> Response {
    errors::builtin_response(401).field(
        b"www-authenticate",
        format!("Basic realm=\"{realm}\"").as_bytes(),
    )
}

/// The same to a proxy request under `option http-use-proxy-header`: status 407 (reason
/// and page unchanged, as HAProxy 2.6 sends them) with a `proxy-authenticate` challenge.
pub fn proxy_auth_response(realm: &str) -> Response {
    let mut r = errors::builtin_response(401).field(
        b"proxy-authenticate",
        format!("Basic realm=\"{realm}\"").as_bytes(),
    );
    r.head.status = 407;
    r
}

fn reply_of(at: &str, d: &fulcrum_config::model::Reply) -> Result<reply::Reply, acl::AclError> {
    reply::compile(at, d.status, d.content_type.as_deref(), &d.body, &d.headers)
}

fn regex_of(re: &str) -> Result<Regex, String> {
    Regex::new(re).map_err(|e| format!("invalid regular expression '{re}': {e}"))
}

fn counter_action(c: &CounterAction, tables: &TableRefs<'_>) -> Result<Action, String> {
    Ok(match c {
        CounterAction::TrackSc { slot, key, table } => Action::Track {
            slot: usize::from(*slot),
            key: fulcrum_sample::compile(key)
                .map_err(|e| format!("track-sc{slot} key '{key}': {e}"))?,
            table: tables.find(table.as_deref())?,
        },
        other => match crate::track::CounterOp::compile(other) {
            Some(op) => Action::Counter(op?),
            None => return Err("not a counter action".into()),
        },
    })
}
