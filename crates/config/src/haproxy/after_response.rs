//! `http-after-response` rules (HAProxy 2.2+): run on every answer sent to the client, the
//! server's (after the `http-response` rules) and the proxy's own (errors, `return`,
//! redirects, `auth`), the backend's rules then the frontend's. HAProxy 2.6 allows only the
//! actions below there; any other is refused with HAProxy's list.
//!
//! The request's content (its path, URL, headers, cookies, body) is no longer there when these
//! rules and the `http-response` ones run in HAProxy 2.6: a value or an expression reading it
//! is refused (`%[path]`, `set-var(txn.p) path`), and a condition term reading it never
//! matches, with HAProxy's warning ([`never_matching`]).

use super::line::Line;
use crate::diagnostics::Diagnostics;
use crate::model::{AclRef, Condition, HttpAction, HttpRule, Proxy, Reference};

/// Whether fetch (or ACL keyword: `path_beg`, `hdr_dom`... stand for their fetch) `name`
/// reads the request's content, as the sample crate's keyword table says
/// ([`fulcrum_sample::fetch::FetchKw::reads_request_content`]).
pub fn reads_request_content(name: &str) -> bool {
    let base = fulcrum_sample::acl::keyword(name).map_or(name, |(b, _)| b);
    fulcrum_sample::fetch::lookup(base).is_some_and(|k| k.reads_request_content())
}

/// The actions HAProxy 2.6 accepts in `http-after-response`.
const ALLOWED: &str = "'add-header', 'allow', 'capture', 'del-header', 'replace-header', 'replace-value', 'set-header', 'set-status', 'strict-mode', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)'";

/// One `http-after-response` line.
pub fn rule(line: &Line<'_>) -> Result<HttpRule, String> {
    let word = line.need(1, "an action such as set-header")?;
    let refused = || format!("'http-after-response' expects {ALLOWED}, but got '{word}'");
    let base = word.split('(').next().unwrap_or(word);
    if !matches!(
        base,
        "add-header"
            | "allow"
            | "capture"
            | "del-header"
            | "replace-header"
            | "replace-value"
            | "set-header"
            | "set-status"
            | "strict-mode"
            | "set-var-fmt"
            | "set-var"
            | "unset-var"
    ) {
        return Err(refused());
    }
    let r = super::rules::http_rule(line, false)?;
    match &r.action {
        HttpAction::Allow
        | HttpAction::SetHeader { .. }
        | HttpAction::AddHeader { .. }
        | HttpAction::DelHeader { .. }
        | HttpAction::DelHeaderMatch { .. }
        | HttpAction::ReplaceHeader { .. }
        | HttpAction::SetStatus { .. }
        | HttpAction::StrictMode(_)
        | HttpAction::Var(_)
        | HttpAction::Capture { .. } => Ok(r),
        _ => Err(refused()),
    }
}

/// The log-format strings and the sample expressions of an action: `(text, is_format)`.
fn texts(a: &HttpAction) -> Vec<(&str, bool)> {
    use crate::model::{CounterAction, VarAction};
    match a {
        HttpAction::SetHeader { value, .. }
        | HttpAction::AddHeader { value, .. }
        | HttpAction::ReplaceHeader { value, .. } => vec![(value.as_str(), true)],
        HttpAction::Var(VarAction::Set { expr, .. }) => vec![(expr.as_str(), false)],
        HttpAction::Var(VarAction::SetFmt { format, .. }) => vec![(format.as_str(), true)],
        HttpAction::Counter(CounterAction::TrackSc { key, .. }) => vec![(key.as_str(), false)],
        HttpAction::Return { body, headers, .. } => reply(body, headers),
        HttpAction::DenyReply(r) => reply(&r.body, &r.headers),
        _ => Vec::new(),
    }
}

fn reply<'a>(
    body: &'a crate::model::ReturnBody,
    headers: &'a [(String, String)],
) -> Vec<(&'a str, bool)> {
    let mut v: Vec<(&str, bool)> = headers.iter().map(|(_, h)| (h.as_str(), true)).collect();
    if let crate::model::ReturnBody::LfString(t) = body {
        v.push((t.as_str(), true));
    }
    v
}

/// A value or expression reading the request's content is refused, as HAProxy 2.6 refuses
/// it in response rules.
fn check_text(text: &str, is_format: bool, rule: &str) -> Result<(), String> {
    let names: Vec<&'static str> = if is_format {
        let Ok(format) = fulcrum_sample::compile_format(text) else {
            return Ok(()); // reported by the rule's own check
        };
        format
            .nodes
            .iter()
            .filter_map(|n| match n {
                fulcrum_sample::logformat::Node::Expr(e, _) => Some(e.fetch.kw.name),
                _ => None,
            })
            .collect()
    } else {
        match fulcrum_sample::compile(text) {
            Ok(e) => vec![e.fetch.kw.name],
            Err(_) => return Ok(()),
        }
    };
    match names.into_iter().find(|n| reads_request_content(n)) {
        Some(name) => Err(format!("'{rule}': sample fetch '{name}' may not be used here because it needs the HTTP request's content, which is not available in response rules (as HAProxy 2.6)")),
        None => Ok(()),
    }
}

/// HAProxy 2.6 in `http-response` and `http-after-response` rules: a value or expression
/// reading the request's content is an error; in a condition, an anonymous ACL, or a named
/// one whose every term reads it, never matches (its fetch has no value there), with
/// HAProxy's warning. Such terms become the predefined `FALSE` (a negation stays one).
pub fn never_matching(proxies: &mut [Proxy], diags: &mut Diagnostics) {
    for p in proxies {
        let rule_kind = if p.kind.is_frontend() {
            "frontend"
        } else {
            "backend"
        };
        let named_dead: Vec<String> = {
            let mut names: Vec<&str> = p.acls.iter().map(|a| a.name.as_str()).collect();
            names.dedup();
            names
                .into_iter()
                .filter(|n| {
                    p.acls
                        .iter()
                        .filter(|a| a.name == *n)
                        .all(|a| reads_request_content(&a.fetch.name))
                })
                .map(str::to_string)
                .collect()
        };
        for (list, word) in [
            (&mut p.http_response, "http-response"),
            (&mut p.http_after_response, "http-after-response"),
        ] {
            list.retain_mut(|r| {
                for (text, is_format) in texts(&r.action) {
                    if let Err(e) = check_text(text, is_format, word) {
                        diags.error(&r.span, e);
                        return false;
                    }
                }
                if let Some(c) = r.condition.as_mut() {
                    kill_terms(c, &named_dead, rule_kind, &r.span, diags);
                }
                true
            });
        }
    }
}

fn kill_terms(
    c: &mut Condition,
    named_dead: &[String],
    rule_kind: &str,
    span: &crate::diagnostics::Span,
    diags: &mut Diagnostics,
) {
    for term in c.any_of.iter_mut().flatten() {
        let dead = match &term.acl {
            AclRef::Anonymous(a) if reads_request_content(&a.fetch.name) => {
                diags.warning(span, format!("anonymous acl will never match because it uses keyword '{}' which is incompatible with '{rule_kind} http-response header rule' (as HAProxy 2.6)", a.fetch.name));
                true
            }
            AclRef::Named(r) if named_dead.contains(&r.name) => {
                diags.warning(span, format!("acl '{}' will never match because it only involves keywords that are incompatible with '{rule_kind} http-response header rule' (as HAProxy 2.6)", r.name));
                true
            }
            _ => false,
        };
        if dead {
            term.acl = AclRef::Named(Reference {
                name: "FALSE".into(),
                span: span.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reads_request_content;

    #[test]
    fn request_content_comes_from_the_keyword_table() {
        // What haproxy 2.6 -c refuses in `http-response set-header X %[...]` (ACL forms by
        // their fetch), and what it offers there.
        for n in [
            "path",
            "path_beg",
            "hdr_dom",
            "cook_val",
            "req.hdr",
            "req.body_len",
            "req.fhdr_cnt",
            "req.ssl_sni",
            "req.len",
            "http_auth",
        ] {
            assert!(reads_request_content(n), "{n}");
        }
        for n in [
            "method",
            "src",
            "capture.req.hdr",
            "capture.req.method",
            "unique-id",
            "http_first_req",
            "req.proto_http",
            "be_name",
            "prio_class",
            "wait_end",
            "status",
            "res.hdr",
            "table_cnt",
            "nosuch",
        ] {
            assert!(!reads_request_content(n), "{n}");
        }
    }
}
