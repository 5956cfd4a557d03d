//! Semantic checks across the HAProxy part of the model, after parsing.
//!
//! References resolve (backends, ACLs, stick tables), names are unique where HAProxy needs them
//! to be, modes agree, and HAProxy's own warnings (missing timeouts, no bind) are given.
//! keepalived's semantic checks live in `keepalived/validate.rs`. This module only reports.

use crate::diagnostics::Diagnostics;
use crate::haproxy::PREDEFINED_ACLS;
use crate::model::{
    AclRef, Condition, Config, CookieMethod, CounterAction, HttpAction, Mode, Proxy, ProxyKind,
    Reference, TcpAction,
};
use std::collections::HashMap;

pub fn validate(config: &Config, diags: &mut Diagnostics) {
    unique_proxy_names(config, diags);
    unique_ids(config, diags);
    peers_sections(config, diags);
    crate::haproxy::cluster::validate(config, diags);
    for p in &config.proxies {
        unique_server_names(p, diags);
        acl_references(p, diags);
        backend_references(config, p, diags);
        cookies(p, diags);
        h2_binds(p, diags);
        stick(config, p, diags);
        counter_tables(config, p, diags);
        missing_timeouts(p, diags);
        userlist_references(config, p, diags);
        if p.kind == ProxyKind::Frontend && p.binds.is_empty() && !p.options.keywords.disabled {
            diags.warning(
                &p.span,
                format!("frontend '{}' has no 'bind' directive. Please declare it as a backend if this was intended", p.name),
            );
        }
    }
}

/// `id N` given twice among proxies, or among a proxy's servers: refused as HAProxy does.
fn unique_ids(config: &Config, diags: &mut Diagnostics) {
    use crate::model_ids::duplicate;
    let ids: Vec<Option<u32>> = config
        .proxies
        .iter()
        .map(|p| p.options.keywords.id)
        .collect();
    if let Some((a, b)) = duplicate(&ids) {
        let (a, b) = (&config.proxies[a], &config.proxies[b]);
        diags.error(
            &b.span,
            format!(
                "{} {} reuses same custom id as {} {} (declared at {})",
                b.kind.keyword(),
                b.name,
                a.kind.keyword(),
                a.name,
                a.span
            ),
        );
    }
    for p in &config.proxies {
        let ids: Vec<Option<u32>> = p.servers.iter().map(|s| s.id).collect();
        if let Some((a, b)) = duplicate(&ids) {
            let (a, b) = (&p.servers[a], &p.servers[b]);
            diags.error(
                &b.span,
                format!(
                    "'server {}/{}' : 'id' : custom id {} already used at {} ('server {}').",
                    p.name,
                    b.name,
                    b.id.unwrap_or(0),
                    a.span,
                    a.name
                ),
            );
        }
    }
}

/// Every `track-scN ... [table T]` names a proxy with a `stick-table` (its own without
/// `table`), as HAProxy requires when it starts.
fn counter_tables(config: &Config, p: &Proxy, diags: &mut Diagnostics) {
    let http = p
        .http_request
        .iter()
        .chain(&p.http_response)
        .filter_map(|r| match &r.action {
            HttpAction::Counter(c) => Some((&r.span, c)),
            _ => None,
        });
    let tcp = p.tcp_rules.requests().filter_map(|r| match &r.action {
        TcpAction::Counter(c) => Some((&r.span, c)),
        _ => None,
    });
    for (span, c) in http.chain(tcp) {
        let CounterAction::TrackSc { slot, table, .. } = c else {
            continue;
        };
        let ok = match table {
            Some(name) => config.table_named(name).is_some(),
            None => p.stick_table.is_some(),
        };
        if !ok {
            let which = table.as_deref().unwrap_or(&p.name);
            diags.error(
                span,
                format!("'track-sc{slot}': unable to find table '{which}' (no proxy of that name has a 'stick-table')"),
            );
        }
    }
}

/// Two proxies may share a name only when their capabilities do not overlap (a frontend and a
/// backend called the same, as HAProxy allows).
fn unique_proxy_names(config: &Config, diags: &mut Diagnostics) {
    let mut seen: HashMap<&str, Vec<&Proxy>> = HashMap::new();
    for p in &config.proxies {
        let earlier = seen.entry(p.name.as_str()).or_default();
        if let Some(prev) = earlier.iter().find(|q| {
            (q.kind.is_frontend() && p.kind.is_frontend())
                || (q.kind.is_backend() && p.kind.is_backend())
        }) {
            diags.error(
                &p.span,
                format!(
                    "{} '{}' has the same name as {} '{}' declared at {}",
                    p.kind.keyword(),
                    p.name,
                    prev.kind.keyword(),
                    prev.name,
                    prev.span
                ),
            );
        }
        earlier.push(p);
    }
}

fn unique_server_names(p: &Proxy, diags: &mut Diagnostics) {
    let mut seen: HashMap<&str, &crate::model::Server> = HashMap::new();
    for s in &p.servers {
        if let Some(prev) = seen.insert(s.name.as_str(), s) {
            diags.error(
                &s.span,
                format!(
                    "{} '{}' has two servers named '{}' (the other at {})",
                    p.kind.keyword(),
                    p.name,
                    s.name,
                    prev.span
                ),
            );
        }
    }
}

/// Every condition in the proxy names ACLs it declares (or predefined ones).
fn acl_references(p: &Proxy, diags: &mut Diagnostics) {
    let mut seen: HashMap<&str, &crate::model::Acl> = HashMap::new();
    for a in &p.acls {
        if let Some(first) = seen.get(a.name.as_str()) {
            if first.fetch != a.fetch {
                // HAProxy allows repeating an ACL name to add patterns (OR); with another fetch it is
                // almost always a mistake, but still valid there.
                diags.warning(
                    &a.span,
                    format!("ACL '{}' is declared again with another criterion; both are ORed (first at {})", a.name, first.span),
                );
            }
        } else {
            seen.insert(a.name.as_str(), a);
        }
    }
    let mut check = |cond: &Condition| {
        for term in cond.any_of.iter().flatten() {
            if let AclRef::Named(r) = &term.acl {
                if !seen.contains_key(r.name.as_str())
                    && !PREDEFINED_ACLS.contains(&r.name.as_str())
                {
                    diags.error(
                        &r.span,
                        format!(
                            "no such ACL: '{}' in {} '{}'",
                            r.name,
                            p.kind.keyword(),
                            p.name
                        ),
                    );
                } else if !seen.contains_key(r.name.as_str())
                    && fulcrum_sample::acl::predefined(&r.name).is_none()
                {
                    diags.error(
                        &r.span,
                        format!(
                            "predefined ACL '{}' reads TCP content inspection, which fulcrum does not run yet",
                            r.name
                        ),
                    );
                }
            }
        }
    };
    for u in &p.use_backends {
        if let Some(c) = &u.condition {
            check(c);
        }
    }
    for r in p.tcp_rules.all() {
        if let Some(c) = &r.condition {
            check(c);
        }
    }
    for r in p.http_request.iter().chain(&p.http_response) {
        if let Some(c) = &r.condition {
            check(c);
        }
    }
    for r in &p.stick_rules {
        if let Some(c) = &r.condition {
            check(c);
        }
    }
    if let Some(c) = p.stats.as_ref().and_then(|s| s.admin.as_ref()) {
        check(c);
    }
}

fn backend_references(config: &Config, p: &Proxy, diags: &mut Diagnostics) {
    if !p.kind.is_frontend() {
        return;
    }
    let refs = p
        .default_backend
        .iter()
        .chain(p.use_backends.iter().map(|u| &u.backend));
    for r in refs {
        // `use_backend` may name a log-format expression; those are resolved per request.
        if r.name.contains('%') {
            continue;
        }
        match config.backend(&r.name) {
            None => diags.error(
                &r.span,
                format!(
                    "unable to find required backend '{}' for {} '{}'",
                    r.name,
                    p.kind.keyword(),
                    p.name
                ),
            ),
            Some(b) => mode_agrees(p, b, r, diags),
        }
    }
}

fn mode_agrees(front: &Proxy, back: &Proxy, r: &Reference, diags: &mut Diagnostics) {
    if front.mode == Mode::Http && back.mode == Mode::Tcp {
        diags.error(
            &r.span,
            format!("{} '{}' is in mode http but uses backend '{}' in mode tcp (expected both in mode http)", front.kind.keyword(), front.name, back.name),
        );
    }
}

/// `proto h2` speaks HTTP: HAProxy refuses it on a bind of a `mode tcp` proxy.
fn h2_binds(p: &Proxy, diags: &mut Diagnostics) {
    if p.mode == Mode::Http {
        return;
    }
    for b in p.binds.iter().filter(|b| b.proto_h2) {
        diags.error(
            &b.span,
            format!(
                "'proto h2' on a bind needs mode http ({} '{}' is in mode tcp)",
                p.kind.keyword(),
                p.name
            ),
        );
    }
}

fn cookies(p: &Proxy, diags: &mut Diagnostics) {
    if !p.kind.is_backend() {
        return;
    }
    match &p.cookie {
        Some(c) => {
            if p.mode != Mode::Http {
                diags.warning(
                    &c.span,
                    format!(
                        "'cookie' in {} '{}' needs mode http; ignored in mode tcp",
                        p.kind.keyword(),
                        p.name
                    ),
                );
            }
            if !p.servers.is_empty() && p.servers.iter().all(|s| s.cookie.is_none()) {
                diags.warning(
                    &c.span,
                    format!("cookie persistence '{}' is set but no server has a 'cookie' value: no session will stick", c.name),
                );
            }
            if c.method != CookieMethod::Insert && c.nocache {
                diags.warning(&c.span, "'nocache' only matters with 'insert'".to_string());
            }
        }
        None => {
            if let Some(s) = p.servers.iter().find(|s| s.cookie.is_some()) {
                diags.warning(
                    &s.span,
                    format!("server '{}' has a 'cookie' value but {} '{}' has no 'cookie' directive: it is never used", s.name, p.kind.keyword(), p.name),
                );
            }
        }
    }
}

fn stick(config: &Config, p: &Proxy, diags: &mut Diagnostics) {
    if let Some(t) = &p.stick_table {
        if let Some(name) = &t.peers {
            if !config.peers.iter().any(|s| &s.name == name) {
                diags.error(&t.span, format!("stick-table in {} '{}' names peers '{name}' but no 'peers {name}' section is defined", p.kind.keyword(), p.name));
            }
        }
    }
    for r in &p.stick_rules {
        match &r.table {
            Some(t) => {
                let found = config.table_named(&t.name).is_some();
                if !found {
                    diags.error(&t.span, format!("stick rule names table '{}' but no proxy of that name has a 'stick-table'", t.name));
                }
            }
            None if p.stick_table.is_none() => {
                diags.error(&r.span, format!("stick rule in {} '{}' has no 'stick-table' in the same section (add one or name one with 'table')", p.kind.keyword(), p.name));
            }
            None => {}
        }
    }
}

/// HAProxy's warning for proxies without the timeouts they need.
fn missing_timeouts(p: &Proxy, diags: &mut Diagnostics) {
    let only_returns = p.kind == ProxyKind::Frontend
        && p.http_request
            .iter()
            .any(|r| matches!(r.action, HttpAction::Return { .. }));
    let mut missing = Vec::new();
    if p.kind.is_frontend() && p.timeouts.client.is_none() {
        missing.push("'client'");
    }
    if p.kind.is_backend() && !only_returns {
        if p.timeouts.connect.is_none() {
            missing.push("'connect'");
        }
        if p.timeouts.server.is_none() {
            missing.push("'server'");
        }
    }
    if !missing.is_empty() {
        diags.warning(
            &p.span,
            format!(
                "missing timeouts for {} '{}': {} (while not properly invalid, such a proxy may keep connections open forever; set them to a non-zero value)",
                p.kind.keyword(),
                p.name,
                missing.join(", ")
            ),
        );
    }
}

/// Each `peers` section names its peers; a local `server NAME` without an address needs the
/// section's `bind`.
fn peers_sections(config: &Config, diags: &mut Diagnostics) {
    for s in &config.peers {
        for (name, t) in &s.tables {
            diags.warning(&t.span, format!("table '{name}' of peers '{}' runs on this node, but fulcrum does not replicate a peers section's own tables to its peers yet (only a backend's 'stick-table' with 'stick on src' is)", s.name));
        }
        if s.peers.is_empty() {
            diags.error(
                &s.span,
                format!(
                    "peers section '{}' has no peer (expected 'peer NAME IP:PORT' lines)",
                    s.name
                ),
            );
        }
        for p in &s.peers {
            if p.address.is_none() && s.bind.is_none() {
                diags.error(&p.span, format!("'server {}' has no address and peers section '{}' has no 'bind IP:PORT': the local peer needs one of them", p.name, s.name));
            }
        }
        let me = config.local_peer();
        if !s.peers.is_empty() && !s.peers.iter().any(|p| p.name == me) {
            diags.warning(&s.span, format!("peers section '{}' has no peer named '{me}' (this node: global 'localpeer', else the cluster's 'node', else the host name): its stick tables are not replicated", s.name));
        }
        if s.peers.iter().filter(|p| p.address.is_none()).count() > 1 {
            diags.error(&s.span, format!("peers section '{}' has more than one 'server' without an address (only the local peer has none)", s.name));
        }
    }
}

/// `http_auth(L)` / `http_auth_group(L)` in an ACL name a `userlist L` (HAProxy refuses to
/// start otherwise).
fn userlist_references(config: &Config, p: &Proxy, diags: &mut Diagnostics) {
    let anonymous = p
        .http_request
        .iter()
        .chain(&p.http_response)
        .filter_map(|r| r.condition.as_ref())
        .flat_map(|c| c.any_of.iter().flatten())
        .filter_map(|t| match &t.acl {
            crate::model::AclRef::Anonymous(a) => Some(&**a),
            crate::model::AclRef::Named(_) => None,
        });
    for acl in p.acls.iter().chain(anonymous) {
        let Some(first) = acl.words.first() else {
            continue;
        };
        for f in ["http_auth(", "http_auth_group("] {
            let Some(rest) = first.strip_prefix(f) else {
                continue;
            };
            let name = rest.split([')', ',']).next().unwrap_or("");
            if !config.userlists.iter().any(|u| u.name == name) {
                diags.error(
                    &acl.span,
                    format!("{f}{name}): no userlist named '{name}' (a 'userlist {name}' section is needed)"),
                );
            }
        }
    }
}
