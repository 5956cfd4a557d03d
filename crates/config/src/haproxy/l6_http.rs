//! HAProxy 2.6's warning on HTTP proxies whose conditions read layer-6 fetches (the raw
//! request or response bytes: `req.len`, `req.payload`, `req.ssl_sni`, `res.len`, ...):
//! "Proxy 'NAME': L6 sample fetches ignored on HTTP proxies (declared at FILE:LINE).", one per
//! rule, for the rule kinds haproxy checks (measured with `haproxy -c`: `use_backend`,
//! `use-server`, `stick on|match|store-request`, `tcp-request content`, `tcp-response
//! content`, `http-request`, `http-response`, `http-after-response`; not `redirect`, `monitor
//! fail` nor `stick store-response`). The rules still run: in HTTP mode these fetches read
//! haproxy's internal view of the message, as fulcrum's do (README). Given so that
//! `zero-warning` gives the same verdict.
//!
//! Also its "L6 sample fetch <TEXT> ignored in HTTP log-format string." on the log-format
//! values of `http-request`/`http-response`/`http-after-response` actions (at the rule's
//! line, in any mode: not `set-var-fmt`, `use_backend` nor `log-format`, where haproxy refuses
//! them) and on a proxy's `unique-id-format` (at the line that set it, here or in its
//! `defaults`); TEXT is the format from the fetch to its end (`fulcrum_sample::l6_uses`).

use crate::diagnostics::{Diagnostics, Span};
use crate::model::{AclRef, Condition, Mode, Proxy, StickRuleKind};

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
    // The sample registry's flag (`FetchKw::l6`); the layer-6 fetches fulcrum does not know
    // (`req.ssl_alpn`, `req.rdp_cookie`, `distcc_*`...) are refused before this is asked.
    let l6 = |name: &str| fulcrum_sample::fetch::lookup(name).is_some_and(|k| k.l6);
    c.any_of.iter().flatten().any(|t| match &t.acl {
        AclRef::Anonymous(a) => l6(&a.fetch.name),
        AclRef::Named(r) => {
            L6_PREDEFINED.contains(&r.name.as_str())
                || p.acls.iter().any(|a| a.name == r.name && l6(&a.fetch.name))
        }
    })
}

/// The warnings for the layer-6 fetches `uses` of the log-format values of the HTTP action at
/// `span` (`fulcrum_sample::l6_uses`).
pub fn warn_formats(span: &Span, uses: &[String], diags: &mut Diagnostics) {
    for text in uses {
        diags.warning(
            span,
            format!("L6 sample fetch <{text}> ignored in HTTP log-format string."),
        );
    }
}

/// The warnings for proxy `p`'s `unique-id-format` (as haproxy, once per proxy that has one,
/// at the line that set it; none for a `defaults` section itself).
pub fn warn_unique_id(p: &Proxy, diags: &mut Diagnostics) {
    let u = &p.options.unique_id;
    let (Some(text), Some(at)) = (&u.format, &u.format_at) else {
        return;
    };
    let (_, uses) =
        fulcrum_sample::l6_uses::with_l6_uses(|| fulcrum_sample::logformat::compile_format(text));
    warn_formats(at, &uses, diags);
}
