//! Log-format strings in rule values (`set-header`/`add-header` values, `return lf-string`):
//! compiled by the sample-language crate when the file is read, so a mistake is a `FILE:LINE`
//! error with its column, and checked against what fulcrum's data plane answers, so a fetch
//! or `%` variable it does not run is refused instead of reaching the wire as text.

use fulcrum_sample::expr::Compiler;
use fulcrum_sample::fetch::{Needs, PROCESS_FETCHES};
use fulcrum_sample::logformat::{compile_format_with, Node};

/// The stream fetches the HTTP data plane answers in rule values (the process-level ones,
/// `str int env date rand uuid var ...`, are answered by the sample crate itself). The proxy
/// has a test that each of these is answered.
pub const HTTP_FETCHES: &[&str] = &[
    "prio_class",
    "prio_offset",
    // Where the stream is (the proxy's `place`): in every rule, value and log line.
    "fe_name",
    "fe_id",
    "be_name",
    "be_id",
    "srv_name",
    "srv_id",
    "hostname",
    // The stream's backend and servers (proxy `place`): by name, or the current backend.
    "nbsrv",
    "srv_is_up",
    "connslots",
    "be_conn",
    "queue",
    "avg_queue",
    "srv_conn",
    "srv_queue",
    "thread",
    // The client connection (proxy `front`): its listener, its addresses before any
    // `set-src`, its PROXY header, its TCP_INFO, its HTTP version.
    "so_name",
    "so_id",
    "fc_src",
    "fc_src_port",
    "fc_dst",
    "fc_dst_port",
    "fc_rcvd_proxy",
    "fc_pp_authority",
    "fc_pp_unique_id",
    "fc_http_major",
    "fc_rtt",
    "fc_rttvar",
    "fc_unacked",
    "fc_sacked",
    "fc_retrans",
    "fc_fackets",
    "fc_lost",
    "fc_reordering",
    "fc_err_str",
    "fc_src_is_local",
    "fc_dst_is_local",
    "src_is_local",
    "dst_is_local",
    // The server connection (`%bi %bp`'s), its HTTP version and error.
    "bc_src",
    "bc_src_port",
    "bc_dst",
    "bc_dst_port",
    "bc_http_major",
    "bc_err",
    "bc_err_str",
    "ssl_bc",
    "ssl_bc_protocol",
    "ssl_bc_cipher",
    "ssl_bc_alpn",
    "ssl_bc_use_keysize",
    "ssl_bc_alg_keysize",
    "ssl_bc_is_resumed",
    "ssl_bc_err",
    "src",
    "src_port",
    "dst",
    "dst_port",
    "method",
    "path",
    "pathq",
    "url",
    "query",
    "base",
    "url_param",
    "urlp",
    "req.body",
    "req.body_len",
    "req.body_size",
    "req.body_param",
    "req.ver",
    "req.proto_http",
    "req_ver",
    "req.hdr",
    "hdr",
    "req.fhdr",
    "req.hdr_cnt",
    "hdr_cnt",
    "req.hdr_ip",
    "hdr_ip",
    "req.fhdr_cnt",
    "res.fhdr_cnt",
    "http_first_req",
    "req.cook",
    "cook",
    "req.cook_cnt",
    "cook_cnt",
    "req.cook_val",
    "cook_val",
    "res.hdr",
    "shdr",
    "res.fhdr",
    "res.hdr_cnt",
    "res.cook",
    "scook",
    "res.cook_cnt",
    "scook_cnt",
    "res.cook_val",
    "scook_val",
    "res.ver",
    "status",
    "ssl_fc",
    "ssl_fc_sni",
    "ssl_fc_has_sni",
    "ssl_fc_protocol",
    "ssl_fc_cipher",
    "ssl_fc_alpn",
    "ssl_fc_has_crt",
    "ssl_fc_is_resumed",
    "ssl_fc_use_keysize",
    "fc_err",
    "ssl_fc_err",
    "ssl_c_err",
    "ssl_c_ca_err",
    "ssl_c_used",
    "ssl_c_verify",
    "ssl_c_s_dn",
    "ssl_c_i_dn",
    "ssl_c_serial",
    "ssl_c_sha1",
    "ssl_c_notbefore",
    "ssl_c_notafter",
    "ssl_c_version",
    "ssl_c_sig_alg",
    "ssl_c_key_alg",
    "ssl_fc_alg_keysize",
    // The request's `unique-id-format` id (http/unique_id.rs).
    "unique-id",
    // `Authorization: Basic` checked against a `userlist` (http/userlist.rs).
    "http_auth",
    "http_auth_group",
    "http_auth_type",
    "http_auth_user",
    "http_auth_pass",
    // Every layer-6 fetch is answered too ([`check_answered`]: the registry's `l6` flag):
    // the ClientHello read without decrypting, content inspection on the bytes received so
    // far (proxy payload.rs; in HTTP mode the payload fetches have no value and `req.len` is
    // the request's HTX size, as HAProxy 2.6), `tcp-response content`'s.
    "wait_end",
    // The frontend's capture slots (`capture request|response header`, `declare capture`,
    // `http-request|http-response capture`), by index.
    "capture.req.hdr",
    "capture.res.hdr",
    "capture.req.method",
    "capture.req.uri",
];

/// The `%` variables the HTTP data plane writes in rule values: every one of the manual's
/// table, with what is known when the rule runs, as HAProxy 2.6 writes them there (the proxy's
/// `rule_facts`: `%b` is the frontend's name before routing, `%s` `<NOSRV>` before a server,
/// the timers not reached yet -1...).
pub static HTTP_VARS: &[&str] = fulcrum_sample::logformat::VARIABLES;

/// The `%` variables HAProxy 2.6 reserves for HTTP mode (measured with `haproxy -c`: "format
/// variable 'HM' is reserved for HTTP mode", in `log-format` and in rule values alike).
pub const HTTP_MODE_VARS: &[&str] = &[
    "CC", "CS", "HM", "HP", "HPO", "HQ", "HU", "HV", "TR", "Ta", "Ti", "Tq", "Tr", "r", "tr",
    "trg", "trl",
];

/// The first variable of log-format string `text` that HAProxy reserves for HTTP mode.
pub fn http_mode_var(text: &str) -> Option<&'static str> {
    let f = compile_format_with(text, &mut Compiler::default()).ok()?;
    f.nodes.iter().find_map(|n| match n {
        Node::Var(v, _) if HTTP_MODE_VARS.contains(v) => Some(*v),
        _ => None,
    })
}

/// Errors, as HAProxy 2.6 refuses them, for the HTTP-mode variables a TCP proxy's log formats
/// and `tcp-request`/`tcp-response` `set-var-fmt` values use.
pub fn check_tcp_mode(p: &crate::model::Proxy) -> Vec<(crate::diagnostics::Span, String)> {
    use crate::model::{TcpAction, VarAction};
    let mut out = Vec::new();
    if p.mode != crate::model::Mode::Tcp {
        return out;
    }
    let formats = [&p.log_format, &p.options.log_format_sd];
    for text in formats.into_iter().flatten() {
        if let Some(v) = http_mode_var(text) {
            out.push((
                p.span.clone(),
                format!("proxy '{}': log-format '{text}': format variable '{v}' is reserved for HTTP mode", p.name),
            ));
        }
    }
    let rules = p.tcp_rules.requests().chain(&p.tcp_rules.response);
    for r in rules {
        if let TcpAction::Var(VarAction::SetFmt { format, .. }) = &r.action {
            if let Some(v) = http_mode_var(format) {
                out.push((
                    r.span.clone(),
                    format!("format variable '{v}' is reserved for HTTP mode"),
                ));
            }
        }
    }
    out
}

/// Whether the data plane answers fetch `name` (the sample crate answers the process-level
/// ones itself); an error naming it otherwise.
pub fn check_answered(name: &str) -> Result<(), String> {
    if HTTP_FETCHES.contains(&name)
        || PROCESS_FETCHES.contains(&name)
        || fulcrum_sample::fetch::is_counter(name)
        || fulcrum_sample::fetch::lookup(name).is_some_and(|k| k.l6)
    {
        Ok(())
    } else {
        Err(format!("fetch '{name}' is not run by fulcrum yet"))
    }
}

/// The `%` variables the data plane writes in traffic log lines (`log-format`).
pub const LOG_VARS: &[&str] = &[
    "ci", "cp", "fi", "fp", "f", "ft", "b", "s", "t", "tr", "ms", "pid", "TR", "Tw", "Tc", "Tr",
    "Ta", "Tt", "ST", "B", "ts", "tsc", "ac", "fc", "bc", "sc", "rc", "sq", "bq", "CC", "CS", "r",
    "HM", "HU", "HP", "HQ", "HV", "o", "hr", "hs", "si", "sp", "Ts", "T", "H", "hrl", "hsl", "ID",
    "Th", "Ti", "Tq", "Td", "U", "lc", "Tl", "trg", "trl", "sslv", "sslc", "bi", "bp", "Tu", "HPO",
    "rt",
];

/// Checks a `log-format` line: compiled, and every fetch and `%` variable one the data plane
/// writes (the request and response are there when the line is written).
/// As HAProxy 2.6, fetches that read the request or the response are refused there (they
/// are not available when the line is written): only connection and process ones, the
/// captures (`capture.req.hdr(N)`, `capture.res.hdr(N)`), which the stream keeps, and the
/// backend and server it went to (`be_name be_id srv_name srv_id`).
pub fn check_log_format(text: &str) -> Result<(), String> {
    let mut compiler = Compiler::default();
    let format = compile_format_with(text, &mut compiler)
        .map_err(|e| format!("log-format '{text}': column {}: {}", e.col, e.msg))?;
    for node in &format.nodes {
        match node {
            Node::Lit(_) => {}
            Node::Expr(e, _) => {
                let name = e.fetch.kw.name;
                // What HAProxy 2.6 keeps for the log line (its fetches valid at log end,
                // `haproxy -dKsmp`): of the request its facts (the method, whether it is the
                // connection's first, the captures, the unique id, the backend, the priority,
                // `wait_end`: `fetch::FetchKw::reads_request_content`), of the response the
                // server and its connection and the transaction's status (`%ST`).
                let kept = match e.fetch.kw.needs {
                    Needs::Request => !e.fetch.kw.reads_request_content(),
                    Needs::Response => {
                        matches!(name, "srv_name" | "srv_id" | "status" | "capture.res.hdr")
                            || name.starts_with("bc_")
                    }
                    Needs::Nothing | Needs::Connection => true,
                };
                if !kept {
                    let what = if e.fetch.kw.needs == Needs::Request {
                        "the request"
                    } else {
                        "the response"
                    };
                    return Err(format!(
                        "log-format '{text}': fetch '{name}' reads {what}, which is not available where it is used"
                    ));
                }
                check_answered(name).map_err(|e| format!("log-format '{text}': {e}"))?;
            }
            Node::Var(v, _) => {
                if !LOG_VARS.contains(v) {
                    return Err(format!(
                        "log-format '{text}': variable '%{v}' is not written by fulcrum yet"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Checks what `error-log-format` may use beyond `log-format`'s checks: the connection's
/// error codes and its TLS version and cipher are OpenSSL's in HAProxy (a failed handshake
/// still has them); fulcrum's TLS (rustls) has no such codes, so they are refused there
/// rather than written differently.
pub fn check_error_log_format(text: &str) -> Result<(), String> {
    const NOT_THERE: &[&str] = &[
        "fc_err",
        "fc_err_str",
        "ssl_fc_err",
        "ssl_c_err",
        "ssl_c_ca_err",
    ];
    let format = compile_format_with(text, &mut Compiler::default())
        .map_err(|e| format!("error-log-format '{text}': column {}: {}", e.col, e.msg))?;
    for node in &format.nodes {
        let name = match node {
            Node::Expr(e, _) => e.fetch.kw.name,
            Node::Var(v, _) if matches!(*v, "sslv" | "sslc") => v,
            _ => continue,
        };
        if NOT_THERE.contains(&name) || name.starts_with("ssl") {
            return Err(format!(
                "error-log-format '{text}': '{name}' is not written in connection error lines by fulcrum (HAProxy writes OpenSSL's codes and the failed handshake's TLS version there; fulcrum's TLS has neither)"
            ));
        }
    }
    Ok(())
}

/// The `%` variables a `unique-id-format` may use (`+X` writes them in hexadecimal).
pub const UNIQUE_ID_VARS: &[&str] = &["ci", "cp", "fi", "fp", "Ts", "rt", "pid", "o"];

/// Checks `unique-id-format`: request fetches are there when it is made.
pub fn check_unique_id_format(text: &str) -> Result<(), String> {
    let mut compiler = Compiler::default().with_available(Needs::Request);
    let format = compile_format_with(text, &mut compiler)
        .map_err(|e| format!("unique-id-format '{text}': column {}: {}", e.col, e.msg))?;
    for node in &format.nodes {
        match node {
            Node::Lit(_) => {}
            Node::Expr(e, _) => {
                let name = e.fetch.kw.name;
                if fulcrum_sample::fetch::is_counter(name) || name == "unique-id" {
                    return Err(format!(
                        "unique-id-format '{text}': fetch '{name}' is not run there by fulcrum"
                    ));
                }
                check_answered(name).map_err(|e| format!("unique-id-format '{text}': {e}"))?;
            }
            Node::Var(v, _) => {
                if !UNIQUE_ID_VARS.contains(v) {
                    return Err(format!(
                        "unique-id-format '{text}': variable '%{v}' is not written there by fulcrum yet (it has {})",
                        UNIQUE_ID_VARS.join(" ")
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Checks a log-format string used in a rule value; `request`: an `http-request` rule (no
/// response to read). `what` names the value in the message.
pub fn check_rule_value(text: &str, request: bool, what: &str) -> Result<(), String> {
    let available = if request {
        Needs::Request
    } else {
        Needs::Response
    };
    let mut compiler = Compiler::default().with_available(available);
    let format = compile_format_with(text, &mut compiler)
        .map_err(|e| format!("{what} '{text}': column {}: {}", e.col, e.msg))?;
    fulcrum_sample::logformat::note_rule_value(&format);
    for node in &format.nodes {
        match node {
            Node::Lit(_) => {}
            Node::Expr(e, _) => {
                check_answered(e.fetch.kw.name).map_err(|e| format!("{what} '{text}': {e}"))?;
            }
            Node::Var(v, _) => {
                if !HTTP_VARS.contains(v) {
                    return Err(format!(
                        "{what} '{text}': log-format variable '%{v}' is not run by fulcrum in rule values"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked() {
        assert!(check_rule_value("%[src] %ci %[req.hdr(host),lower]", true, "v").is_ok());
        assert!(check_rule_value("plain text", true, "v").is_ok());
        let e = check_rule_value("%[status]", true, "v").expect_err("no response yet");
        assert!(e.contains("column 3"), "{e}");
        assert!(check_rule_value("%[status]", false, "v").is_ok());
        let e = check_rule_value("%[fc_pp_tlv(1)]", true, "v").expect_err("not 2.6");
        assert!(e.contains("unknown fetch"), "{e}");
        let e = check_rule_value("%[url", true, "v").expect_err("unclosed");
        assert!(e.contains("missing ']'"), "{e}");
        // Every `%` variable of the manual's table runs in rule values (haproxy 2.6 writes
        // them with what is known then), unknown flags are ignored as haproxy ignores them.
        for v in fulcrum_sample::logformat::VARIABLES {
            let text = format!("%{{+Q,+M}}{v}");
            assert!(check_rule_value(&text, true, "v").is_ok(), "{text}");
        }
        assert!(check_rule_value("%Tt %b/%s %ID %{Q}B", false, "v").is_ok());
    }

    #[test]
    fn http_mode_variables_are_refused_in_tcp_proxies() {
        let text = "defaults\n  mode tcp\nfrontend f\n  bind :8000\n  log-format \"%ci %HM\"\n\
                    \x20 tcp-request content set-var-fmt(sess.x) \"%b %TR\"\n  default_backend b\n\
                    backend b\n  server s 127.0.0.1:80\n\
                    frontend h\n  mode http\n  bind :8001\n  log-format \"%HM %TR\"\n\
                    \x20 tcp-request content set-var-fmt(sess.x) \"%r\"\n  default_backend hb\n\
                    backend hb\n  mode http\n  server s 127.0.0.1:80\n";
        let l = crate::load_sources(&[crate::Source {
            name: "t.cfg",
            text,
        }]);
        let errors: Vec<String> = l.diagnostics.errors().map(|d| d.to_string()).collect();
        assert_eq!(
            errors,
            [
                "t.cfg:3: error: proxy 'f': log-format '%ci %HM': format variable 'HM' is reserved for HTTP mode",
                "t.cfg:6: error: format variable 'TR' is reserved for HTTP mode",
            ]
        );
    }

    #[test]
    fn log_lines_write_what_haproxy_writes() {
        // As haproxy 2.6: the transaction's status, the stream's id, its stick counters and
        // the table converters are written in log lines.
        for ok in [
            "%[status] %[unique-id]",
            "%[sc0_http_req_rate] %[sc_get_gpc0(0)] %[src_conn_rate(t)] %[sc1_conn_cnt]",
            "%[src,table_http_req_rate(t)] %[src,in_table(t)]",
            "%{+M}ST %{+Q,M}b %{Q}ci",
            // the request's facts haproxy keeps (`haproxy -dKsmp`'s "logs" column)
            "%[method] %[http_first_req] %[req.proto_http] %[prio_class] %[prio_offset]",
            "%[wait_end] %[capture.req.method] %[capture.req.uri] %[be_id] %[bc_err]",
        ] {
            assert!(
                check_log_format(ok).is_ok(),
                "{ok}: {:?}",
                check_log_format(ok)
            );
        }
        // The request's own content is not there when the line is written (refused by haproxy).
        let e = check_log_format("%[req.hdr(host)]").expect_err("request");
        assert!(e.contains("reads the request"), "{e}");
    }
}
