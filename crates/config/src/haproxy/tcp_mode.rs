//! `http-request`, `http-response` and `http-after-response` rules in a proxy in `mode tcp`:
//! never run (a TCP stream has no HTTP messages), warned as HAProxy 2.6 warns, at the
//! proxy's line ("'http-request' rules ignored for frontend 'f' as they require HTTP mode"),
//! unless a `tcp-request content switch-mode http` rule may make its streams HTTP (then they
//! run on those, and a proxy that routes only to itself is warned it cannot serve them). Also
//! haproxy's warnings on a layer-7 `balance` (round robin instead) and a `monitor-uri` there.

use crate::diagnostics::Diagnostics;
use crate::model::{Mode, Proxy, ProxyKind};

pub fn warn_http_rules(proxies: &[Proxy], diags: &mut Diagnostics) {
    for p in proxies.iter().filter(|p| p.mode == Mode::Tcp) {
        let kind = match p.kind {
            ProxyKind::Frontend => "frontend",
            ProxyKind::Backend => "backend",
            ProxyKind::Listen => "proxy",
        };
        // HAProxy 2.6's `proxy_cfg_ensure_no_http` words (fulcrum balances such a backend by
        // round robin too, and answers no `monitor-uri` in TCP mode).
        if p.kind.is_backend() && p.balance.needs_http() {
            diags.warning(
                &p.span,
                format!("Layer 7 hash not possible for {kind} '{}' (needs 'mode http'). Falling back to round robin.", p.name),
            );
        }
        if p.monitor_uri.is_some() {
            diags.warning(
                &p.span,
                format!(
                    "monitor-uri will be ignored for {kind} '{}' (needs 'mode http').",
                    p.name
                ),
            );
        }
        if switches(p) {
            if p.default_backend.is_none() && p.use_backends.is_empty() {
                diags.warning(
                    &p.span,
                    format!(
                        "Proxy '{}' : 'switch-mode http' configured for a tcp proxy with no backend. Incoming connections upgraded to HTTP cannot be routed to TCP servers",
                        p.name
                    ),
                );
            }
            continue;
        }
        for (rules, word) in [
            (p.http_request.is_empty(), "http-request"),
            (p.http_response.is_empty(), "http-response"),
            (p.http_after_response.is_empty(), "http-after-response"),
        ] {
            if !rules {
                diags.warning(
                    &p.span,
                    format!(
                        "'{word}' rules ignored for {kind} '{}' as they require HTTP mode",
                        p.name
                    ),
                );
            }
        }
    }
}

/// Whether a `tcp-request content switch-mode http` rule may make `p`'s streams HTTP.
pub fn switches(p: &Proxy) -> bool {
    p.tcp_rules
        .content
        .iter()
        .any(|r| matches!(r.action, crate::model::TcpAction::SwitchModeHttp { .. }))
}

#[cfg(test)]
mod tests {
    use crate::{load_sources, Source};

    #[test]
    fn http_rules_in_tcp_mode_are_warned_as_haproxy() {
        let text = "defaults\n mode tcp\n timeout client 1s\n timeout server 1s\n timeout connect 1s\nfrontend f\n bind 127.0.0.1:3\n http-request deny if { path /x }\n http-response set-header X y\n default_backend b\nbackend b\n http-request set-header X y\n server s 127.0.0.1:1\nlisten l\n mode http\n bind 127.0.0.1:4\n http-request set-header X y\n server s 127.0.0.1:1\n";
        let l = load_sources(&[Source {
            name: "t.cfg",
            text,
        }]);
        let w: Vec<String> = l.diagnostics.warnings().map(|d| d.to_string()).collect();
        assert_eq!(
            w,
            [
                "t.cfg:6: warning: 'http-request' rules ignored for frontend 'f' as they require HTTP mode",
                "t.cfg:6: warning: 'http-response' rules ignored for frontend 'f' as they require HTTP mode",
                "t.cfg:11: warning: 'http-request' rules ignored for backend 'b' as they require HTTP mode",
            ]
        );
    }

    #[test]
    fn a_switching_proxy_runs_its_http_rules() {
        // As `haproxy -c`: no "ignored" warning where `switch-mode http` may upgrade the
        // stream; a proxy with no backend to route to is warned instead.
        let text = "defaults\n mode tcp\n timeout client 1s\n timeout server 1s\n timeout connect 1s\nfrontend f\n bind 127.0.0.1:3\n tcp-request content switch-mode http if HTTP\n http-request set-header X y\n default_backend b\nbackend b\n mode http\n server s 127.0.0.1:1\nlisten l\n bind 127.0.0.1:4\n tcp-request content switch-mode http\n http-request set-header X y\n server s 127.0.0.1:1\n";
        let l = load_sources(&[Source {
            name: "t.cfg",
            text,
        }]);
        let w: Vec<String> = l.diagnostics.warnings().map(|d| d.to_string()).collect();
        assert_eq!(
            w,
            ["t.cfg:14: warning: Proxy 'l' : 'switch-mode http' configured for a tcp proxy with no backend. Incoming connections upgraded to HTTP cannot be routed to TCP servers"]
        );
    }
}
