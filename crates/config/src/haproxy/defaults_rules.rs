//! Rules in a named `defaults` section (HAProxy 2.5+): `http-request`, `http-response`,
//! `tcp-request` and `tcp-response` lines there run before the rules of every proxy that
//! inherits the section. The ACLs they name are the section's own: they are carried into the
//! proxy under a name no `acl` line can spell (`SECTION NAME`, with a space), so a proxy's
//! ACL of the same name neither replaces nor joins them.

use crate::diagnostics::Span;
use crate::model::{AclRef, Condition, Proxy, ProxyKind};
use std::collections::HashMap;

/// Whether a defaults section holds rules (which only one side may inherit, as HAProxy).
pub fn has_rules(p: &Proxy) -> bool {
    !p.http_request.is_empty()
        || !p.http_response.is_empty()
        || !p.http_after_response.is_empty()
        || !p.tcp_rules.is_empty()
}

/// HAProxy's restriction on who inherits rules: not a `listen`, and not both frontends and
/// backends. `users`: the first frontend-or-backend kind that inherited each section.
pub fn check_user(
    users: &mut HashMap<String, ProxyKind>,
    section: &str,
    section_span: &Span,
    kind: ProxyKind,
) -> Result<(), String> {
    if kind == ProxyKind::Listen {
        return Err(format!("a listen section cannot inherit from a defaults section defining TCP/HTTP rules (defaults section '{section}' at {section_span})"));
    }
    match users.get(section) {
        Some(first) if *first != kind => Err(format!("frontends and backends cannot inherit from the same defaults section if it defines TCP/HTTP rules (defaults section '{section}' at {section_span})")),
        Some(_) => Ok(()),
        None => {
            users.insert(section.to_string(), kind);
            Ok(())
        }
    }
}

/// HAProxy's restriction on which rules a side may inherit: a backend does not run
/// `tcp-request connection|session` rules, a frontend no `tcp-response content` rules, so a
/// defaults section holding them cannot be the base of one (HAProxy 2.6's words).
pub fn check_side(base: &Proxy, section_span: &Span, kind: ProxyKind) -> Result<(), String> {
    let t = &base.tcp_rules;
    if kind == ProxyKind::Backend && !(t.connection.is_empty() && t.session.is_empty()) {
        return Err(format!("a backend section cannot inherit from a defaults section defining 'tcp-request connection' or 'tcp-request session' rules (defaults section at {section_span})"));
    }
    if kind == ProxyKind::Frontend && !t.response.is_empty() {
        return Err(format!("a frontend section cannot inherit from a defaults section defining 'tcp-response content' rules (defaults section at {section_span})"));
    }
    Ok(())
}

fn rename(cond: &mut Option<Condition>, section: &str, names: &[String]) {
    let Some(c) = cond else { return };
    for term in c.any_of.iter_mut().flatten() {
        if let AclRef::Named(r) = &mut term.acl {
            if names.contains(&r.name) {
                r.name = format!("{section} {}", r.name);
            }
        }
    }
}

/// Turns `p` (a clone of its `defaults` section `base`) into the start of a proxy: contents
/// are dropped, except the rules of a named section and the ACLs they use.
pub fn inherit(p: &mut Proxy, base: &Proxy) {
    p.acls.clear();
    p.captures.clear();
    if base.name.is_empty() {
        p.http_request.clear();
        p.http_response.clear();
        p.http_after_response.clear();
        p.tcp_rules = Default::default();
        return;
    }
    let section = &base.name;
    let names: Vec<String> = base.acls.iter().map(|a| a.name.clone()).collect();
    for a in &base.acls {
        let mut a = a.clone();
        a.name = format!("{section} {}", a.name);
        p.acls.push(a);
    }
    for r in p
        .http_request
        .iter_mut()
        .chain(p.http_response.iter_mut())
        .chain(p.http_after_response.iter_mut())
    {
        rename(&mut r.condition, section, &names);
    }
    let t = &mut p.tcp_rules;
    for r in t
        .connection
        .iter_mut()
        .chain(t.session.iter_mut())
        .chain(t.content.iter_mut())
        .chain(t.response.iter_mut())
    {
        rename(&mut r.condition, section, &names);
    }
}
