//! The `%` variables of a traffic log line (the configuration manual's table of section
//! 8.2.6 in HAProxy 2.6, "custom log format"), written from a finished request's or session's
//! [`Entry`] as HAProxy 2.6 writes them: `+X` in hexadecimal for addresses, ports, `%Ts`,
//! `%rt` and `%pid`; `+` before `%Ta %Tt %Tu %B` on an `option logasap` line; numbers, dates
//! and ports unquoted under `+Q`.

use crate::http::capture::Captures;
use crate::http::sample_env::HttpEnv;
use crate::log::{accept_date, ms, zoned_date};
use crate::logline::Entry;
use crate::net::shown;
use fulcrum_sample::logformat::{Flags, Written};
use std::io::Write;
use std::net::IpAddr;
use std::time::UNIX_EPOCH;

pub use fulcrum_sample::logformat::UNQUOTED;

/// Variables `option logasap` prefixes with `+` (their value grows after the line).
const GROWING: &[&str] = &["Ta", "Tt", "Tu", "B"];

fn ip(out: &mut Vec<u8>, a: IpAddr, hex: bool) -> std::io::Result<()> {
    if !hex {
        return write!(out, "{}", shown(a));
    }
    match crate::net::canonical(a) {
        IpAddr::V4(v) => v.octets().iter().try_for_each(|b| write!(out, "{b:02X}")),
        IpAddr::V6(v) => v.octets().iter().try_for_each(|b| write!(out, "{b:02X}")),
    }
}

fn num(out: &mut Vec<u8>, n: u64, hex: bool) -> std::io::Result<()> {
    if hex {
        write!(out, "{n:04X}")
    } else {
        write!(out, "{n}")
    }
}

/// Writes `%` variable `name` of `e` into `out`; `None` when it has no value here.
pub fn var(
    e: &Entry<'_>,
    env: &HttpEnv<'_>,
    caps: &Captures,
    name: &str,
    flags: Flags,
    out: &mut Vec<u8>,
) -> Option<Written> {
    let ok = |b: bool| b.then_some(Written::Value);
    // An HTTP line without a request (a bad head, a failed handshake): HAProxy 2.6 logs it
    // without a stream, so the request line's parts are `<BADREQ>` and the captures nothing
    // (measured with haproxy 2.6.12: `%hr` empty, not `{}`; `%hrl` empty, not `-`).
    if e.mode == fulcrum_config::model::Mode::Http && env.req.is_none() {
        match name {
            "r" | "HM" | "HU" | "HP" | "HPO" | "HQ" | "HV" => {
                out.extend_from_slice(b"<BADREQ>");
                return Some(Written::Value);
            }
            "hr" | "hs" | "hrl" | "hsl" => return Some(Written::Skipped),
            _ => {}
        }
    }
    let (t, hex, quote) = (&e.timers, flags.hex, flags.quote);
    if e.asap && GROWING.contains(&name) {
        out.push(b'+');
    }
    let (th, ti) = (e.handshake.as_millis() as i64, e.idle.as_millis() as i64);
    // `%Ta %Tt %Tu` run to HAProxy's `t_close`, which is 0 while the stream is open (a rule's
    // value): `%Tt` 0, `%Ta` -(`%Th`+`%Ti`), `%Tu` -`%Ti` there, as haproxy 2.6 writes them.
    let (ta, tt, tu) = if e.open {
        (-(th + ti), 0, -ti)
    } else {
        let ta = t.total.as_millis() as i64;
        (ta, th + ti + ta, th + ta)
    };
    let r = match name {
        "Th" => write!(out, "{th}"),
        "Ti" => write!(out, "{ti}"),
        // `%Tq` = `%Th` + `%Ti` + `%TR` (-1 without a complete request).
        "Tq" => write!(
            out,
            "{}",
            t.request.map_or(-1, |r| th + ti + r.as_millis() as i64)
        ),
        "TR" => write!(out, "{}", ms(t.request)),
        "Td" => write!(out, "{}", transfer(e)),
        "Ta" => write!(out, "{ta}"),
        "Tt" => write!(out, "{tt}"),
        "Tu" => write!(out, "{tu}"),
        "U" => write!(out, "{}", e.bytes_in),
        "lc" => write!(out, "{}", e.log_count),
        "rt" => num(out, e.rt, hex),
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
        // The accept date in GMT (`%T`) or local time (`%Tl`) with its zone; the request's
        // (`tr...`) comes after the handshake and the idle time.
        "T" | "Tl" | "trg" | "trl" => {
            let at = if name.starts_with("tr") {
                e.request_date()
            } else {
                e.accept
            };
            write!(out, "{}", zoned_date(at, name.ends_with('l')))
        }
        "ci" => ip(out, e.peer.ip(), hex),
        "cp" => num(out, e.peer.port().into(), hex),
        "fi" => ip(out, e.local.ip(), hex),
        "fp" => num(out, e.local.port().into(), hex),
        "bi" | "bp" => match e.source {
            Some(a) if name == "bi" => ip(out, a.ip(), hex),
            Some(a) => num(out, a.port().into(), hex),
            None => return None,
        },
        "si" | "sp" => match e.server_addr {
            Some(a) if name == "si" => ip(out, a.ip(), hex),
            Some(a) => num(out, a.port().into(), hex),
            None => return None,
        },
        "f" => write!(out, "{}", e.frontend),
        "ft" => write!(out, "{}", e.frontend_transport()),
        "b" => write!(out, "{}", e.backend.unwrap_or(e.frontend)),
        "s" => write!(out, "{}", e.server.unwrap_or("<NOSRV>")),
        "t" => write!(out, "{}", accept_date(e.accept)),
        "tr" => write!(out, "{}", accept_date(e.request_date())),
        "ms" => write!(
            out,
            "{:03}",
            e.accept
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_millis())
        ),
        "pid" => num(out, std::process::id().into(), hex),
        "Tw" => write!(out, "{}", ms(t.queue)),
        "Tc" => write!(out, "{}", ms(t.connect)),
        "Tr" => write!(out, "{}", ms(t.response)),
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
        // Sessions on the backend and the server when the line is written (HAProxy 2.6 has
        // released this one by then, except on a `logasap` line).
        "bc" | "sc" => {
            let (be, srv) = e.place.map_or((None, None), |p| p.conns());
            write!(out, "{}", if name == "bc" { be } else { srv }.unwrap_or(0))
        }
        // Positions in the queues (HAProxy: how many requests left the queue from this one's
        // arrival to its own departure). fulcrum queues in the backend only: a request
        // persistence sends to a full server goes to it at once, so `%sq` is 0.
        "bq" => write!(out, "{}", e.place.map_or(0, |p| p.queue_pos())),
        "sq" => write!(out, "0"),
        "rc" => write!(out, "{}", e.retries),
        "Ts" => num(
            out,
            e.accept
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            hex,
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
        // `capture cookie`: `-` when there is none, as HAProxy.
        "CC" | "CS" => {
            let side = if name == "CS" { env.res } else { env.req };
            out.extend_from_slice(caps.cookie(side, name == "CS")?);
            return Some(Written::Value);
        }
        other => return ok(env.var_into(other, out)),
    };
    ok(r.is_ok())
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
    match before {
        // An open stream: HAProxy's `t_close` (0) minus the time from the accept.
        Some(b) if e.open => -(b + e.handshake.as_millis() as i64 + e.idle.as_millis() as i64),
        Some(b) => (total - b).max(0),
        None => -1,
    }
}

/// [`var`], with numbers, dates and ports unquoted under `+Q` (as HAProxy 2.6 writes them in
/// log lines and rule values alike).
pub fn write(
    e: &Entry<'_>,
    env: &HttpEnv<'_>,
    caps: &Captures,
    name: &str,
    flags: Flags,
    out: &mut Vec<u8>,
) -> Option<Written> {
    match var(e, env, caps, name, flags, out) {
        Some(Written::Value) if flags.quote && UNQUOTED.contains(&name) => Some(Written::Formatted),
        w => w,
    }
}
