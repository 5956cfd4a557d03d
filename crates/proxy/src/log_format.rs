//! Traffic log lines in a format: the proxy's `log-format`, or the predefined format of
//! `option httplog` (`clf`) / `option tcplog` as HAProxy 2.6 defines them (log-format strings
//! of the same engine), compiled once per config and rendered from a finished request's or
//! session's [`Entry`] and its HTTP messages. A frontend with none of them writes the
//! legacy `Connect from` line (`logline`).

use crate::farm::outcome::Retries;
use crate::http::capture::Captures;
use crate::http::message::Message;
use crate::log::Logger;
use crate::logline::Entry;
use crate::termination::{Cause, Termination};
use fulcrum_config::model::{Mode, Proxy};

/// The line `format` says for `e`.
pub fn render(
    format: &fulcrum_sample::Format,
    e: &Entry<'_>,
    req: Option<&Message>,
    res: Option<&Message>,
    caps: &Captures,
) -> String {
    let mut seen = crate::http::sample_env::Situation::new(e.peer, e.local)
        .with_tls(e.tls)
        .with_captures(caps, e.samples)
        .with_counters(e.counters)
        .at(e.place);
    // `%[unique-id]` is the stream's id; `%[status]` the server's answer's (none when the
    // proxy answered: haproxy 2.6 reads the response's start line, measured `-` after a
    // `deny` or a `return`).
    seen.unique_id = e.unique_id;
    seen.priority = e.priority;
    seen.no_server_answer = e.timers.response.is_none();
    seen.log_end = !e.open;
    let env = seen.view(req, res);
    let mut out = Vec::with_capacity(256);
    format.render_log(
        &env,
        &mut |name, flags, o| crate::log_vars::write(e, &env, caps, name, flags, o),
        b"-",
        &mut out,
    );
    // Valid UTF-8 (the usual line) is taken as it is, without a copy.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A proxy's logger (`log::Logger::for_proxy`) with its compiled `log-format-sd`.
pub fn logger(p: &Proxy, g: &fulcrum_config::model::Global) -> Result<Option<Logger>, String> {
    let Some(mut l) = Logger::for_proxy(p, g) else {
        return Ok(None);
    };
    if let Some(sd) = &p.options.log_format_sd {
        let f = fulcrum_sample::compile_format(sd).map_err(|e| format!("log-format-sd: {e}"))?;
        l.sd = Some(prepare(f, &Captures::new(&p.captures)));
    }
    if let Some(e) = &p.options.log.error_log_format {
        let f = fulcrum_sample::compile_format(e).map_err(|e| format!("error-log-format: {e}"))?;
        l.error_format = Some(prepare(f, &Captures::new(&[])));
    }
    Ok(Some(l))
}

/// Whether a request or session ended in what HAProxy 2.6 calls an error for `option
/// dontlog-normal` (only those are logged) and `option log-separate-errors` (logged at
/// `err`): a redispatch, a termination cause other than none or a local answer, a connection
/// retry without one, or an HTTP status of 500 or more.
pub fn is_error(mode: Mode, term: Termination, retries: Retries, status: u16) -> bool {
    retries.redispatched
        || !matches!(term.cause, Cause::Normal | Cause::Local)
        || (term.cause == Cause::Normal && retries.count > 0)
        || (mode == Mode::Http && status >= 500)
}

/// The syslog level of a traffic line without `set-log-level`: `err` for an error under
/// `option log-separate-errors`, else `info`; `None`: not logged (`option dontlog-normal`
/// and no error).
pub fn level(o: &fulcrum_config::model::ProxyOptions, error: bool) -> Option<u8> {
    match (error, o.dontlog_normal, o.log_separate_errors) {
        (false, true, _) => None,
        (true, _, true) => Some(ERR),
        _ => Some(crate::log::INFO),
    }
}

/// Syslog severity `err`.
const ERR: u8 = 3;

/// What `option httpslog` adds to `option httplog`'s format (HAProxy 2.6, section 8.2.4).
const HTTPS_FIELDS: &str = "%[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc";

/// The format a frontend's traffic lines are written in: its `log-format`, else the
/// predefined format of `option httplog` (`clf`) or `option tcplog` (HAProxy writes the TCP
/// format for `option httplog` on a TCP frontend); `None`: the legacy `Connect from` line.
pub fn for_proxy(p: &Proxy) -> Result<Option<fulcrum_sample::Format>, String> {
    use fulcrum_sample::logformat::{CLF_HTTP_LOG, HTTP_LOG, TCP_LOG};
    let o = &p.options;
    let https;
    let text = match (&p.log_format, p.mode) {
        (Some(f), _) => f.as_str(),
        (None, Mode::Http) if o.log.httpslog => {
            https = format!("{HTTP_LOG} {HTTPS_FIELDS}");
            https.as_str()
        }
        (None, Mode::Http) if o.httplog && o.httplog_clf => CLF_HTTP_LOG,
        (None, Mode::Http) if o.httplog => HTTP_LOG,
        (None, _) if o.tcplog || o.httplog || o.log.httpslog => TCP_LOG,
        (None, _) => return Ok(None),
    };
    let f = fulcrum_sample::compile_format(text).map_err(|e| format!("log-format: {e}"))?;
    Ok(Some(prepare(f, &Captures::new(&p.captures))))
}

/// Whether a frontend's lines write the server connection's own address (`%bi`, `%bp`, in
/// its format or its `log-format-sd`), or some expression reads it (`bc_src`): only then is
/// it asked of the socket, per request.
pub fn writes_source(
    f: Option<&fulcrum_sample::Format>,
    sd: Option<&fulcrum_sample::Format>,
) -> bool {
    asks_source(names_source(f, sd))
}

/// [`writes_source`] of a frontend whose formats' answer ([`names_source`]) was found when
/// it was built: what is left per request is two flags of the process (set by whatever
/// expression compiled so far reads the address).
#[inline]
pub fn asks_source(names: bool) -> bool {
    names || fulcrum_sample::fetch::bc_src_read() || fulcrum_sample::logformat::rule_source_read()
}

/// Whether a frontend's line formats name `%bi` or `%bp` (a scan of their nodes: done once
/// per frontend, not per request).
pub fn names_source(
    f: Option<&fulcrum_sample::Format>,
    sd: Option<&fulcrum_sample::Format>,
) -> bool {
    use fulcrum_sample::logformat::Node;
    [f, sd].into_iter().flatten().any(|f| {
        f.nodes
            .iter()
            .any(|n| matches!(n, Node::Var("bi" | "bp", _)))
    })
}

/// A compiled log format as HAProxy writes it: a run of blanks in the format is one
/// separator, written once and never at the start of the line nor right after another; and
/// `%hr`/`%hs`/`%hrl`/`%hsl` of a side that captures nothing write nothing at all (not `-`),
/// so the separators around them are written once.
pub fn prepare(format: fulcrum_sample::Format, caps: &Captures) -> fulcrum_sample::Format {
    format.blanks_once(|name| match name {
        "hr" | "hrl" => caps.block(None, false).is_none(),
        "hs" | "hsl" => caps.block(None, true).is_none(),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: &str, caps: &Captures) -> String {
        let f = prepare(fulcrum_sample::compile_format(f).expect("format"), caps);
        f.nodes
            .iter()
            .map(|n| match n {
                fulcrum_sample::logformat::Node::Lit(l) => String::from_utf8_lossy(l).into_owned(),
                fulcrum_sample::logformat::Node::Var(v, _) => format!("<{v}>"),
                fulcrum_sample::logformat::Node::Expr(..) => "<expr>".into(),
            })
            .collect()
    }

    #[test]
    fn separators_as_haproxy_writes_them() {
        let none = Captures::new(&[]);
        assert_eq!(text("  a   b %hr %hs %hrl c ", &none), "a b c ");
        assert_eq!(text("%{+Q}o %{-Q}ci - x", &none), "<ci> - x");
        let req = Captures::new(&[fulcrum_config::model::Capture {
            response: false,
            name: "Host".into(),
            len: 5,
            sample: false,
        }]);
        assert_eq!(text("%sq/%bq %hr %hs %r", &req), "<sq>/<bq> <hr> <r>");
    }
}
