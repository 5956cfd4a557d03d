//! `tcp-request connection|session|content` rules, compiled once per config and run at their
//! phase: connection and session rules when a connection is accepted (both modes), content
//! rules before routing in TCP mode and before the `http-request` rules of each request in
//! HTTP mode; a backend's content rules once the request reaches it. The first rule whose
//! condition holds and whose action ends the phase decides; none: the connection goes on.

use crate::acl::{self, Cond, Ctx};
use crate::track::{Table, TableRefs};
use fulcrum_config::model::{Acl, ConnAction, CounterAction, TcpAction, TcpRule};
use fulcrum_sample::fetch::Needs;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on (an `accept`, or no rule decided).
    Accept,
    /// Close the connection now.
    Reject,
    /// Close it without the client being told.
    SilentDrop,
}

/// What `tcp-response content` rules decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResVerdict {
    /// Forward the response (an `accept`, or no rule decided).
    Accept,
    /// Close both sides now; the client gets nothing of the response.
    Reject,
    /// Close the server side now; what was received reaches the client, then the end.
    Close,
    /// Close both sides now, without the client being told (`silent-drop`: [`silence`]);
    /// logged `PR` as HAProxy 2.6's silent drops are, wherever they happen.
    SilentDrop,
}

#[derive(Debug)]
enum Action {
    Decide(Verdict),
    /// `tcp-response content close`.
    Close,
    Track {
        slot: usize,
        key: fulcrum_sample::Expr,
        table: Arc<Table>,
    },
    Counter(crate::track::CounterOp),
    Var(crate::vars::VarOp),
    /// `set-src` and its siblings: the connection's addresses from then on.
    SetAddr(fulcrum_config::model::AddrPart, fulcrum_sample::Expr),
    /// `set-mark` (`true`) / `set-tos`: for the caller to apply to the client's socket.
    Sock(bool, u32),
    /// `set-nice`: nothing to run (`http::rules::knobs`).
    Nothing,
    /// `set-log-level`: the session's line at this severity (8: `silent`).
    Level(u8),
    /// `expect-proxy layer4` (`false`), `expect-netscaler-cip layer4` (`true`).
    Expect(bool),
    /// `switch-mode http [proto h2]`: stops the rules as `accept`; a TCP session becomes
    /// HTTP (`true`: HTTP/2).
    SwitchHttp(bool),
    /// `set-priority-class` (`false`) / `set-priority-offset` (`true`).
    Priority(bool, fulcrum_sample::Expr),
    /// `capture SAMPLE len N` into request capture slot `slot`.
    Capture {
        expr: fulcrum_sample::Expr,
        len: usize,
        slot: usize,
    },
}

/// The addresses a phase's `set-src`/`set-dst`/`set-*-port` rules left (`http::set_addr`).
pub type Moved = crate::http::set_addr::Moved;

#[derive(Debug)]
pub struct Rule {
    action: Action,
    cond: Option<Cond>,
}

/// Compiles one phase's rules; `max`: what the phase can read (connection and session rules
/// have no request yet: a condition reading one could never match and is refused).
pub fn compile(
    rules: &[TcpRule],
    acls: &[Acl],
    max: Needs,
    phase: &str,
    tables: &TableRefs<'_>,
) -> Result<Vec<Rule>, acl::AclError> {
    rules
        .iter()
        .map(|r| {
            let _at = fulcrum_sample::registry::at(&r.span.file, r.span.line);
            let cond = r
                .condition
                .as_ref()
                .map(|c| acl::compile_condition(c, acls))
                .transpose()?;
            if let Some(c) = &cond {
                if c.needs() > max {
                    return Err(acl::AclError(format!(
                        "{}: the condition of this 'tcp-request {phase}' rule reads the request, which is not there yet at that phase",
                        r.span
                    )));
                }
            }
            let action = match &r.action {
                TcpAction::Accept => Action::Decide(Verdict::Accept),
                TcpAction::Reject => Action::Decide(Verdict::Reject),
                TcpAction::SilentDrop => Action::Decide(Verdict::SilentDrop),
                TcpAction::Close => Action::Close,
                TcpAction::Counter(CounterAction::TrackSc { slot, key, table }) => Action::Track {
                    slot: usize::from(*slot),
                    key: fulcrum_sample::compile(key).map_err(|e| {
                        acl::AclError(format!("{}: track-sc{slot} key '{key}': {e}", r.span))
                    })?,
                    table: tables
                        .find(table.as_deref())
                        .map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
                },
                TcpAction::Var(v) => Action::Var(
                    crate::vars::compile(v)
                        .map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
                ),
                TcpAction::SetAddr { part, expr } => Action::SetAddr(
                    *part,
                    fulcrum_sample::compile(expr)
                        .map_err(|e| acl::AclError(format!("{}: '{expr}': {e}", r.span)))?,
                ),
                TcpAction::Counter(c) => match crate::track::CounterOp::compile(c) {
                    Some(op) => Action::Counter(
                        op.map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
                    ),
                    None => {
                        return Err(acl::AclError(format!("{}: not a counter action", r.span)))
                    }
                },
                TcpAction::Conn(ConnAction::SetMark(m)) => Action::Sock(true, *m),
                TcpAction::Conn(ConnAction::SetTos(t)) => Action::Sock(false, *t),
                TcpAction::Conn(ConnAction::SetNice(_)) => Action::Nothing,
                TcpAction::SetLogLevel { level } => Action::Level(level.unwrap_or(8)),
                TcpAction::ExpectProxy => Action::Expect(false),
                TcpAction::SwitchModeHttp { h2 } => Action::SwitchHttp(*h2),
                TcpAction::ExpectNetscalerCip => Action::Expect(true),
                TcpAction::Capture { expr, len, slot } => Action::Capture {
                    expr: fulcrum_sample::compile(expr).map_err(|e| {
                        acl::AclError(format!("{}: capture '{expr}': {e}", r.span))
                    })?,
                    len: *len,
                    slot: *slot,
                },
                TcpAction::Conn(ConnAction::SetPriority { offset, expr }) => Action::Priority(
                    *offset,
                    fulcrum_sample::compile(expr)
                        .map_err(|e| acl::AclError(format!("{}: '{expr}': {e}", r.span)))?,
                ),
            };
            Ok(Rule { action, cond })
        })
        .collect()
}

/// Runs one phase's rules; `per_request`: entries tracked here are released when the
/// request ends (content rules in HTTP mode); `moved` gets what `set-src` and its siblings
/// make of the addresses.
pub fn eval(rules: &[Rule], ctx: &Ctx<'_>, per_request: bool, moved: &Moved) -> Verdict {
    decide(rules, ctx, per_request, moved).unwrap_or(Verdict::Accept)
}

/// Whether any rule's condition reads what may change as data arrives (content inspection:
/// `req.len`, `req.payload`, a ClientHello, `wait_end`).
pub fn inspects(rules: &[Rule]) -> bool {
    rules
        .iter()
        .any(|r| r.cond.as_ref().is_some_and(Cond::inspects))
}

/// Runs one phase's rules as HAProxy's content analysers do: `None` when a rule's condition
/// cannot decide until more data arrives (the caller waits and runs them all again, from
/// the first, as HAProxy; actions already run are run again: tracking keeps its first
/// entry).
pub fn decide(rules: &[Rule], ctx: &Ctx<'_>, per_request: bool, moved: &Moved) -> Option<Verdict> {
    run(rules, ctx, per_request, moved).map(|o| match o {
        Ok(v) => v,
        // `close` is a response action only (the parser refuses it elsewhere).
        Err(()) => Verdict::Reject,
    })
}

/// [`decide`] for `tcp-response content` rules (a silent drop closes as a reject); what they
/// leave for the log line (`set-log-level`) goes to `moved`.
pub fn decide_response(rules: &[Rule], ctx: &Ctx<'_>, moved: &Moved) -> Option<ResVerdict> {
    // No `set-src` in `tcp-response` (the parser refuses it).
    run(rules, ctx, false, moved).map(|o| match o {
        Ok(Verdict::Accept) => ResVerdict::Accept,
        Ok(Verdict::SilentDrop) => ResVerdict::SilentDrop,
        Ok(Verdict::Reject) => ResVerdict::Reject,
        Err(()) => ResVerdict::Close,
    })
}

/// The rules' outcome: a verdict, or `Err` for `close`; `None`: wait for more data.
fn run(
    rules: &[Rule],
    base: &Ctx<'_>,
    per_request: bool,
    moved: &Moved,
) -> Option<Result<Verdict, ()>> {
    // Later rules see the addresses earlier ones set (a run again from the first starts from
    // what the previous run left, as HAProxy's rewritten connection).
    let at = |m: &Moved| {
        let (src, dst) = m.get(base.src, base.dst);
        let priority = m.priority().unwrap_or(base.priority);
        crate::http::sample_env::Situation {
            src,
            dst,
            priority,
            ..*base.situation()
        }
    };
    let mut seen = at(moved);
    for r in rules {
        let ctx = &seen.view(base.req, base.res);
        if let Some(c) = &r.cond {
            match c.test(ctx) {
                fulcrum_sample::acl::Test::Miss => return None,
                fulcrum_sample::acl::Test::Fail => continue,
                fulcrum_sample::acl::Test::Pass => {}
            }
        }
        match &r.action {
            Action::Decide(v) => return Some(Ok(*v)),
            Action::SwitchHttp(h2) => {
                moved
                    .switch_http
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                moved
                    .switch_h2
                    .store(*h2, std::sync::atomic::Ordering::Relaxed);
                return Some(Ok(Verdict::Accept));
            }
            Action::Close => return Some(Err(())),
            Action::Track { slot, key, table } => {
                if let Some(c) = ctx.counters {
                    if let Some(k) = key.eval(ctx).and_then(|v| table.key(v)) {
                        c.tracking.track(*slot, table, k, per_request, false);
                    }
                }
            }
            Action::Counter(op) => {
                if let Some(c) = ctx.counters {
                    op.run(c.tracking, ctx);
                }
            }
            Action::Var(op) => op.run(ctx),
            Action::SetAddr(part, expr) => {
                moved.apply(*part, expr.eval(ctx), base.src, base.dst);
                seen = at(moved);
            }
            Action::Sock(true, m) => moved.sock.mark(*m),
            Action::Sock(false, t) => moved.sock.tos(*t),
            Action::Nothing => {}
            Action::Level(l) => moved.set_level(*l),
            Action::Capture { expr, len, slot } => {
                if let Some(v) = expr.eval(ctx) {
                    let mut v = v.to_bytes();
                    v.truncate(*len);
                    moved.capture(*slot, v);
                }
            }
            Action::Priority(offset, expr) => {
                let v = expr
                    .eval(ctx)
                    .and_then(|v| fulcrum_sample::cast::cast(v, fulcrum_sample::Type::Sint));
                if let Some(fulcrum_sample::Value::Sint(v)) = v {
                    moved.set_priority(*offset, v);
                    seen = at(moved);
                }
            }
            Action::Expect(cip) => {
                let flag = if *cip {
                    &moved.expect_cip
                } else {
                    &moved.expect_proxy
                };
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
    Some(Ok(Verdict::Accept))
}

/// Makes a TCP client's socket close without its peer hearing of it: the FIN or RST the
/// close sends dies at the first hop (HAProxy's fallback when TCP_REPAIR is not permitted).
pub fn silence(sock: &tokio::net::TcpStream) {
    let s = socket2::SockRef::from(sock);
    let _ = s.set_ttl(1);
    let _ = s.set_unicast_hops_v6(1);
    let _ = s.set_linger(Some(std::time::Duration::ZERO));
}

/// Runs `tcp-request content` rules for a client stream; whether the connection ends here
/// (a silent drop first silences a TCP client's socket).
pub fn content<C: crate::stream::ClientStream>(
    rules: &[Rule],
    ctx: &Ctx<'_>,
    client: &C,
    per_request: bool,
    moved: &Moved,
) -> bool {
    if rules.is_empty() {
        return false;
    }
    let v = eval(rules, ctx, per_request, moved);
    moved.sock.apply(client);
    ends(v, client)
}

/// Whether verdict `v` ends the connection (a silent drop first silences a TCP client).
pub fn ends<C: 'static>(v: Verdict, client: &C) -> bool {
    match v {
        Verdict::Accept => false,
        Verdict::Reject => true,
        Verdict::SilentDrop => {
            if let Some(tcp) =
                (client as &dyn std::any::Any).downcast_ref::<tokio::net::TcpStream>()
            {
                silence(tcp);
            }
            true
        }
    }
}
