//! The rule actions that leave something for the session to do rather than change the
//! message: `set-mark`/`set-tos` (the client's socket, `sockopt`), `set-nice` (nothing: see
//! below), `disable-l7-retry` (no `retry-on` retry for this request) and `early-hint NAME
//! FMT` (`103 Early Hints` answers sent before the rest, as HAProxy 2.6: the fields of an
//! `early-hint` rule and the unconditional ones right after it go in one 103, names
//! lower-cased, empty values kept; none to an HTTP/1.0 client).
//!
//! `set-priority-class|offset EXPR`: the request's place in a backend queue
//! (`farm::queue`) and the `prio_class`/`prio_offset` fetches.
//!
//! `set-timeout server|tunnel EXPR`: the expression's value as milliseconds, as haproxy 2.6
//! reads it (measured): no value or 0 leaves the timeout as it was, a negative one expires
//! at once, a string is read for its leading digits (`2s`: 2 ms).
//!
//! `wait-for-handshake`: HAProxy holds a request that came as TLS 1.3 early data until the
//! handshake completes. fulcrum's TLS settings accept no early data (rustls's
//! `max_early_data_size` is left at 0, `tls::server_config`), so every request comes after
//! a complete handshake and the rule has nothing to wait for.
//!
//! `set-nice`: HAProxy runs a stream's tasks earlier or later in its run queue under load.
//! fulcrum's streams are tokio tasks, run in the order they become ready with no priority
//! of their own: the value is accepted and changes nothing (README). It changes no byte a
//! client or a log reader sees, only who waits first when the CPU is short.

use super::{Env, Fmt};
use crate::http::message::Message;
use crate::http::response::Response;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;

/// One of these actions, compiled.
#[derive(Debug)]
pub enum Op {
    Mark(u32),
    Tos(u32),
    /// `set-nice`, `wait-for-handshake`: nothing to run (see above).
    Nothing,
    NoL7Retry,
    EarlyHint(Vec<u8>, Fmt),
    /// `set-priority-class EXPR` (`false`) / `set-priority-offset EXPR` (`true`).
    Priority(bool, fulcrum_sample::Expr),
}

/// What the rules of one request left (`Env::knobs`).
#[derive(Debug, Default)]
pub struct Knobs {
    no_l7_retry: AtomicBool,
    /// Some `early-hint` ran (the hints are looked at only then: one load per request).
    hinted: AtomicBool,
    hints: Mutex<Hints>,
    /// `set-priority-class|offset`: set, class, offset.
    priority: (AtomicBool, AtomicI32, AtomicI32),
}

#[derive(Debug, Default)]
struct Hints {
    ready: Vec<Response>,
    open: Option<Response>,
}

impl Knobs {
    /// `set-priority-class|offset`'s (class, offset), once one ran.
    pub fn priority(&self) -> Option<(i32, i32)> {
        let (set, c, o) = &self.priority;
        set.load(Ordering::Relaxed)
            .then(|| (c.load(Ordering::Relaxed), o.load(Ordering::Relaxed)))
    }

    /// `tcp-request content set-priority-*` left this (the `http-request` rules may change it).
    pub fn set_priority(&self, (class, offset): (i32, i32)) {
        let (set, c, o) = &self.priority;
        c.store(class, Ordering::Relaxed);
        o.store(offset, Ordering::Relaxed);
        set.store(true, Ordering::Relaxed);
    }

    /// Whether `disable-l7-retry` ran for this request.
    pub fn l7_retry_disabled(&self) -> bool {
        self.no_l7_retry.load(Ordering::Relaxed)
    }

    /// The `103 Early Hints` answers to send now, in order (none left after).
    pub fn take_hints(&self) -> Vec<Response> {
        if !self.hinted.swap(false, Ordering::Relaxed) {
            return Vec::new();
        }
        let mut h = self.hints.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = std::mem::take(&mut h.ready);
        out.extend(h.open.take());
        out
    }

    fn hint(&self, name: &[u8], value: &[u8], last: bool) {
        self.hinted.store(true, Ordering::Relaxed);
        let mut h = self.hints.lock().unwrap_or_else(|p| p.into_inner());
        let r = h
            .open
            .take()
            .unwrap_or_else(|| Response::new(103, b"Early Hints"));
        let r = r.field(&name.to_ascii_lowercase(), value);
        if last {
            h.ready.push(r);
        } else {
            h.open = Some(r);
        }
    }
}

/// Runs `op`; `next_is_hint`: the rule after this one is an unconditional `early-hint` (its
/// field joins the same 103).
pub fn run(op: &Op, env: &Env<'_>, req: &Message, res: Option<&Message>, next_is_hint: bool) {
    match op {
        Op::Mark(m) => env.moved.sock.mark(*m),
        Op::Tos(t) => env.moved.sock.tos(*t),
        Op::Nothing => {}
        Op::NoL7Retry => env.knobs.no_l7_retry.store(true, Ordering::Relaxed),
        Op::Priority(offset, expr) => {
            // HAProxy 2.6 clamps: class to ±2047, offset to ±524287 ms; no value: unchanged
            let v = expr
                .eval(&env.situation().view(Some(req), res))
                .and_then(|v| fulcrum_sample::cast::cast(v, fulcrum_sample::Type::Sint));
            let Some(fulcrum_sample::Value::Sint(v)) = v else {
                return;
            };
            let (set, c, o) = &env.knobs.priority;
            if *offset {
                o.store(v.clamp(-524_287, 524_287) as i32, Ordering::Relaxed);
            } else {
                c.store(v.clamp(-2047, 2047) as i32, Ordering::Relaxed);
            }
            set.store(true, Ordering::Relaxed);
        }
        Op::EarlyHint(name, f) => {
            // HAProxy 2.6 sends none to an HTTP/1.0 client.
            if req.version == crate::http::message::Version::Http10 {
                return;
            }
            let mut v = Vec::new();
            f.render(&mut v, &env.situation().view(Some(req), res));
            env.knobs.hint(name, &v, !next_is_hint);
        }
    }
}

/// Compiles a model action of this kind.
pub fn compile(a: &fulcrum_config::model::HttpAction) -> Option<Result<Op, String>> {
    use fulcrum_config::model::{ConnAction, HttpAction};
    Some(Ok(match a {
        HttpAction::Conn(ConnAction::SetMark(m)) => Op::Mark(*m),
        HttpAction::Conn(ConnAction::SetTos(t)) => Op::Tos(*t),
        HttpAction::Conn(ConnAction::SetNice(_)) | HttpAction::WaitForHandshake => Op::Nothing,
        HttpAction::Conn(ConnAction::SetPriority { offset, expr }) => {
            match fulcrum_sample::compile(expr) {
                Ok(e) => Op::Priority(*offset, e),
                Err(e) => return Some(Err(format!("'{expr}': {e}"))),
            }
        }
        HttpAction::DisableL7Retry => Op::NoL7Retry,
        HttpAction::EarlyHint { name, value } => match Fmt::parse(value) {
            // lower case, as haproxy's HTX names
            Ok(f) => Op::EarlyHint(name.to_ascii_lowercase().into_bytes(), f),
            Err(e) => return Some(Err(e)),
        },
        _ => return None,
    }))
}

/// `set-timeout ... EXPR`: the new timeout in milliseconds, `None` to leave it.
pub fn timeout_ms(e: &fulcrum_sample::Expr, env: &dyn fulcrum_sample::Env) -> Option<u64> {
    let v = fulcrum_sample::cast::cast(e.eval(env)?, fulcrum_sample::Type::Sint)?;
    match v {
        fulcrum_sample::Value::Sint(0) => None,
        fulcrum_sample::Value::Sint(n) => Some(u64::try_from(n).unwrap_or(0)),
        _ => None,
    }
}
