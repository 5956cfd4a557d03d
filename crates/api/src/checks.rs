//! Octavia's validation of one object beyond field types: persistence, algorithm, allowed
//! CIDRs, health monitor timings and codes, L7 policy targets; and what fulcrum refuses because
//! it does not run it yet (rather than rendering something that would silently differ).

use crate::ops::{err, visible, ApiError, Caller};
use crate::state::{s, Obj, State};
use serde_json::Value;

/// SOURCE_IP_PORT is an OVN-provider algorithm: Octavia's amphora driver refuses it as an
/// unsupported option (501, `Provider 'amphora' does not support a requested option`).
pub fn check_algorithm(o: &Obj) -> Result<(), ApiError> {
    if s(o, "lb_algorithm") == "SOURCE_IP_PORT" {
        return Err(err(501, "Provider 'amphora' does not support a requested option: Amphora provider does not support SOURCE_IP_PORT algorithm."));
    }
    Ok(())
}

pub fn check_persistence(o: &Obj) -> Result<(), ApiError> {
    if let Some(sp) = o.get("session_persistence").and_then(Value::as_object) {
        let t = s(sp, "type");
        match t {
            "SOURCE_IP" => {}
            "HTTP_COOKIE" if sp.get("cookie_name").is_some_and(|c| !c.is_null()) => {
                return Err(err(400, "Validation failure: Cookie names are not supported for HTTP_COOKIE pools."))
            }
            "HTTP_COOKIE" => {}
            "APP_COOKIE" if s(sp, "cookie_name").is_empty() => {
                return Err(err(400, "Validation failure: Cookie names are required for APP_COOKIE pools."))
            }
            // Rendered into `res.cook(NAME)` / `req.cook(NAME)`: RFC 6265 cookie-octets as
            // Octavia checks them, and no parenthesis (it would end the sample's argument).
            "APP_COOKIE"
                if !s(sp, "cookie_name").bytes().all(|c| {
                    matches!(c, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
                        && c != b'(' && c != b')'
                }) =>
            {
                return Err(err(400, "Validation failure: Cookie names must be RFC 6265 cookie-octets (no space, '\"', ',', ';', '\\') and, in fulcrum, no '(' or ')'."))
            }
            "APP_COOKIE" => {}
            other => return Err(err(400, format!("Invalid input for field/attribute type. Value: '{other}'. Value should be one of: APP_COOKIE, HTTP_COOKIE, SOURCE_IP"))),
        }
    }
    Ok(())
}

/// `insert_headers`: the ones rendered (X-Forwarded-For/-Port/-Proto, "true" or "false"), and
/// on TERMINATED_HTTPS listeners the X-SSL-* family (render::SSL_HEADERS).
pub fn check_insert_headers(o: &Obj) -> Result<(), ApiError> {
    let Some(h) = o.get("insert_headers").and_then(Value::as_object) else {
        return Ok(());
    };
    for (k, v) in h {
        let ssl = crate::render::SSL_HEADERS.iter().any(|(n, _)| n == k);
        if ssl && s(o, "protocol") != "TERMINATED_HTTPS" {
            return Err(err(400, format!("Validation failure: insert_headers {k} is only valid for TERMINATED_HTTPS listeners.")));
        }
        if !ssl
            && !matches!(
                k.as_str(),
                "X-Forwarded-For" | "X-Forwarded-Port" | "X-Forwarded-Proto"
            )
        {
            return Err(err(400, format!("Validation failure: insert_headers {k} is not supported (X-Forwarded-For, X-Forwarded-Port, X-Forwarded-Proto, and X-SSL-* on TERMINATED_HTTPS).")));
        }
        if !matches!(v.as_str(), Some("true" | "True" | "false" | "False")) {
            return Err(err(400, format!("Invalid input for field/attribute insert_headers. Value: '{v}'. {k} takes \"true\" or \"false\"")));
        }
    }
    if !h.is_empty() && !matches!(s(o, "protocol"), "HTTP" | "TERMINATED_HTTPS") {
        return Err(err(
            400,
            format!(
                "Validation failure: insert_headers are only valid for HTTP and TERMINATED_HTTPS listeners (not {}).",
                s(o, "protocol")
            ),
        ));
    }
    Ok(())
}

/// `allowed_cidrs`: valid CIDRs, on HTTP and UDP/SCTP listeners, and on TCP/HTTPS listeners
/// once fulcrum runs `tcp-request connection` rules (`tcp_request_runs`).
pub fn check_cidrs(o: &Obj) -> Result<(), ApiError> {
    let Some(list) = o.get("allowed_cidrs").and_then(Value::as_array) else {
        return Ok(());
    };
    if list.is_empty() {
        return Ok(());
    }
    for c in list {
        let text = c.as_str().unwrap_or("");
        let ok = match text.split_once('/') {
            Some((ip, len)) => ip.parse::<std::net::IpAddr>().is_ok_and(|ip| {
                len.parse::<u8>()
                    .is_ok_and(|n| n <= if ip.is_ipv4() { 32 } else { 128 })
            }),
            None => false,
        };
        if !ok {
            return Err(err(400, format!("Invalid input for field/attribute allowed_cidrs. Value: '{text}'. Value should be a CIDR")));
        }
    }
    let p = s(o, "protocol");
    // UDP/SCTP: rendered as `allowed_cidrs` in the virtual_server block (render_lvs.rs), run
    // by the LVS data plane.
    let runs = matches!(p, "HTTP" | "TERMINATED_HTTPS" | "UDP" | "SCTP")
        || (matches!(p, "TCP" | "HTTPS") && tcp_request_runs());
    if !runs {
        return Err(err(400, format!("Validation failure: allowed_cidrs on a {p} listener is not supported by fulcrum yet (HTTP listeners only).")));
    }
    Ok(())
}

/// What a TCP/HTTPS listener with allowed_cidrs renders (render.rs): the rules fulcrum's proxy
/// must run before the API accepts it.
pub const TCP_ALLOWED_CIDRS_RENDER: &str = "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend f\n    bind 127.0.0.1:9\n    acl allowed-cidr src 10.0.0.0/8\n    tcp-request connection reject if !allowed-cidr\n    default_backend b\nbackend b\n    server s 127.0.0.1:9\n";

/// Whether fulcrum's config parser takes `tcp-request connection reject` without a word (an
/// error or a "not supported, ignored" warning would mean the proxy does not run it): asked
/// once, so allowed_cidrs on TCP listeners switch on by themselves when the proxy runs it.
pub fn tcp_request_runs() -> bool {
    static RUNS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *RUNS.get_or_init(|| {
        let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
            name: "<allowed_cidrs probe>",
            text: TCP_ALLOWED_CIDRS_RENDER,
        }]);
        let quiet = loaded.diagnostics.iter().next().is_none();
        quiet
    })
}

pub fn check_monitor(o: &mut Obj) -> Result<(), ApiError> {
    let (delay, timeout) = (crate::state::i(o, "delay"), crate::state::i(o, "timeout"));
    if delay < timeout {
        return Err(err(400, format!("Validation failure: The request delay value {delay} should be larger than the request timeout value {timeout}.")));
    }
    let t = s(o, "type").to_string();
    if matches!(t.as_str(), "HTTP" | "HTTPS") {
        for (k, v) in [
            ("http_method", "GET"),
            ("url_path", "/"),
            ("expected_codes", "200"),
        ] {
            if o.get(k).is_none_or(Value::is_null) {
                o.insert(k.into(), Value::from(v));
            }
        }
        let url = s(o, "url_path");
        if !url.starts_with('/') || url.contains(char::is_whitespace) {
            return Err(err(400, format!("Invalid input for field/attribute url_path. Value: '{url}'. Not a valid URL path")));
        }
        let codes = s(o, "expected_codes");
        let ok = codes
            .split([',', '-'])
            .all(|c| c.parse::<u16>().is_ok_and(|n| (100..=599).contains(&n)));
        if !ok {
            return Err(err(400, format!("Invalid input for field/attribute expected_codes. Value: '{codes}'. Value should match the pattern ^(\\d{{3}}(\\s*,\\s*\\d{{3}})*)$|^(\\d{{3}}-\\d{{3}})$")));
        }
    } else if o.get("http_method").is_some_and(|v| !v.is_null())
        || o.get("url_path").is_some_and(|v| !v.is_null())
    {
        return Err(err(400, format!("Validation failure: http_method and url_path are only valid for HTTP and HTTPS health monitors (type {t}).")));
    }
    let version = o.get("http_version").and_then(Value::as_f64);
    let domain = o.get("domain_name").and_then(Value::as_str);
    if (version.is_some() || domain.is_some()) && !matches!(t.as_str(), "HTTP" | "HTTPS") {
        return Err(err(400, format!("Validation failure: http_version and domain_name are only valid for HTTP and HTTPS health monitors (type {t}).")));
    }
    if let Some(d) = domain {
        let ok = !d.is_empty()
            && d.len() <= 255
            && d.split('.').all(|p| {
                !p.is_empty()
                    && p.len() <= 63
                    && !p.starts_with('-')
                    && !p.ends_with('-')
                    && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !ok {
            return Err(err(400, format!("Invalid input for field/attribute domain_name. Value: '{d}'. Value should match the pattern of a host name")));
        }
        if version != Some(1.1) {
            return Err(err(400, "Validation failure: http_version 1.1 is required with domain_name (HTTP/1.0 has no Host header)."));
        }
    }
    Ok(())
}

pub fn check_policy(st: &State, o: &Obj, lb: &str, who: &Caller) -> Result<(), ApiError> {
    match s(o, "action") {
        "REDIRECT_TO_POOL" => {
            let pid = s(o, "redirect_pool_id");
            if pid.is_empty() {
                return Err(err(
                    400,
                    "Validation failure: redirect_pool_id is required for REDIRECT_TO_POOL.",
                ));
            }
            let p = visible(st, "pool", pid, who)?;
            if s(p, "loadbalancer_id") != lb {
                return Err(err(
                    400,
                    format!("Pool {pid} is not on Load Balancer {lb}."),
                ));
            }
        }
        "REDIRECT_TO_URL" if s(o, "redirect_url").is_empty() => {
            return Err(err(
                400,
                "Validation failure: redirect_url is required for REDIRECT_TO_URL.",
            ))
        }
        "REDIRECT_PREFIX" if s(o, "redirect_prefix").is_empty() => {
            return Err(err(
                400,
                "Validation failure: redirect_prefix is required for REDIRECT_PREFIX.",
            ))
        }
        _ => {}
    }
    Ok(())
}
