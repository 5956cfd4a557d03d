//! HAProxy 2.6's warnings on a traffic-log format that does not apply, with its words and at
//! its lines (measured with `haproxy -c`), so that `zero-warning` gives the same verdict:
//! - in a backend, `option httplog|httpslog|tcplog` and `log-format` ("backend 'B' : 'option
//!   httplog' directive is ignored in backends."): a backend logs nothing of its own;
//! - a frontend or listen not in `mode http` whose format is `option httplog|httpslog`, here
//!   or from its `defaults` ("'option httplog' not usable with proxy 'L' (needs 'mode
//!   http'). Falling back to 'option tcplog'."), at the line that chose that format. fulcrum
//!   logs such a proxy's sessions in the TCP format too;
//! - a frontend or listen with a log format but no log target, once `log global` is resolved
//!   ("log format ignored for frontend 'F' since it has no log address."; haproxy names no
//!   line: fulcrum gives the section's).

use super::line::Line;
use crate::diagnostics::{Diagnostics, Span};
use crate::model::{Mode, Proxy, ProxyKind};

/// Where the current `option httplog|httpslog` of a section (or of the `defaults` it
/// inherits) was written, and which.
#[derive(Debug, Clone, Default)]
pub struct LogOrigin {
    at: Option<(Span, &'static str)>,
}

/// After `line` of proxy `p` (None: of a `defaults` section) was read.
pub fn note(origin: &mut LogOrigin, p: Option<&Proxy>, line: &Line<'_>, diags: &mut Diagnostics) {
    let (named, enable) = match (line.keyword(), line.arg(1), line.arg(2)) {
        ("option", Some(o), _) => (o, true),
        ("no", Some("option"), Some(o)) => (o, false),
        ("log-format", _, _) => ("log-format", true),
        _ => return,
    };
    let directive = match named {
        "httplog" => "option httplog",
        "httpslog" => "option httpslog",
        "tcplog" => "option tcplog",
        "log-format" => "log-format",
        _ => return,
    };
    if let Some(b) = p.filter(|p| enable && p.kind == ProxyKind::Backend) {
        diags.warning(
            &line.span,
            format!(
                "backend '{}' : '{directive}' directive is ignored in backends.",
                b.name
            ),
        );
    }
    match (directive, enable) {
        ("option httplog" | "option httpslog", true) => {
            origin.at = Some((line.span.clone(), directive));
        }
        ("option httplog" | "option httpslog", false) | ("option tcplog" | "log-format", true) => {
            origin.at = None;
        }
        _ => {}
    }
}

/// When proxy `p`'s section ends.
pub fn close(p: &Proxy, origin: &LogOrigin, diags: &mut Diagnostics) {
    let http_format = p.log_format.is_none() && (p.options.httplog || p.options.log.httpslog);
    if !p.kind.is_frontend() || p.mode == Mode::Http || !http_format {
        return;
    }
    let Some((span, directive)) = &origin.at else {
        return;
    };
    diags.warning(
        span,
        format!(
            "'{directive}' not usable with {} '{}' (needs 'mode http'). Falling back to 'option tcplog'.",
            kind_name(p.kind),
            p.name
        ),
    );
}

/// Once every file is read and `log global` resolved: the proxies that would log but have
/// nowhere to.
pub fn no_address(proxies: &[Proxy], diags: &mut Diagnostics) {
    for p in proxies
        .iter()
        .filter(|p| p.kind.is_frontend() && p.logs.is_empty())
    {
        let o = &p.options;
        if p.log_format.is_none() && !o.httplog && !o.log.httpslog && !o.tcplog {
            continue;
        }
        diags.warning(
            &p.span,
            format!(
                "log format ignored for {} '{}' since it has no log address.",
                kind_name(p.kind),
                p.name
            ),
        );
    }
}

/// HAProxy's `proxy_type_str`.
fn kind_name(kind: ProxyKind) -> &'static str {
    match kind {
        ProxyKind::Listen => "proxy",
        ProxyKind::Frontend => "frontend",
        ProxyKind::Backend => "backend",
    }
}
