//! Proxy keywords with many forms: `option`, `timeout`, `balance`, `cookie`.

use super::line::{number, number_in, time, Line};
use super::suggest::did_you_mean;
use crate::diagnostics::Diagnostics;
use crate::model::{
    Balance, CookieMethod, CookiePersistence, ForwardFor, HttpChk, HttpConnectionMode, Proxy,
    Timeouts,
};

const OPTIONS: &[&str] = &[
    "redispatch",
    "forwardfor",
    "http-server-close",
    "httpclose",
    "http-keep-alive",
    "httplog",
    "httpslog",
    "logasap",
    "tcplog",
    "dontlognull",
    "httpchk",
    "allbackups",
    "persist",
    "abortonclose",
    "log-health-checks",
    "originalto",
    "http-ignore-probes",
    "http-buffer-request",
    "dontlog-normal",
    "log-separate-errors",
    "accept-invalid-http-request",
    "accept-invalid-http-response",
    "h1-case-adjust-bogus-client",
    "h1-case-adjust-bogus-server",
    "http-use-proxy-header",
    "splice-auto",
    "splice-request",
    "splice-response",
];

/// Real options fulcrum reads but does not act on (yet): accepted with a warning.
const IGNORED_OPTIONS: &[&str] = &[
    "tcpka",
    "clitcpka",
    "srvtcpka",
    "http-no-delay",
    "socket-stats",
    "independent-streams",
    "nolinger",
    "contstats",
    "disable-h2-upgrade",
    "idle-close-on-response",
    "tcp-smart-accept",
    "tcp-smart-connect",
];

/// Real options fulcrum does not run yet whose absence clients, servers or log readers would
/// see: refused, never ignored.
const NOT_YET_OPTIONS: &[&str] = &[];

const REMOVED_OPTIONS: &[(&str, &str)] = &[
    ("forceclose", "option httpclose"),
    ("http-tunnel", "option http-keep-alive"),
];

pub fn option(
    p: &mut Proxy,
    line: &Line<'_>,
    enable: bool,
    diags: &mut Diagnostics,
) -> Result<(), String> {
    // `option X ...` or `no option X`
    let base = if enable { 1 } else { 2 };
    let name = line.need(base, "an option name")?;
    let o = &mut p.options;
    match name {
        "redispatch" => o.redispatch = enable,
        "prefer-last-server" => o.prefer_last_server = enable,
        "forwardfor" => {
            if !enable {
                o.forwardfor = None;
                return Ok(());
            }
            let mut ff = ForwardFor {
                except: None,
                header: "X-Forwarded-For".into(),
                if_none: false,
            };
            let mut i = base + 1;
            while let Some(arg) = line.arg(i) {
                match arg {
                    "except" => {
                        ff.except = Some(line.need(i + 1, "a network such as 127.0.0.0/8")?.to_string());
                        i += 2;
                    }
                    "header" => {
                        ff.header = line.need(i + 1, "a header name")?.to_string();
                        i += 2;
                    }
                    "if-none" => {
                        ff.if_none = true;
                        i += 1;
                    }
                    other => return Err(format!("'option forwardfor' expects 'except', 'header' or 'if-none', found '{other}'")),
                }
            }
            o.forwardfor = Some(ff);
        }
        "http-server-close" | "httpclose" | "http-keep-alive" => {
            let mode = match name {
                "http-server-close" => HttpConnectionMode::ServerClose,
                "httpclose" => HttpConnectionMode::Close,
                _ => HttpConnectionMode::KeepAlive,
            };
            if enable {
                o.http_connection = mode;
            } else if o.http_connection == mode {
                o.http_connection = HttpConnectionMode::KeepAlive;
            }
        }
        "httplog" => {
            // "option httplog" overrides any previous "log-format" (HAProxy 2.6).
            if enable {
                p.log_format = None;
                p.options.log.httpslog = false;
            }
            let o = &mut p.options;
            o.httplog = enable;
            o.httplog_clf = false;
            if let Some(extra) = line.arg(base + 1) {
                if extra != "clf" {
                    return Err(format!(
                        "'option httplog' expects nothing or 'clf', found '{extra}'"
                    ));
                }
                o.httplog_clf = enable;
            }
        }
        "tcplog" => o.tcplog = enable,
        "httpslog" => {
            if enable {
                p.log_format = None;
                p.options.httplog = false;
            }
            p.options.log.httpslog = enable;
        }
        "logasap" => o.log.logasap = enable,
        "dontlog-normal" => o.dontlog_normal = enable,
        "log-separate-errors" => o.log_separate_errors = enable,
        "dontlognull" => o.dontlognull = enable,
        "allbackups" => o.allbackups = enable,
        "persist" => o.persist = enable,
        "abortonclose" => o.abortonclose = enable,
        "log-health-checks" => o.log_health_checks = enable,
        "http-ignore-probes" => o.http_ignore_probes = enable,
        "accept-invalid-http-request" => o.h1.accept_invalid_request = enable,
        "accept-invalid-http-response" => o.h1.accept_invalid_response = enable,
        "h1-case-adjust-bogus-client" => o.h1.case_adjust_client = enable,
        "h1-case-adjust-bogus-server" => o.h1.case_adjust_server = enable,
        "http-use-proxy-header" => o.h1.use_proxy_header = enable,
        "http-buffer-request" => o.http_buffer_request = enable,
        "splice-auto" => o.splice.auto = Some(enable),
        "splice-request" => o.splice.request = Some(enable),
        "splice-response" => o.splice.response = Some(enable),
        "originalto" => super::extras::originalto(o, line, base, enable)?,
        "httpchk" => {
            if !enable {
                o.httpchk = None;
                return Ok(());
            }
            let args = line.args_from(base + 1);
            let mut chk = HttpChk::default();
            match args {
                [] => {}
                [uri] => chk.uri = uri.clone(),
                [meth, uri] => {
                    chk.method = meth.clone();
                    chk.uri = uri.clone();
                }
                [meth, uri, ver, rest @ ..] => {
                    chk.method = meth.clone();
                    chk.uri = uri.clone();
                    chk.version = ver.clone();
                    if !rest.is_empty() {
                        chk.extra = Some(rest.join(" "));
                    }
                }
            }
            if !chk.method.chars().all(|c| c.is_ascii_uppercase()) || chk.method.is_empty() {
                return Err(format!(
                    "'option httpchk' method must be an HTTP method such as GET, found '{}'",
                    chk.method
                ));
            }
            o.httpchk = Some(chk);
            o.check_protocol = None; // the last check option wins, as in HAProxy
        }
        _ => {
            if let Some(r) = super::keywords::option(o, name, line, base, enable) {
                return r;
            }
            if let Some(protocol) = super::tcp_check::protocol_option(name, line, base) {
                if enable {
                    o.check_protocol = Some(protocol?);
                    o.httpchk = None;
                } else {
                    o.check_protocol = None;
                }
                return Ok(());
            }
            // HAProxy 2.6 refuses it as an unknown option (HTX is the only mode since 2.1).
            if name == "http-use-htx" {
                return Err(
                    "unknown option 'http-use-htx' (HAProxy 2.6 refuses it too: HTX is always used; remove the line)".into(),
                );
            }
            if let Some((_, instead)) = REMOVED_OPTIONS.iter().find(|(k, _)| *k == name) {
                return Err(format!(
                    "'option {name}' was removed in HAProxy 2.x; use '{instead}' instead"
                ));
            }
            if NOT_YET_OPTIONS.contains(&name) {
                return Err(format!(
                    "'option {name}' is not supported by fulcrum yet (ignoring it would change what clients, servers or logs see)"
                ));
            }
            if IGNORED_OPTIONS.contains(&name) {
                diags.warning(
                    &line.span,
                    format!("'option {name}' is not supported by fulcrum yet and is ignored"),
                );
                return Ok(());
            }
            return Err(format!(
                "unknown option '{name}'{}",
                did_you_mean(name, OPTIONS)
            ));
        }
    }
    Ok(())
}

pub fn timeout(t: &mut Timeouts, line: &Line<'_>, _diags: &mut Diagnostics) -> Result<(), String> {
    let which = line.need(1, "a timeout name such as 'connect', 'client' or 'server'")?;
    let value = line.need(2, &format!("a time after 'timeout {which}'"))?;
    let d = time(value, &format!("timeout {which}"))?;
    line.no_more(3)?;
    let slot = match which {
        "connect" => &mut t.connect,
        "client" => &mut t.client,
        "server" => &mut t.server,
        "http-request" => &mut t.http_request,
        "http-keep-alive" => &mut t.http_keep_alive,
        "queue" => &mut t.queue,
        "check" => &mut t.check,
        "tunnel" => &mut t.tunnel,
        "client-fin" => &mut t.client_fin,
        "server-fin" => &mut t.server_fin,
        "tarpit" => &mut t.tarpit,
        other => {
            const NAMES: &[&str] = &[
                "connect",
                "client",
                "server",
                "http-request",
                "http-keep-alive",
                "queue",
                "check",
                "tunnel",
                "client-fin",
                "server-fin",
                "tarpit",
            ];
            return Err(format!(
                "unknown timeout '{other}'{} (expected one of {})",
                did_you_mean(other, NAMES),
                NAMES.join(", ")
            ));
        }
    };
    *slot = Some(d);
    Ok(())
}

pub fn balance(line: &Line<'_>) -> Result<Balance, String> {
    let algo = line.need(1, "an algorithm such as roundrobin, leastconn or source")?;
    let b = match algo {
        "roundrobin" => Balance::Roundrobin,
        "static-rr" => Balance::StaticRr,
        "leastconn" => Balance::Leastconn,
        "first" => Balance::First,
        "source" => Balance::Source,
        "uri" => {
            let (mut whole, mut len, mut depth) = (false, None, None);
            let mut i = 2;
            while let Some(a) = line.arg(i) {
                match a {
                    "whole" => whole = true,
                    "len" => {
                        len = Some(number(line.need(i + 1, "a length")?, "balance uri len")?);
                        i += 1;
                    }
                    "depth" => {
                        depth = Some(number(line.need(i + 1, "a depth")?, "balance uri depth")?);
                        i += 1;
                    }
                    "path-only" => {}
                    other => {
                        return Err(format!(
                        "'balance uri' expects whole, len N, depth N or path-only, found '{other}'"
                    ))
                    }
                }
                i += 1;
            }
            return Ok(Balance::Uri { whole, len, depth });
        }
        "url_param" => {
            return Ok(Balance::UrlParam {
                param: line.need(2, "a parameter name")?.to_string(),
            })
        }
        _ => {
            if let Some(name) = algo.strip_prefix("hdr(").and_then(|r| r.strip_suffix(')')) {
                if name.is_empty() {
                    return Err("'balance hdr()' needs a header name, e.g. hdr(host)".into());
                }
                let use_domain_only = line.arg(2) == Some("use_domain_only");
                return Ok(Balance::Hdr {
                    name: name.to_string(),
                    use_domain_only,
                });
            }
            if algo == "random" || algo.starts_with("random(") {
                let draws = match algo
                    .strip_prefix("random(")
                    .and_then(|r| r.strip_suffix(')'))
                {
                    Some(n) => number_in(n, "random draws", 1, 100)?,
                    None if algo == "random" => 2,
                    None => {
                        return Err(format!("malformed '{algo}' (expected random or random(N))"))
                    }
                };
                return Ok(Balance::Random { draws });
            }
            if algo == "rdp-cookie" || algo.starts_with("rdp-cookie(") {
                let name = algo
                    .strip_prefix("rdp-cookie(")
                    .and_then(|r| r.strip_suffix(')'))
                    .map(str::to_string);
                return Ok(Balance::RdpCookie { name });
            }
            const ALGOS: &[&str] = &[
                "roundrobin",
                "static-rr",
                "leastconn",
                "first",
                "source",
                "uri",
                "url_param",
                "hdr(NAME)",
                "random",
                "rdp-cookie",
            ];
            return Err(format!(
                "unknown balance algorithm '{algo}'{} (expected one of {})",
                did_you_mean(algo, ALGOS),
                ALGOS.join(", ")
            ));
        }
    };
    line.no_more(2)?;
    Ok(b)
}

pub fn cookie(line: &Line<'_>) -> Result<CookiePersistence, String> {
    let name = line.need(1, "a cookie name")?.to_string();
    let mut c = CookiePersistence {
        span: line.span.clone(),
        name,
        method: CookieMethod::Rewrite,
        indirect: false,
        nocache: false,
        postonly: false,
        preserve: false,
        httponly: false,
        secure: false,
        domains: Vec::new(),
        maxidle: None,
        maxlife: None,
    };
    let mut methods = 0;
    let mut i = 2;
    while let Some(a) = line.arg(i) {
        match a {
            "rewrite" | "insert" | "prefix" => {
                methods += 1;
                c.method = match a {
                    "rewrite" => CookieMethod::Rewrite,
                    "insert" => CookieMethod::Insert,
                    _ => CookieMethod::Prefix,
                };
            }
            "indirect" => c.indirect = true,
            "nocache" => c.nocache = true,
            "postonly" => c.postonly = true,
            "preserve" => c.preserve = true,
            "httponly" => c.httponly = true,
            "secure" => c.secure = true,
            "dynamic" => {}
            "domain" => {
                c.domains.push(line.need(i + 1, "a domain")?.to_string());
                i += 1;
            }
            "maxidle" | "maxlife" | "attr" => {
                let v = line.need(i + 1, "a value")?;
                match a {
                    "maxidle" => c.maxidle = Some(time(v, "cookie maxidle")?),
                    "maxlife" => c.maxlife = Some(time(v, "cookie maxlife")?),
                    _ => {}
                }
                i += 1;
            }
            other => return Err(format!("unknown 'cookie' option '{other}' (expected rewrite, insert, prefix, indirect, nocache, postonly, preserve, httponly, secure, domain, maxidle or maxlife)")),
        }
        i += 1;
    }
    if methods > 1 {
        return Err("'cookie' takes only one of 'rewrite', 'insert' and 'prefix'".into());
    }
    if c.method != CookieMethod::Insert
        && (c.indirect || c.preserve || c.postonly || c.maxidle.is_some() || c.maxlife.is_some())
    {
        if c.indirect && c.method == CookieMethod::Rewrite {
            // HAProxy accepts rewrite+indirect; nothing to say.
        } else if c.preserve || c.postonly || c.maxidle.is_some() || c.maxlife.is_some() {
            return Err(
                "'cookie' options preserve, postonly, maxidle and maxlife need 'insert'".into(),
            );
        }
    }
    Ok(c)
}
