//! `server NAME ADDRESS[:PORT] [options]` and `default-server [options]`.
//!
//! A `server` starts as a copy of the proxy's `default-server` template; its own options then
//! apply. Options that only matter to health checks are reported when `check` is missing.

use super::line::{number_in, time, Line};
use super::suggest::did_you_mean;
use crate::diagnostics::Diagnostics;
use crate::model::{Observe, OnError, Server, ServerAddress, ServerPort};
use std::net::IpAddr;
use std::time::Duration;

mod address;
pub mod limits;
pub use address::parse_address;

/// HAProxy's defaults for a server.
pub fn default_server() -> Server {
    Server {
        name: String::new(),
        span: Default::default(),
        id: None,
        address: ServerAddress {
            host: String::new(),
            ip: None,
            port: ServerPort::Unset,
            unix: None,
        },
        weight: 1,
        maxconn: None,
        backup: false,
        non_stick: false,
        disabled: false,
        check: false,
        inter: Duration::from_secs(2),
        fastinter: None,
        downinter: None,
        fall: 3,
        rise: 2,
        check_port: None,
        check_addr: None,
        cookie: None,
        observe: None,
        error_limit: 10,
        on_error: OnError::FailCheck,
        send_proxy: false,
        send_proxy_v2: false,
        check_send_proxy: false,
        check_tls: Default::default(),
        agent: Default::default(),
        source: None,
        socks4: None,
        check_via_socks4: false,
        check_proto_h2: None,
        ssl: false,
        tls: Default::default(),
        proto_h2: false,
        max_reuse: None,
        pool_purge_delay: Duration::from_secs(5),
        pool_max_conn: None,
        pool_low_conn: 0,
        limits: Default::default(),
    }
}

const KNOWN: &[&str] = &[
    "weight",
    "maxconn",
    "max-reuse",
    "pool-purge-delay",
    "pool-max-conn",
    "pool-low-conn",
    "backup",
    "disabled",
    "enabled",
    "check",
    "no-check",
    "inter",
    "fastinter",
    "downinter",
    "fall",
    "rise",
    "port",
    "addr",
    "cookie",
    "observe",
    "error-limit",
    "on-error",
    "send-proxy",
    "send-proxy-v2",
    "no-send-proxy",
    "no-send-proxy-v2",
    "check-send-proxy",
    "agent-check",
    "no-agent-check",
    "agent-port",
    "agent-inter",
    "agent-addr",
    "agent-send",
    "no-check-send-proxy",
    "no-backup",
    "source",
    "socks4",
    "check-via-socks4",
    "check-proto",
];

/// Server options fulcrum reads but does not act on (yet), with how many values each takes.
const IGNORED: &[(&str, usize)] = &[
    ("resolvers", 1),
    ("init-addr", 1),
    ("tfo", 0),
    ("ws", 1),
    ("resolve-prefer", 1),
    ("resolve-net", 1),
    ("resolve-opts", 1),
    ("shard", 1),
    ("tcp-ut", 1),
    ("log-proto", 1),
    ("hash-key", 1),
    ("guid", 1),
];

const TLS: &[(&str, usize)] = &[
    ("ssl", 0),
    ("check-ssl", 0),
    ("verify", 1),
    ("sni", 1),
    ("ca-file", 1),
    ("crt", 1),
    ("alpn", 1),
    ("check-sni", 1),
    ("check-alpn", 1),
    ("ciphers", 1),
    ("ssl-min-ver", 1),
    ("ssl-max-ver", 1),
    ("verifyhost", 1),
    ("no-ssl", 0),
    ("no-ssl-reuse", 0),
    ("force-tlsv12", 0),
];

pub fn parse_server(
    line: &Line<'_>,
    template: &Server,
    diags: &mut Diagnostics,
) -> Result<Server, String> {
    let name = line.need(1, "a server name")?.to_string();
    let addr = line.address(2, "an address such as 10.0.0.1:80")?;
    let mut s = template.clone();
    s.name = name;
    s.span = line.span.clone();
    s.address = parse_address(&addr)?;
    let written = apply_options(&mut s, line, 3, diags)?;
    h2_only_warnings(&s, &written, &line.span, diags);
    if !s.check {
        let check_only: Vec<&str> = written
            .iter()
            .copied()
            .filter(|o| {
                matches!(
                    *o,
                    "inter"
                        | "fastinter"
                        | "downinter"
                        | "fall"
                        | "rise"
                        | "port"
                        | "addr"
                        | "observe"
                        | "on-error"
                        | "error-limit"
                )
            })
            .collect();
        if let Some(first) = check_only.first() {
            diags.warning(
                &line.span,
                format!("server '{}': '{first}' has no effect without 'check' (add 'check' to enable health checks)", s.name),
            );
        }
    }
    Ok(s)
}

pub fn parse_default_server(
    line: &Line<'_>,
    template: &mut Server,
    diags: &mut Diagnostics,
) -> Result<(), String> {
    apply_options(template, line, 1, diags).map(|_| ())
}

/// Applies options from word `start` on; returns the option keywords written.
fn apply_options<'a>(
    s: &mut Server,
    line: &Line<'a>,
    start: usize,
    diags: &mut Diagnostics,
) -> Result<Vec<&'a str>, String> {
    let mut written = Vec::new();
    let mut i = start;
    while let Some(opt) = line.arg(i) {
        written.push(opt);
        let value = |what: &str| line.need(i + 1, what);
        let mut consumed = 2;
        match opt {
            "weight" => s.weight = number_in(value("a weight from 0 to 256")?, "weight", 0, 256)?,
            "id" => s.id = Some(number_in(value("a positive integer")?, "id", 1, i32::MAX as u64)?),
            "agent-port" => s.agent.port = Some(number_in(value("a port")?, "agent-port", 1, 65535)? as u16),
            "agent-inter" => s.agent.inter = Some(positive_time(value("a time")?, "agent-inter")?),
            "agent-addr" => {
                let v = value("an IP address")?;
                s.agent.addr = Some(v.parse().map_err(|_| format!("'agent-addr' expects an IP address, found '{v}'"))?);
            }
            "agent-send" => s.agent.send = Some(value("a string")?.to_string()),
            "maxconn" => s.maxconn = Some(number_in(value("a number")?, "maxconn", 0, u64::from(u32::MAX))?),
            // HAProxy: -1 (the default) is unlimited, 0 keeps none.
            "pool-max-conn" => {
                let v = value("a number (-1: unlimited)")?;
                s.pool_max_conn = if v == "-1" { None } else { Some(number_in(v, "pool-max-conn", 0, u64::from(u32::MAX - 1))?) };
            }
            "pool-low-conn" => s.pool_low_conn = number_in(value("a number")?, "pool-low-conn", 0, u64::from(u32::MAX))?,
            "inter" => s.inter = positive_time(value("a time")?, "inter")?,
            "max-reuse" => s.max_reuse = unlimited_or(value("a number (-1: no limit)")?, "max-reuse")?,
            "pool-purge-delay" => s.pool_purge_delay = time(value("a time")?, "pool-purge-delay")?,
            "fastinter" => s.fastinter = Some(positive_time(value("a time")?, "fastinter")?),
            "downinter" => s.downinter = Some(positive_time(value("a time")?, "downinter")?),
            "fall" => s.fall = number_in(value("a number")?, "fall", 1, 1_000_000)?,
            "rise" => s.rise = number_in(value("a number")?, "rise", 1, 1_000_000)?,
            "port" => s.check_port = Some(number_in(value("a port")?, "port", 1, 65535)? as u16),
            "addr" => {
                let v = value("an IP address")?;
                s.check_addr = Some(v.parse::<IpAddr>().map_err(|_| format!("'addr' expects an IP address, found '{v}'"))?);
            }
            "cookie" => s.cookie = Some(value("a cookie value")?.to_string()),
            // the checks' multiplexer: raw TCP, HTTP/1 or HTTP/2 (fcgi: not yet)
            "check-proto" => match value("a protocol")? {
                "h1" | "none" => s.check_proto_h2 = Some(false),
                "h2" => s.check_proto_h2 = Some(true),
                "fcgi" => {
                    return Err("server option 'check-proto fcgi' is not supported by fulcrum yet (checks speak HTTP/1 or HTTP/2)".to_string())
                }
                p => return Err(format!("'check-proto' : unknown MUX protocol '{p}'")),
            },
            "socks4" => {
                let v = value("an address such as 127.0.0.1:1080")?;
                s.socks4 = Some(v.parse::<std::net::SocketAddr>().map_err(|_| {
                    format!("'socks4' expects an IP address and a port (ADDR:PORT), found '{v}'")
                })?);
            }
            "source" => {
                let (addr, n) = super::source::parse(line, i + 1, true)?;
                s.source = Some(addr);
                consumed = 1 + n;
            }
            "observe" => {
                s.observe = Some(match value("layer4 or layer7")? {
                    "layer4" => Observe::Layer4,
                    "layer7" => Observe::Layer7,
                    other => return Err(format!("'observe' expects layer4 or layer7, found '{other}'")),
                })
            }
            "error-limit" => s.error_limit = number_in(value("a number")?, "error-limit", 1, 1_000_000)?,
            "on-error" => {
                s.on_error = match value("fastinter, fail-check, sudden-death or mark-down")? {
                    "fastinter" => OnError::Fastinter,
                    "fail-check" => OnError::FailCheck,
                    "sudden-death" => OnError::SuddenDeath,
                    "mark-down" => OnError::MarkDown,
                    other => return Err(format!("'on-error' expects fastinter, fail-check, sudden-death or mark-down, found '{other}'")),
                }
            }
            _ if limits::is_option(opt) => consumed = limits::apply(s, line, i)?,
            _ => {
                consumed = 1;
                match opt {
                    "backup" => s.backup = true,
                    "non-stick" => s.non_stick = true,
                    "stick" => s.non_stick = false,
                    "no-backup" => s.backup = false,
                    "disabled" => s.disabled = true,
                    "enabled" => s.disabled = false,
                    "check" => s.check = true,
                    "no-check" => s.check = false,
                    "send-proxy" => s.send_proxy = true,
                    "no-send-proxy" => s.send_proxy = false,
                    "send-proxy-v2" => s.send_proxy_v2 = true,
                    "no-send-proxy-v2" => s.send_proxy_v2 = false,
                    "check-send-proxy" => s.check_send_proxy = true,
                    "check-via-socks4" => s.check_via_socks4 = true,
                    "agent-check" => s.agent.enabled = true,
                    "no-agent-check" => s.agent.enabled = false,
                    "no-check-send-proxy" => s.check_send_proxy = false,
                    // HAProxy's multiplexers for servers: `h1` and `h2` (`fcgi` is not run).
                    "proto" => {
                        match line.need(i + 1, "a protocol")? {
                            "h1" => s.proto_h2 = false,
                            "h2" => s.proto_h2 = true,
                            other => {
                                return Err(format!(
                                    "server option 'proto {other}' is not supported by fulcrum (expected 'h1' or 'h2')"
                                ))
                            }
                        }
                        consumed = 2;
                    }
                    _ => {
                        if let Some((_, n)) = IGNORED.iter().find(|(k, _)| *k == opt) {
                            for k in 1..=*n {
                                line.need(i + k, &format!("a value after '{opt}'"))?;
                            }
                            consumed = 1 + n;
                            diags.warning(&line.span, format!("server option '{opt}' is not supported by fulcrum yet and is ignored"));
                        } else if opt == "ssl" {
                            s.ssl = true;
                        } else if opt == "no-ssl" {
                            s.ssl = false;
                        } else if let Some(v) = if opt.starts_with("check-") || opt == "no-check-ssl" {
                            check_tls_option(opt, line.arg(i + 1), &mut s.check_tls)?
                        } else {
                            None
                        } {
                            consumed = v;
                        } else if let Some(n) = {
                            // `verify` and `ca-file` serve the server's TLS and its checks'.
                            // (`verify optional` and other values are the server's to refuse.)
                            if opt == "verify" || opt == "ca-file" {
                                let _ = check_tls_option(opt, line.arg(i + 1), &mut s.check_tls);
                            }
                            if opt == "ca-file" {
                                // under `default-path` and `ca-base`, as the server's own
                                let ca = s.check_tls.ca_file.take();
                                s.check_tls.ca_file = ca.map(|f| line.paths.ca(&f));
                            }
                            let mut warn = Vec::new();
                            let r = super::ssl::option(line, i, super::ssl::Side::Server, &mut s.tls, &mut warn)?;
                            for w in warn {
                                diags.warning(&line.span, w);
                            }
                            r
                        } {
                            consumed = n;
                        } else if let Some((_, n)) = TLS.iter().find(|(k, _)| *k == opt) {
                            if matches!(opt, "check-ssl") {
                                return Err(format!("TLS to servers ('{opt}') is not supported by fulcrum yet"));
                            }
                            for k in 1..=*n {
                                line.need(i + k, &format!("a value after '{opt}'"))?;
                            }
                            consumed = 1 + n;
                            diags.warning(&line.span, format!("server option '{opt}' only applies with 'ssl'; ignored"));
                        } else if matches!(opt, "proxy-v2-options" | "send-proxy-v2-ssl" | "send-proxy-v2-ssl-cn") {
                            return Err(format!("server option '{opt}' is not supported by fulcrum yet ('send-proxy-v2' sends the addresses without TLVs)"));
                        } else {
                            return Err(format!("unknown server option '{opt}'{}", did_you_mean(opt, KNOWN)));
                        }
                    }
                }
            }
        }
        i += consumed;
    }
    Ok(written)
}

/// The server keywords of TLS health checks; Some(words consumed) when `opt` is one.
fn check_tls_option(
    opt: &str,
    value: Option<&str>,
    t: &mut crate::model::CheckTls,
) -> Result<Option<usize>, String> {
    let need = || value.ok_or_else(|| format!("'{opt}' expects a value"));
    Ok(Some(match opt {
        "check-ssl" => {
            t.enabled = true;
            1
        }
        "no-check-ssl" => {
            t.enabled = false;
            1
        }
        "check-sni" => {
            t.sni = Some(need()?.to_string());
            2
        }
        "check-alpn" => {
            t.alpn = need()?.split(',').map(str::to_string).collect();
            2
        }
        "verify" => {
            t.verify_none = match need()? {
                "none" => true,
                "required" => false,
                other => {
                    return Err(format!(
                        "'verify' expects 'none' or 'required', found '{other}'"
                    ))
                }
            };
            2
        }
        "ca-file" => {
            t.ca_file = Some(need()?.to_string());
            2
        }
        _ => return Ok(None),
    }))
}

/// `-1` (no limit: None) or a number.
fn unlimited_or(text: &str, what: &str) -> Result<Option<u32>, String> {
    if text == "-1" {
        return Ok(None);
    }
    number_in(text, what, 0, u64::from(u32::MAX)).map(Some)
}

/// `max-reuse`, `pool-max-conn` and `pool-purge-delay` are applied to HTTP/2 server
/// connections (HAProxy: "at least HTTP/2 connections to servers will respect it"); a server
/// that never speaks HTTP/2 is told so.
fn h2_only_warnings(
    s: &Server,
    written: &[&str],
    span: &crate::diagnostics::Span,
    diags: &mut Diagnostics,
) {
    let h2 = s.proto_h2 || s.tls.alpn.iter().flatten().any(|a| a == "h2");
    if h2 {
        return;
    }
    for opt in written {
        if matches!(*opt, "max-reuse" | "pool-purge-delay") {
            diags.warning(
                span,
                format!("server '{}': '{opt}' is applied to HTTP/2 server connections only (add 'proto h2' or 'alpn h2'); fulcrum's HTTP/1 connections ignore it", s.name),
            );
        }
    }
}

fn positive_time(text: &str, what: &str) -> Result<Duration, String> {
    let d = time(text, what)?;
    if d.is_zero() {
        return Err(format!("'{what}' must be greater than zero"));
    }
    Ok(d)
}

/// `check-ssl` servers once the whole file is read: `verify` on the server line, else the
/// global `ssl-server-verify` (wherever `global` was written), else `required`, which needs a
/// `ca-file` (haproxy -c refuses it the same way).
pub fn check_tls_verify(
    servers: &mut [Server],
    global: Option<crate::tls::Verify>,
) -> Vec<(crate::diagnostics::Span, String)> {
    let mut errors = Vec::new();
    for s in servers.iter_mut().filter(|s| s.check_tls.enabled) {
        let verify = s
            .tls
            .verify
            .or(global)
            .unwrap_or(crate::tls::Verify::Required);
        s.check_tls.verify_none = verify == crate::tls::Verify::None;
        if !s.check_tls.verify_none && s.check_tls.ca_file.is_none() {
            errors.push((s.span.clone(), format!("server '{}': 'check-ssl': verify is enabled by default but no CA file specified; write 'verify none' on the server line or 'ssl-server-verify none' in the global section, or give a 'ca-file'", s.name)));
        }
    }
    errors
}
