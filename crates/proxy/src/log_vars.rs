//! The `%` variables of a traffic log line (the configuration manual's table of section
//! 8.2.6 in HAProxy 2.6, "custom log format"), written from a finished request's or session's
//! [`Entry`] as HAProxy 2.6 writes them: `+X` in hexadecimal for addresses, ports, `%Ts`,
//! `%rt` and `%pid`; `+` before `%Ta %Tt %Tu %B` on an `option logasap` line; numbers, dates
//! and ports unquoted under `+Q`.

use crate::http::capture::Captures;
use crate::http::sample_env::HttpEnv;
use crate::log::{millis, ms, write_accept_date, zoned_date};
use crate::logline::Entry;
use crate::net::shown;
use fulcrum_sample::logformat::{Flags, Written};
use fulcrum_sample::value_text::{write_int, write_v4};
use std::io::Write;
use std::net::IpAddr;
use std::time::UNIX_EPOCH;

pub use fulcrum_sample::logformat::UNQUOTED;

/// Variables `option logasap` prefixes with `+` (their value grows after the line).
const GROWING: &[&str] = &["Ta", "Tt", "Tu", "B"];

/// An integer in decimal ([`write_int`]), as the other writers' result.
fn int<I: itoa::Integer>(out: &mut Vec<u8>, n: I) -> std::io::Result<()> {
    write_int(out, n);
    Ok(())
}

fn ip(out: &mut Vec<u8>, a: IpAddr, hex: bool) -> std::io::Result<()> {
    if !hex {
        if let IpAddr::V4(v) = crate::net::canonical(a) {
            if !crate::net::is_unix_peer(a) {
                write_v4(out, v);
                return Ok(());
            }
        }
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
        int(out, n)
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
    // `%Th %Ti %Ta %Tt %Tu`, computed only by the variables that write them.
    let times = || {
        let (th, ti) = (millis(e.handshake), millis(e.idle));
        // `%Ta %Tt %Tu` run to HAProxy's `t_close`, which is 0 while the stream is open (a
        // rule's value): `%Tt` 0, `%Ta` -(`%Th`+`%Ti`), `%Tu` -`%Ti` there, as haproxy 2.6
        // writes them.
        let (ta, tt, tu) = if e.open {
            (-(th + ti), 0, -ti)
        } else {
            let ta = millis(t.total);
            (ta, th + ti + ta, th + ta)
        };
        (th, ti, ta, tt, tu)
    };
    // On the name's bytes: a decision tree (a `match` on `&str` compares arm after arm:
    // ~2,500 instructions per `option httplog` line).
    let r = match name.as_bytes() {
        [b'T', b'h'] => int(out, times().0),
        [b'T', b'i'] => int(out, times().1),
        // `%Tq` = `%Th` + `%Ti` + `%TR` (-1 without a complete request).
        [b'T', b'q'] => {
            let (th, ti, ..) = times();
            int(out, t.request.map_or(-1, |r| th + ti + millis(r)))
        }
        [b'T', b'R'] => int(out, ms(t.request)),
        [b'T', b'd'] => int(out, transfer(e)),
        [b'T', b'a'] => int(out, times().2),
        [b'T', b't'] => int(out, times().3),
        [b'T', b'u'] => int(out, times().4),
        [b'U'] => int(out, e.bytes_in),
        [b'l', b'c'] => int(out, e.log_count),
        [b'r', b't'] => num(out, e.rt, hex),
        [b's', b's', b'l', b'v'] | [b's', b's', b'l', b'c'] => match e.tls {
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
        [b'T'] | [b'T', b'l'] | [b't', b'r', b'g'] | [b't', b'r', b'l'] => {
            let at = if name.starts_with("tr") {
                e.request_date()
            } else {
                e.accept
            };
            write!(out, "{}", zoned_date(at, name.ends_with('l')))
        }
        [b'c', b'i'] => ip(out, e.peer.ip(), hex),
        [b'c', b'p'] => num(out, e.peer.port().into(), hex),
        [b'f', b'i'] => ip(out, e.local.ip(), hex),
        [b'f', b'p'] => num(out, e.local.port().into(), hex),
        [b'b', b'i'] | [b'b', b'p'] => match e.source {
            Some(a) if name == "bi" => ip(out, a.ip(), hex),
            Some(a) => num(out, a.port().into(), hex),
            None => return None,
        },
        [b's', b'i'] | [b's', b'p'] => match e.server_addr {
            Some(a) if name == "si" => ip(out, a.ip(), hex),
            Some(a) => num(out, a.port().into(), hex),
            None => return None,
        },
        [b'f'] => bytes(out, e.frontend),
        [b'f', b't'] => {
            out.extend_from_slice(e.frontend.as_bytes());
            if e.tls.is_some() {
                out.push(b'~');
            }
            Ok(())
        }
        [b'b'] => bytes(out, e.backend.unwrap_or(e.frontend)),
        [b's'] => bytes(out, e.server.unwrap_or("<NOSRV>")),
        [b't'] => {
            write_accept_date(out, e.accept);
            Ok(())
        }
        [b't', b'r'] => {
            write_accept_date(out, e.request_date());
            Ok(())
        }
        [b'm', b's'] => write!(
            out,
            "{:03}",
            e.accept
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_millis())
        ),
        [b'p', b'i', b'd'] => num(out, crate::log::pid().into(), hex),
        [b'T', b'w'] => int(out, ms(t.queue)),
        [b'T', b'c'] => int(out, ms(t.connect)),
        [b'T', b'r'] => int(out, ms(t.response)),
        // No answer at all (e.g. a `tcp-response` reject before it): -1, as HAProxy.
        [b'S', b'T'] if e.status == 0 => bytes(out, "-1"),
        [b'S', b'T'] => int(out, e.status),
        [b'B'] => int(out, e.bytes),
        [b't', b's'] => bytes(out, e.term.chars()),
        [b't', b's', b'c'] => {
            out.extend_from_slice(&e.term.chars());
            out.extend_from_slice(&e.cookie);
            Ok(())
        }
        [b'a', b'c'] => int(out, e.active),
        [b'f', b'c'] => int(out, e.frontend_conns),
        // Sessions on the backend and the server when the line is written (HAProxy 2.6 has
        // released this one by then, except on a `logasap` line).
        [b'b', b'c'] | [b's', b'c'] => {
            let (be, srv) = e.place.map_or((None, None), |p| p.conns());
            int(out, if name == "bc" { be } else { srv }.unwrap_or(0))
        }
        // Positions in the queues (HAProxy: how many requests left the queue from this one's
        // arrival to its own departure). fulcrum queues in the backend only: a request
        // persistence sends to a full server goes to it at once, so `%sq` is 0.
        [b'b', b'q'] => int(out, e.place.map_or(0, |p| p.queue_pos())),
        [b's', b'q'] => bytes(out, "0"),
        // `+` first when the stream was redispatched to another server (HAProxy's SF_REDISP).
        [b'r', b'c'] => {
            if e.retries.redispatched {
                out.push(b'+');
            }
            int(out, e.retries.count)
        }
        [b'T', b's'] => num(
            out,
            e.accept
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            hex,
        ),
        [b'H'] => write!(out, "{}", crate::log::hostname()),
        [b'I', b'D'] => match e.unique_id {
            Some(id) => {
                out.extend_from_slice(id);
                return Some(Written::Value);
            }
            None => return None,
        },
        [b'h', b'r', b'l'] | [b'h', b's', b'l'] => {
            let side = if name == "hsl" { env.res } else { env.req };
            let l = caps.list(side, e.samples, name == "hsl", quote)?;
            out.extend_from_slice(l.as_bytes());
            return Some(if quote {
                Written::Formatted
            } else {
                Written::Value
            });
        }
        [b'r'] => {
            return match env.req.filter(|r| !r.method().is_empty()) {
                Some(_) => ok(env.var_into("r", out)),
                None => {
                    out.extend_from_slice(b"<BADREQ>");
                    Some(Written::Value)
                }
            }
        }
        [b'h', b'r'] | [b'h', b's'] => {
            let side = if name == "hs" { env.res } else { env.req };
            if let Some(b) = caps.block_with(side, e.samples, name == "hs") {
                out.extend_from_slice(b.as_bytes());
            }
            return Some(Written::Value);
        }
        // `capture cookie`: `-` when there is none, as HAProxy.
        [b'C', b'C'] | [b'C', b'S'] => {
            let side = if name == "CS" { env.res } else { env.req };
            out.extend_from_slice(caps.cookie(side, name == "CS")?);
            return Some(Written::Value);
        }
        _ => return ok(env.var_into(name, out)),
    };
    ok(r.is_ok())
}

/// Bytes as they are.
fn bytes(out: &mut Vec<u8>, b: impl AsRef<[u8]>) -> std::io::Result<()> {
    out.extend_from_slice(b.as_ref());
    Ok(())
}

/// `%Td`: the transfer time after the response head (HTTP), or after the connect (TCP);
/// -1 when there was none.
fn transfer(e: &Entry<'_>) -> i64 {
    let t = &e.timers;
    let total = millis(t.total);
    let before = match e.mode {
        fulcrum_config::model::Mode::Http => t.response.map(|r| {
            [t.request, t.queue, t.connect, Some(r)]
                .iter()
                .map(|d| ms(*d).max(0))
                .sum::<i64>()
        }),
        fulcrum_config::model::Mode::Tcp => t.connect.map(|c| ms(t.queue).max(0) + millis(c)),
    };
    match before {
        // An open stream: HAProxy's `t_close` (0) minus the time from the accept.
        Some(b) if e.open => -(b + millis(e.handshake) + millis(e.idle)),
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
