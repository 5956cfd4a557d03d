//! Traffic log lines in a format: the proxy's `log-format`, or the predefined format of
//! `option httplog` (`clf`) / `option tcplog` as HAProxy 2.6 defines them (log-format strings
//! of the same engine), compiled once per config and rendered from a finished request's or
//! session's [`Entry`] and its HTTP messages. A frontend with none of them writes the
//! legacy `Connect from` line (`logline`).

use crate::http::capture::Captures;
use crate::http::message::Message;
use crate::http::sample_env::HttpEnv;
use crate::log::Logger;
use crate::log::{accept_date, ms};
use crate::logline::Entry;
use crate::net::shown;
use crate::termination::{Cause, Termination};
use fulcrum_config::model::{Mode, Proxy};
use fulcrum_sample::logformat::Written;
use std::io::Write;
use std::time::UNIX_EPOCH;

/// Writes `%` variable `name` of `e` into `out`; false when it has no value here.
fn var(
    e: &Entry<'_>,
    env: &HttpEnv<'_>,
    caps: &Captures,
    name: &str,
    quote: bool,
    out: &mut Vec<u8>,
) -> Option<Written> {
    let ok = |b: bool| b.then_some(Written::Value);
    let t = &e.timers;
    let r = match name {
        // No TLS handshake time nor keep-alive idle time is measured apart: both are 0 and
        // `%TR` holds them (`%Tq` = `%Th` + `%Ti` + `%TR`).
        "Th" | "Ti" => write!(out, "0"),
        "Tq" => write!(out, "{}", ms(t.request)),
        "Td" => write!(out, "{}", transfer(e)),
        "U" => write!(out, "{}", e.bytes_in),
        "lc" => write!(out, "{}", e.log_count),
        "sslv" | "sslc" => match e.tls {
            Some(tls) => {
                let v = if name == "sslv" {
                    tls.version
                } else {
                    tls.cipher
                };
                write!(out, "{v}")
            }
            None => return None,
        },
        // The accept date in GMT / local time (fulcrum's local time is UTC), as `%T`.
        "T" | "Tl" | "trg" | "trl" => {
            let d = accept_date(e.accept);
            let d = d.rsplit_once('.').map_or(d.as_str(), |x| x.0);
            write!(out, "{d} +0000")
        }
        "ci" => write!(out, "{}", shown(e.peer.ip())),
        "cp" => write!(out, "{}", e.peer.port()),
        "fi" => write!(out, "{}", shown(e.local.ip())),
        "fp" => write!(out, "{}", e.local.port()),
        "f" => write!(out, "{}", e.frontend),
        "ft" => write!(out, "{}", e.frontend_transport()),
        "b" => write!(out, "{}", e.backend.unwrap_or(e.frontend)),
        "s" => write!(out, "{}", e.server.unwrap_or("<NOSRV>")),
        "t" | "tr" => write!(out, "{}", accept_date(e.accept)),
        "ms" => write!(
            out,
            "{:03}",
            e.accept
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_millis())
        ),
        "pid" => write!(out, "{}", std::process::id()),
        "TR" => write!(out, "{}", ms(t.request)),
        "Tw" => write!(out, "{}", ms(t.queue)),
        "Tc" => write!(out, "{}", ms(t.connect)),
        "Tr" => write!(out, "{}", ms(t.response)),
        "Ta" | "Tt" => write!(out, "{}", t.total.as_millis()),
        // No answer at all (e.g. a `tcp-response` reject before it): -1, as HAProxy.
        "ST" if e.status == 0 => write!(out, "-1"),
        "ST" => write!(out, "{}", e.status),
        "B" => write!(out, "{}", e.bytes),
        "ts" => write!(out, "{}", e.term),
        "tsc" => write!(
            out,
            "{}{}{}",
            e.term,
            char::from(e.cookie[0]),
            char::from(e.cookie[1])
        ),
        "ac" => write!(out, "{}", e.active),
        "fc" => write!(out, "{}", e.frontend_conns),
        "bc" | "sc" | "sq" | "bq" => write!(out, "0"),
        "rc" => write!(out, "{}", e.retries),
        "si" => match e.server_addr {
            Some(a) => write!(out, "{}", shown(a.ip())),
            None => return None,
        },
        "sp" => match e.server_addr {
            Some(a) => write!(out, "{}", a.port()),
            None => return None,
        },
        "Ts" => write!(
            out,
            "{}",
            e.accept
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        ),
        "H" => write!(out, "{}", crate::log::hostname()),
        "ID" => match e.unique_id {
            Some(id) => {
                out.extend_from_slice(id);
                return Some(Written::Value);
            }
            None => return None,
        },
        "hrl" | "hsl" => {
            let side = if name == "hsl" { env.res } else { env.req };
            let l = caps.list(side, e.samples, name == "hsl", quote)?;
            out.extend_from_slice(l.as_bytes());
            return Some(if quote {
                Written::Formatted
            } else {
                Written::Value
            });
        }
        "r" => {
            return match env.req.filter(|r| !r.method().is_empty()) {
                Some(_) => ok(env.var_into("r", out)),
                None => {
                    out.extend_from_slice(b"<BADREQ>");
                    Some(Written::Value)
                }
            }
        }
        "hr" | "hs" => {
            let side = if name == "hs" { env.res } else { env.req };
            if let Some(b) = caps.block_with(side, e.samples, name == "hs") {
                out.extend_from_slice(b.as_bytes());
            }
            return Some(Written::Value);
        }
        // No cookie captures are taken: HAProxy writes `-` for an empty capture.
        "CC" | "CS" => return None,
        other => return ok(env.var_into(other, out)),
    };
    ok(r.is_ok())
}

/// Variables HAProxy 2.6 writes without quotes even under `+Q` (numbers, dates and the
/// termination state, ports), as the `%{+Q}o` of `option httplog clf` shows.
const UNQUOTED: &[&str] = &[
    "Th", "Ti", "TR", "Tq", "Tw", "Tc", "Tr", "Td", "Ta", "Tt", "ST", "B", "U", "ac", "fc", "bc",
    "sc", "rc", "sq", "bq", "lc", "rt", "pid", "Ts", "ts", "tsc", "t", "tr", "trg", "trl", "T",
    "Tl", "cp", "fp", "sp", "ms",
];

/// The line `format` says for `e`.
pub fn render(
    format: &fulcrum_sample::Format,
    e: &Entry<'_>,
    req: Option<&Message>,
    res: Option<&Message>,
    caps: &Captures,
) -> String {
    let env = HttpEnv::new(e.peer, e.local, req, res).with_tls(e.tls);
    let mut out = Vec::with_capacity(256);
    format.render_flagged(
        &env,
        &mut |name, flags, o| {
            let w = var(e, &env, caps, name, flags.quote, o);
            if matches!(name, "r" | "HM" | "HU" | "HP" | "HQ" | "HV") {
                url_encode(o);
            }
            match w {
                Some(Written::Value) if flags.quote && UNQUOTED.contains(&name) => {
                    Some(Written::Formatted)
                }
                w => w,
            }
        },
        b"-",
        &mut out,
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// The request line's parts as HAProxy logs them: `"`, `#` and bytes outside 32..127 as
/// `#XX` (its `url_encode_map`).
fn url_encode(v: &mut Vec<u8>) {
    if !v
        .iter()
        .any(|b| matches!(b, b'"' | b'#') || !(32..127).contains(b))
    {
        return;
    }
    let raw = std::mem::take(v);
    for b in raw {
        if matches!(b, b'"' | b'#') || !(32..127).contains(&b) {
            v.extend_from_slice(format!("#{b:02X}").as_bytes());
        } else {
            v.push(b);
        }
    }
}

/// `%Td`: the transfer time after the response head (HTTP), or after the connect (TCP);
/// -1 when there was none.
fn transfer(e: &Entry<'_>) -> i64 {
    let t = &e.timers;
    let total = t.total.as_millis() as i64;
    let before = match e.mode {
        fulcrum_config::model::Mode::Http => t.response.map(|r| {
            [t.request, t.queue, t.connect, Some(r)]
                .iter()
                .map(|d| ms(*d).max(0))
                .sum::<i64>()
        }),
        fulcrum_config::model::Mode::Tcp => {
            t.connect.map(|c| ms(t.queue).max(0) + c.as_millis() as i64)
        }
    };
    before.map_or(-1, |b| (total - b).max(0))
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
    Ok(Some(l))
}

/// Whether a request or session ended in what HAProxy 2.6 calls an error for `option
/// dontlog-normal` (only those are logged) and `option log-separate-errors` (logged at
/// `err`): a termination cause other than none or a local answer, a connection retry, or an
/// HTTP status of 500 or more.
pub fn is_error(mode: Mode, term: Termination, retries: u32, status: u16) -> bool {
    !matches!(term.cause, Cause::Normal | Cause::Local)
        || (term.cause == Cause::Normal && retries > 0)
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

/// The format a frontend's traffic lines are written in: its `log-format`, else the
/// predefined format of `option httplog` (`clf`) or `option tcplog` (HAProxy writes the TCP
/// format for `option httplog` on a TCP frontend); `None`: the legacy `Connect from` line.
pub fn for_proxy(p: &Proxy) -> Result<Option<fulcrum_sample::Format>, String> {
    use fulcrum_sample::logformat::{CLF_HTTP_LOG, HTTP_LOG, TCP_LOG};
    let o = &p.options;
    let text = match (&p.log_format, p.mode) {
        (Some(f), _) => f.as_str(),
        (None, Mode::Http) if o.httplog && o.httplog_clf => CLF_HTTP_LOG,
        (None, Mode::Http) if o.httplog => HTTP_LOG,
        (None, _) if o.tcplog || o.httplog => TCP_LOG,
        (None, _) => return Ok(None),
    };
    let f = fulcrum_sample::compile_format(text).map_err(|e| format!("log-format: {e}"))?;
    Ok(Some(prepare(f, &Captures::new(&p.captures))))
}

/// A compiled log format as HAProxy writes it: a run of blanks in the format is one
/// separator, written once and never at the start of the line nor right after another; and
/// `%hr`/`%hs`/`%hrl`/`%hsl` of a side that captures nothing write nothing at all (not `-`),
/// so the separators around them are written once.
pub fn prepare(mut format: fulcrum_sample::Format, caps: &Captures) -> fulcrum_sample::Format {
    use fulcrum_sample::logformat::Node;
    let empty = |name: &str| match name {
        "hr" | "hrl" => caps.block(None, false).is_none(),
        "hs" | "hsl" => caps.block(None, true).is_none(),
        _ => false,
    };
    let mut out: Vec<Node> = Vec::with_capacity(format.nodes.len());
    let mut last_blank = true;
    for n in format.nodes.drain(..) {
        match n {
            Node::Var(name, _) if empty(name) => {}
            Node::Lit(l) => {
                let mut text = Vec::with_capacity(l.len());
                for b in l {
                    if b != b' ' {
                        text.push(b);
                        last_blank = false;
                    } else if !last_blank {
                        text.push(b' ');
                        last_blank = true;
                    }
                }
                match out.last_mut() {
                    Some(Node::Lit(prev)) => prev.extend_from_slice(&text),
                    _ if !text.is_empty() => out.push(Node::Lit(text)),
                    _ => {}
                }
            }
            other => {
                last_blank = false;
                out.push(other);
            }
        }
    }
    format.nodes = out;
    format
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
