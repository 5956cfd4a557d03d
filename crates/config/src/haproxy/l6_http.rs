//! HAProxy 2.6's warning on HTTP proxies whose conditions read layer-6 fetches (the raw
//! request or response bytes: `req.len`, `req.payload`, `req.ssl_sni`, `res.len`, ...):
//! "Proxy 'NAME': L6 sample fetches ignored on HTTP proxies (declared at FILE:LINE).", one per
//! rule, for the rule kinds haproxy checks (measured with `haproxy -c`: `use_backend`,
//! `use-server`, `stick on|match|store-request`, `tcp-request content`, `tcp-response
//! content`, `http-request`, `http-response`, `http-after-response`; not `redirect`, `monitor
//! fail` nor `stick store-response`). The rules still run: in HTTP mode these fetches read
//! haproxy's internal view of the message, as fulcrum's do (README). Given so that
//! `zero-warning` gives the same verdict.

use crate::diagnostics::{Diagnostics, Span};
use crate::model::{AclRef, Condition, Mode, Proxy, StickRuleKind};

/// HAProxy 2.6's fetches that read layer 6 (`SMP_USE_L6REQ`/`SMP_USE_L6RES`), every alias.
const L6_FETCHES: &[&str] = &[
    "req.len",
    "req_len",
    "req.payload",
    "payload",
    "req.payload_lv",
    "payload_lv",
    "req.ssl_hello_type",
    "req_ssl_hello_type",
    "req.ssl_sni",
    "req_ssl_sni",
    "req.ssl_ver",
    "req_ssl_ver",
    "req.ssl_ec_ext",
    "req.ssl_st_ext",
    "req.ssl_alpn",
    "req.rdp_cookie",
    "rdp_cookie",
    "req.rdp_cookie_cnt",
    "rdp_cookie_cnt",
    "res.len",
    "res.payload",
    "res.payload_lv",
    "res.ssl_hello_type",
    "rep_ssl_hello_type",
    "distcc_body",
    "distcc_param",
];

/// Predefined ACLs that read layer 6 (`REQ_CONTENT` is `req.len gt 0`).
const L6_PREDEFINED: &[&str] = &["REQ_CONTENT"];

/// The warnings for `p` (nothing unless it is an HTTP proxy).
pub fn warn(p: &Proxy, diags: &mut Diagnostics) {
    if p.mode != Mode::Http {
        return;
    }
    let k = &p.options.keywords;
    let stick = p
        .stick_rules
        .iter()
        .filter(|r| r.kind != StickRuleKind::StoreResponse)
        .map(|r| (&r.span, r.condition.as_ref()));
    let tcp = p
        .tcp_rules
        .content
        .iter()
        .chain(&p.tcp_rules.response)
        .map(|r| (&r.span, r.condition.as_ref()));
    let http = p
        .http_request
        .iter()
        .chain(&p.http_response)
        .chain(&p.http_after_response)
        .map(|r| (&r.span, r.condition.as_ref()));
    let rules = p
        .use_backends
        .iter()
        .map(|r| (&r.span, r.condition.as_ref()))
        .chain(k.use_servers.iter().map(|r| (&r.span, Some(&r.condition))))
        .chain(stick)
        .chain(tcp)
        .chain(http);
    for (span, cond) in rules {
        if cond.is_some_and(|c| reads_l6(p, c)) {
            diags.warning(span, message(&p.name, span));
        }
    }
}

fn message(proxy: &str, at: &Span) -> String {
    format!(
        "Proxy '{proxy}': L6 sample fetches ignored on HTTP proxies (declared at {}:{}).",
        at.file, at.line
    )
}

fn reads_l6(p: &Proxy, c: &Condition) -> bool {
    let l6 = |name: &str| L6_FETCHES.contains(&name);
    c.any_of.iter().flatten().any(|t| match &t.acl {
        AclRef::Anonymous(a) => l6(&a.fetch.name),
        AclRef::Named(r) => {
            L6_PREDEFINED.contains(&r.name.as_str())
                || p.acls.iter().any(|a| a.name == r.name && l6(&a.fetch.name))
        }
    })
}
