//! `log-format` traffic lines: the proxy's compiled format (HAProxy's sample language and
//! `%` variables) rendered from a finished request's or session's [`Entry`] and its HTTP
//! messages. Frontends without `log-format` keep the hand-built `option httplog`/`tcplog`
//! lines of `logline` (same bytes, no per-variable dispatch on the default path).

use crate::http::capture::Captures;
use crate::http::message::Message;
use crate::http::sample_env::HttpEnv;
use crate::log::{accept_date, ms};
use crate::logline::Entry;
use crate::net::shown;
use std::io::Write;
use std::time::UNIX_EPOCH;

/// Writes `%` variable `name` of `e` into `out`; false when it has no value here.
fn var(e: &Entry<'_>, env: &HttpEnv<'_>, caps: &Captures, name: &str, out: &mut Vec<u8>) -> bool {
    let t = &e.timers;
    let r = match name {
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
            None => return false,
        },
        "sp" => match e.server_addr {
            Some(a) => write!(out, "{}", a.port()),
            None => return false,
        },
        "Ts" => write!(
            out,
            "{}",
            e.accept
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        ),
        // HAProxy's `%T`: the accept date in GMT, `05/Dec/2026:02:55:00 +0000`.
        "T" => {
            let d = accept_date(e.accept);
            let d = d.rsplit_once('.').map_or(d.as_str(), |x| x.0);
            write!(out, "{d} +0000")
        }
        "H" => write!(out, "{}", hostname()),
        "ID" => match e.unique_id {
            Some(id) => {
                out.extend_from_slice(id);
                return true;
            }
            None => return false,
        },
        "hrl" | "hsl" => {
            let side = if name == "hsl" { env.res } else { env.req };
            match caps.list(side, e.samples, name == "hsl") {
                Some(l) => out.extend_from_slice(l.as_bytes()),
                None => return false,
            }
            return true;
        }
        "r" => {
            return match env.req.filter(|r| !r.method().is_empty()) {
                Some(_) => env.var_into("r", out),
                None => {
                    out.extend_from_slice(b"<BADREQ>");
                    true
                }
            }
        }
        "hr" | "hs" => {
            let side = if name == "hs" { env.res } else { env.req };
            if let Some(b) = caps.block_with(side, e.samples, name == "hs") {
                out.extend_from_slice(b.as_bytes());
            }
            return true;
        }
        // No cookie captures are taken: HAProxy writes `-` for an empty capture.
        "CC" | "CS" => return false,
        other => return env.var_into(other, out),
    };
    r.is_ok()
}

/// The host name (`%H`), as HAProxy's `hostname` (read once).
fn hostname() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
}

/// The line `format` says for `e`.
pub fn render(
    format: &fulcrum_sample::Format,
    e: &Entry<'_>,
    req: Option<&Message>,
    res: Option<&Message>,
    caps: &Captures,
) -> String {
    let env = HttpEnv::new(e.peer, e.local, req, res);
    let mut out = Vec::with_capacity(256);
    format.render(
        &env,
        &mut |name, o| var(e, &env, caps, name, o),
        b"-",
        &mut out,
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// The frontend's `log-format` ready for its captures: `%hr`/`%hs` of a side that captures
/// nothing write nothing and take the blank after them along, as HAProxy (which skips such a
/// variable without ending the run of separators around it).
pub fn prepare(mut format: fulcrum_sample::Format, caps: &Captures) -> fulcrum_sample::Format {
    use fulcrum_sample::logformat::Node;
    let empty = |name: &str| match name {
        "hr" => caps.block(None, false).is_none(),
        "hs" => caps.block(None, true).is_none(),
        _ => false,
    };
    let mut out: Vec<Node> = Vec::with_capacity(format.nodes.len());
    let mut drop_blank = false;
    for n in format.nodes.drain(..) {
        match n {
            Node::Var(name, _) if empty(name) => {
                let at_blank = match out.last() {
                    None => true,
                    Some(Node::Lit(l)) => l.ends_with(b" "),
                    Some(_) => false,
                };
                drop_blank = at_blank;
            }
            Node::Lit(mut l) if drop_blank => {
                if l.first() == Some(&b' ') {
                    l.remove(0);
                }
                drop_blank = false;
                if !l.is_empty() {
                    out.push(Node::Lit(l));
                }
            }
            other => {
                drop_blank = false;
                out.push(other);
            }
        }
    }
    format.nodes = out;
    format
}
