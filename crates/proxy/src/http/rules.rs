//! `http-request` / `http-response` rules: compiled once per config, applied in order.
//!
//! Header values and `lf-string` bodies are HAProxy log-format strings, compiled by the
//! sample-language crate and rendered per request.
//! A rule that answers (deny, redirect, return) stops the evaluation, as in HAProxy.

use super::message::{Message, Name};
use super::response::Response;
use super::rewrite;
use super::sample_env::{HttpEnv, Situation};
use crate::acl::Cond;
use crate::applet::Applet;
use crate::track::{Counters, Table};
use fulcrum_config::model::LinePart;
use fulcrum_config::model::{HttpAction, HttpRule};
use regex::bytes::Regex;
use std::net::SocketAddr;
use std::sync::Arc;

mod compile;
pub mod error_pages;
pub mod knobs;
mod redirect;
pub mod reply;
pub mod wait_body;
pub use compile::{auth_response, compile};

/// A compiled log-format string: HAProxy's sample language (fulcrum-sample), rendered
/// against the exchange by `sample_env`. The config layer has already refused what the data
/// plane does not answer, so nothing is ever sent as literal `%[...]` text.
#[derive(Debug)]
pub struct Fmt {
    format: fulcrum_sample::Format,
    /// The text, when the string is only text (`set-header X-Forwarded-Proto http`): what
    /// rendering it gives, written without an evaluation.
    literal: Option<Box<[u8]>>,
}

impl Fmt {
    pub fn parse(s: &str) -> Result<Fmt, String> {
        let format = fulcrum_sample::compile_format(s)
            .map_err(|e| format!("log-format '{s}': column {}: {}", e.col, e.msg))?;
        let literal = format
            .nodes
            .iter()
            .try_fold(Vec::new(), |mut text, n| match n {
                fulcrum_sample::logformat::Node::Lit(l) => {
                    text.extend_from_slice(l);
                    Some(text)
                }
                _ => None,
            })
            .map(Vec::into_boxed_slice);
        Ok(Fmt { format, literal })
    }

    /// The string's text when it is only text (no sample, no `%` variable).
    pub fn literal(&self) -> Option<&[u8]> {
        self.literal.as_deref()
    }

    pub fn render(&self, out: &mut Vec<u8>, env: &HttpEnv<'_>) {
        if let Some(l) = &self.literal {
            out.extend_from_slice(l);
            return;
        }
        // A missing value is empty in header values and bodies (HAProxy writes `-` only in
        // logs), and `+Q` quotes no sample there (as haproxy 2.6); the `%` variables are the
        // log line's, with what the stream knows now (`crate::rule_facts`).
        self.format.render_value_flagged(
            env,
            &mut |name, f, out| env.var_flagged(name, f, out),
            out,
        );
    }

    /// [`Fmt::render`] lent to `with` instead of written: one sample expression's string
    /// (a header value, a map's value) is lent without a copy. `with` must not read or set a
    /// variable nor change a map.
    pub fn lend(&self, env: &HttpEnv<'_>, with: &mut dyn FnMut(&[u8])) {
        if let Some(l) = &self.literal {
            return with(l);
        }
        self.format
            .lend_value(env, &mut |name, f, out| env.var_flagged(name, f, out), with);
    }

    /// [`Fmt::render`] for a part of an answer the proxy makes (`return`, `deny` with a
    /// response): `%ST` is that answer's status, as haproxy 2.6 sets it before rendering.
    pub fn render_answer(&self, out: &mut Vec<u8>, env: &HttpEnv<'_>, status: u16) {
        self.format.render_value_flagged(
            env,
            &mut |name, f, out| {
                if name == "ST" {
                    out.extend_from_slice(status.to_string().as_bytes());
                    return Some(fulcrum_sample::logformat::Written::Value);
                }
                env.var_flagged(name, f, out)
            },
            out,
        );
    }
}

#[derive(Debug)]
enum Action {
    Allow,
    Deny(u16),
    SetHeader(Name, Fmt),
    AddHeader(Name, Fmt),
    DelHeader(Name),
    Redirect(redirect::Redirect),
    /// `set-mark`, `set-tos`, `set-nice`, `disable-l7-retry`, `early-hint` (`rules::knobs`).
    Knob(knobs::Op),
    /// `return` with its response options (`rules::reply`).
    Return(reply::Reply),
    /// `deny` with response options: the answer, logged as a refusal.
    DenyReply(reply::Reply),
    /// `use-service NAME`: the applet answers (resolved when compiled).
    Service(Arc<dyn Applet>),
    /// `track-scN KEY [table T]`.
    Track {
        slot: usize,
        key: fulcrum_sample::Expr,
        table: Arc<Table>,
    },
    /// `sc-inc-gpc0/1(N)`, `sc-set-gpt0(N) V`.
    Counter(crate::track::CounterOp),
    /// `set-var`, `set-var-fmt`, `unset-var`.
    Var(crate::vars::VarOp),
    SetLine(LinePart, Fmt),
    ReplaceLine(LinePart, Regex, Fmt),
    ReplaceHeader {
        name: Vec<u8>,
        regex: Regex,
        value: Fmt,
        each: bool,
    },
    SetStatus(u16, Option<Vec<u8>>),
    DelHeaderMatch(Vec<u8>, String, Option<Regex>),
    /// `http-request cache-use NAME` / `http-response cache-store NAME` (`cache_flow`).
    CacheUse(Arc<super::cache::Cache>),
    CacheStore(Arc<super::cache::Cache>),
    /// `auth [realm R]`: the 401 answer, built when compiled.
    /// The 401 answer, and the 407 one for proxy requests (`option http-use-proxy-header`).
    /// `reject` / `silent-drop`.
    Drop(bool),
    Auth(Arc<Response>, Arc<Response>),
    /// `tarpit [deny_status N] [response options]`, held this long.
    Tarpit(u16, std::time::Duration, Option<reply::Reply>),
    /// `set-log-level`: the severity (0..7) or [`SILENT`].
    SetLogLevel(u8),
    /// `set-map(FILE)`, `del-map(FILE)`, `add-acl(FILE)`, `del-acl(FILE)` on the generation's
    /// pattern references (what the runtime socket changes too).
    MapEdit {
        edit: fulcrum_sample::registry_edit::Edit,
        file: String,
        key: Fmt,
        value: Option<Fmt>,
        registry: Arc<fulcrum_sample::registry::Registry>,
    },
    /// `set-timeout server|tunnel` (`true`: tunnel), in milliseconds.
    /// `set-timeout server|tunnel`: tunnel or not, the milliseconds, or an expression giving
    /// them.
    SetTimeout(bool, u64, Option<fulcrum_sample::Expr>),
    /// `http-response wait-for-body` among a proxy's leading rules (`wait_body`): waited
    /// for before the rules run, nothing to do in them.
    WaitBody(fulcrum_config::model::WaitForBody),
    /// `http-request|http-response capture SAMPLE len N|id N` into capture slot `slot` of
    /// its side.
    Capture {
        expr: fulcrum_sample::Expr,
        len: usize,
        slot: usize,
        response: bool,
    },
    /// `set-src` and its siblings (`http::set_addr`).
    SetAddr(fulcrum_config::model::AddrPart, fulcrum_sample::Expr),
}

/// `set-log-level silent` in [`Env::log_level`].
pub const SILENT: u8 = 8;
/// No `set-log-level` ran: the line is sent at `info`.
pub const UNSET: u8 = u8::MAX;

/// Whether any of `rules` sets the log level (the request then carries a level cell).
pub fn sets_log_level(rules: &[HttpRule]) -> bool {
    rules
        .iter()
        .any(|r| matches!(r.action, HttpAction::SetLogLevel { .. }))
}

#[derive(Debug)]
pub struct Rule {
    action: Action,
    cond: Option<Cond>,
}

/// What the rules decided for this message.
pub enum Verdict {
    Continue,
    /// An `allow` rule ended the chain: go on as [`Verdict::Continue`], but the proxy's
    /// rules after a `wait-for-body` do not run either.
    Allow,
    /// An `http-response wait-for-body` rule whose condition holds: the rules pause there
    /// (the index of the rule after it) until the answer's body is in.
    WaitBody(usize, fulcrum_config::model::WaitForBody),
    /// Answer with this response instead of forwarding (deny, redirect, return, auth).
    Respond(Arc<Response>),
    /// Answer with the proxy's error page for this status.
    Error(u16),
    /// `deny` with response options: this answer, logged as the proxy's refusal.
    Deny(Arc<Response>),
    /// `use-service`: the applet answers.
    Service(Arc<dyn Applet>),
    /// `tarpit`: hold the request this long (the rule's proxy's `timeout tarpit`, else its
    /// `timeout connect`), then answer the error page for this status (or the rule's own
    /// answer, rendered without the request as HAProxy 2.6 renders it after the hold).
    Tarpit(u16, std::time::Duration, Option<Arc<Response>>),
    /// `reject` / `silent-drop`: close the client's connection without an answer (`silent`:
    /// without the client being told).
    Drop {
        silent: bool,
    },
}

impl Verdict {
    /// Whether the proxy answers (or closes) instead of letting the message go on.
    pub fn answers(&self) -> bool {
        !matches!(
            self,
            Verdict::Continue | Verdict::Allow | Verdict::WaitBody(..)
        )
    }
}

/// The message for a `use-service` naming no service.
pub fn unknown_service(name: &str) -> String {
    format!("use-service '{name}': no such service (fulcrum has prometheus-exporter)")
}

/// Request-side context for rules.
pub struct Env<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The stream's stick counters (`track-sc*` and the `sc*`/`src_*` fetches).
    pub counters: Option<Counters<'a>>,
    /// The client's TLS handshake, on a `bind ... ssl` connection.
    pub tls: Option<std::sync::Arc<crate::stream::TlsInfo>>,
    /// What `cache-use` / `cache-store` decided for this request.
    pub cache: super::cache_flow::CacheTxn,
    /// The request's `unique-id-format` id.
    pub unique_id: Option<Vec<u8>>,
    /// The level `set-log-level` chose ([`UNSET`] before), shared with the request's record;
    /// only when some proxy's rules set it.
    pub log_level: Option<Arc<std::sync::atomic::AtomicU8>>,
    /// `set-timeout server` / `tunnel` for this request, in ms ([`Timeouts::UNSET`]: the
    /// backend's).
    pub timeouts: Timeouts,
    /// The request's capture slots, when `http-request capture` rules fill some.
    pub captures: Option<Arc<super::capture::Samples>>,
    /// The frontend's captures (`capture.req.hdr(N)`, `capture.res.hdr(N)`).
    pub capture_slots: Option<&'a super::capture::Captures>,
    /// The request body read before the rules (`option http-buffer-request`).
    pub body: Option<Vec<u8>>,
    /// What `set-src`/`set-dst` rules made of the addresses (`http::set_addr`).
    pub moved: super::set_addr::Moved,
    /// Response body bytes received with the head when `http-response` rules run (HAProxy's
    /// `res.len` counts them).
    pub res_body_in: std::sync::atomic::AtomicUsize,
    /// A proxy request under `option http-use-proxy-header` (its target does not start with
    /// `/` or `*`): `auth` answers 407 and credentials come from `Proxy-Authorization`.
    pub proxy_request: bool,
    /// Where the request is (frontend, backend once routed, server once answering).
    pub place: Option<&'a dyn super::sample_env::Where>,
    /// What `disable-l7-retry` and `early-hint` rules left (`rules::knobs`).
    pub knobs: knobs::Knobs,
    /// The request's log facts, when a rule value reads them (`%t %b %s %ID`...:
    /// `crate::rule_facts`).
    pub facts: Option<&'a dyn super::sample_env::LogFacts>,
}

/// Per-request timeouts set by `set-timeout`.
#[derive(Debug)]
pub struct Timeouts {
    server: std::sync::atomic::AtomicU64,
    tunnel: std::sync::atomic::AtomicU64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            server: std::sync::atomic::AtomicU64::new(Self::UNSET),
            tunnel: std::sync::atomic::AtomicU64::new(Self::UNSET),
        }
    }
}

impl Timeouts {
    pub const UNSET: u64 = u64::MAX;

    fn get(
        a: &std::sync::atomic::AtomicU64,
        dflt: Option<std::time::Duration>,
    ) -> Option<std::time::Duration> {
        match a.load(std::sync::atomic::Ordering::Relaxed) {
            Self::UNSET => dflt,
            ms => Some(std::time::Duration::from_millis(ms)),
        }
    }

    /// The server timeout: `set-timeout server`'s, else `dflt` (the backend's).
    pub fn server(&self, dflt: Option<std::time::Duration>) -> Option<std::time::Duration> {
        Self::get(&self.server, dflt)
    }

    /// The tunnel timeout: `set-timeout tunnel`'s, else `dflt`.
    pub fn tunnel(&self, dflt: Option<std::time::Duration>) -> Option<std::time::Duration> {
        Self::get(&self.tunnel, dflt)
    }
}

impl<'a> Env<'a> {
    /// What the sample language sees of the exchange besides its heads (their view:
    /// [`Situation::view`]).
    pub fn situation(&self) -> Situation<'_> {
        let (src, dst) = self.moved.get(self.src, self.dst);
        // filled in place: the builder methods move the whole struct at each step (~100
        // instructions a chain)
        let mut env = Situation::new(src, dst);
        env.counters = self.counters;
        env.tls = self.tls.as_deref();
        env.unique_id = self.unique_id.as_deref();
        env.captures = self.capture_slots;
        env.shared_samples = self.captures.as_deref();
        env.body = self.body.as_deref();
        env.res_body_in = self.res_body_in.load(std::sync::atomic::Ordering::Relaxed);
        env.proxy_auth = self.proxy_request;
        env.priority = self.knobs.priority().unwrap_or((0, 0));
        env.facts = self.facts;
        env.place = self.place;
        env
    }
}

/// Applies request rules to `req` (or response rules to `res` when given).
pub fn apply(
    rules: &[Rule],
    env: &Env<'_>,
    req: &mut Message,
    mut res: Option<&mut Message>,
    scratch: &mut Vec<u8>,
) -> Verdict {
    // The sample view is built once for the chain (each rule is shown the messages as the
    // rules before it left them); only `set-src`/`set-dst` and `set-priority-*` rules change
    // what it holds, and it is built again after them.
    if rules.is_empty() {
        return Verdict::Continue;
    }
    let mut seen = env.situation();
    for (i, rule) in rules.iter().enumerate() {
        let view = seen.view(None, None);
        if let Some(c) = &rule.cond {
            let ctx = view.of(Some(req), res.as_deref());
            if !c.eval(&ctx) {
                continue;
            }
        }
        match &rule.action {
            Action::Allow => return Verdict::Allow,
            Action::Deny(s) => return Verdict::Error(*s),
            Action::DelHeader(n) => match res.as_deref_mut() {
                Some(r) => r.remove_name(n),
                None => req.remove_name(n),
            },
            Action::SetHeader(n, f) | Action::AddHeader(n, f) => {
                // a value that is only text is written as it is, not rendered
                let value: &[u8] = match f.literal() {
                    Some(l) => l,
                    None => {
                        scratch.clear();
                        f.render(scratch, &view.of(Some(req), res.as_deref()));
                        scratch
                    }
                };
                let set = matches!(rule.action, Action::SetHeader(..));
                let target: &mut Message = match res.as_deref_mut() {
                    Some(r) => r,
                    None => req,
                };
                if set {
                    target.set_name(n, value);
                } else {
                    target.append_name(n, value);
                }
            }
            Action::Return(r) => {
                return Verdict::Respond(r.answer(&view.of(Some(req), res.as_deref())))
            }
            Action::DenyReply(r) => {
                return Verdict::Deny(r.answer(&view.of(Some(req), res.as_deref())))
            }
            Action::Service(a) => return Verdict::Service(a.clone()),
            Action::Auth(r, proxy) => {
                return Verdict::Respond(if env.proxy_request { proxy } else { r }.clone())
            }
            Action::Tarpit(s, hold, reply) => {
                let page = reply
                    .as_ref()
                    .map(|r| r.answer(&env.situation().view(None, None)));
                return Verdict::Tarpit(*s, *hold, page);
            }
            Action::Drop(silent) => return Verdict::Drop { silent: *silent },
            // HAProxy 2.6 (measured, `log_level_haproxy`): only the request side's level
            // reaches the traffic line; `http-response set-log-level` leaves it as it was.
            Action::Capture {
                expr,
                len,
                slot,
                response,
            } => {
                let ctx = view.of(Some(req), res.as_deref());
                if let (Some(v), Some(caps)) = (expr.eval(&ctx), &env.captures) {
                    let mut v = v.to_bytes();
                    v.truncate(*len);
                    caps.set(*response, *slot, v);
                }
            }
            Action::SetAddr(part, expr) => {
                let v = expr.eval(&view.of(Some(req), res.as_deref()));
                env.moved.apply(*part, v, env.src, env.dst);
                seen = env.situation();
            }
            // only response chains hold waits (the request's are split off: `BodyWait`)
            Action::WaitBody(w) => {
                if res.is_some() {
                    return Verdict::WaitBody(i + 1, w.clone());
                }
            }
            Action::SetTimeout(tunnel, ms, expr) => {
                let ms = match expr {
                    None => Some(*ms),
                    Some(e) => knobs::timeout_ms(e, &view.of(Some(req), res.as_deref())),
                };
                let slot = if *tunnel {
                    &env.timeouts.tunnel
                } else {
                    &env.timeouts.server
                };
                if let Some(ms) = ms {
                    slot.store(ms, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Action::MapEdit {
                edit,
                file,
                key,
                value,
                registry,
            } => {
                let e = view.of(Some(req), res.as_deref());
                let (mut k, mut v) = (Vec::new(), Vec::new());
                key.render(&mut k, &e);
                if let Some(f) = value {
                    f.render(&mut v, &e);
                }
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                registry.edit(*edit, file, &text(&k), &text(&v));
            }
            Action::SetLogLevel(l) => {
                if let Some(c) = env.log_level.as_ref().filter(|_| res.is_none()) {
                    c.store(*l, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Action::Track { slot, key, table } => {
                if let Some(c) = env.counters {
                    let ctx = view.of(Some(req), res.as_deref());
                    if let Some(k) = key.eval(&ctx).and_then(|v| table.key(v)) {
                        c.tracking.track(*slot, table, k, true, res.is_none());
                    }
                }
            }
            Action::Counter(op) => {
                if let Some(c) = env.counters {
                    op.run(c.tracking, &view.of(Some(req), res.as_deref()));
                }
            }
            Action::Var(op) => op.run(&view.of(Some(req), res.as_deref())),
            Action::CacheUse(c) => env.cache.use_cache(c, req, super::cache_flow::now()),
            Action::CacheStore(c) => {
                if let Some(r) = res.as_deref_mut() {
                    env.cache.store(c, req, r, super::cache_flow::now());
                }
            }
            Action::SetLine(part, f) => {
                scratch.clear();
                f.render(scratch, &view.of(Some(req), res.as_deref()));
                rewrite::set(req, *part, scratch);
            }
            Action::ReplaceLine(part, re, f) => {
                scratch.clear();
                f.render(scratch, &view.of(Some(req), res.as_deref()));
                let cur = rewrite::part(req, *part);
                if let Some(new) = rewrite::expand(re, &cur, scratch) {
                    rewrite::set(req, *part, &new);
                }
            }
            Action::ReplaceHeader {
                name,
                regex,
                value,
                each,
            } => {
                scratch.clear();
                value.render(scratch, &view.of(Some(req), res.as_deref()));
                let target: &mut Message = match res.as_deref_mut() {
                    Some(r) => r,
                    None => req,
                };
                rewrite::replace_header(target, name, regex, scratch, *each);
            }
            Action::SetStatus(code, reason) => {
                if let Some(r) = res.as_deref_mut() {
                    rewrite::set_status(r, *code, reason.as_deref());
                }
            }
            Action::DelHeaderMatch(name, method, re) => {
                let target: &mut Message = match res.as_deref_mut() {
                    Some(r) => r,
                    None => req,
                };
                rewrite::del_header_match(target, name, method, re.as_ref());
            }
            Action::Redirect(r) => {
                if let Some(answer) = r.answer(req, &view.of(Some(req), res.as_deref())) {
                    return Verdict::Respond(answer);
                }
            }
            Action::Knob(op) => {
                // HAProxy 2.6 ends the 103 unless the next rule is an unconditional hint.
                let next_is_hint = rules.get(i + 1).is_some_and(|r| {
                    r.cond.is_none() && matches!(r.action, Action::Knob(knobs::Op::EarlyHint(..)))
                });
                knobs::run(op, env, req, res.as_deref(), next_is_hint);
                seen = env.situation();
            }
        }
    }
    Verdict::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_strings_expand_samples() {
        let f = Fmt::parse("ip=%[src] host=%[req.hdr(Host)] 100%% %ci:%cp").expect("compiles");
        let mut m = Message::new();
        let _ = m.parse_request(b"GET /p HTTP/1.1\r\nHost: h\r\n\r\n");
        let mut out = Vec::new();
        let src: SocketAddr = ([10, 0, 0, 1], 1234).into();
        f.render(&mut out, &Situation::new(src, src).view(Some(&m), None));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "ip=10.0.0.1 host=h 100% 10.0.0.1:1234"
        );
        assert_eq!(f.literal(), None);
        // What is not a variable or an expression is refused, never sent as text.
        assert!(Fmt::parse("%x").is_err());
        assert!(Fmt::parse("%[url").is_err());
    }

    #[test]
    fn text_only_values_are_their_rendered_text() {
        let mut m = Message::new();
        let _ = m.parse_request(b"GET /p HTTP/1.1\r\nHost: h\r\n\r\n");
        let src: SocketAddr = ([10, 0, 0, 1], 1234).into();
        let situation = Situation::new(src, src);
        let env = situation.view(Some(&m), None);
        for (text, lit) in [
            ("http", Some(&b"http"[..])),
            ("100%% sure", Some(&b"100% sure"[..])),
            ("", Some(&b""[..])),
            ("a %[path]", None),
            ("%ci", None),
        ] {
            let f = Fmt::parse(text).expect("compiles");
            assert_eq!(f.literal(), lit, "{text}");
            // what rendering the format itself gives
            let mut rendered = Vec::new();
            f.format.render_value_flagged(
                &env,
                &mut |name, fl, out| env.var_flagged(name, fl, out),
                &mut rendered,
            );
            let mut out = Vec::new();
            f.render(&mut out, &env);
            assert_eq!(out, rendered, "{text}");
            let mut lent = Vec::new();
            f.lend(&env, &mut |b| lent.extend_from_slice(b));
            assert_eq!(lent, rendered, "{text}");
        }
    }
}
