//! `http-request` / `http-response` rules: compiled once per config, applied in order.
//!
//! Header values and `lf-string` bodies are HAProxy log-format strings, compiled by the
//! sample-language crate and rendered per request.
//! A rule that answers (deny, redirect, return) stops the evaluation, as in HAProxy.

use super::errors;
use super::message::Message;
use super::sample_env::HttpEnv;
use crate::acl::{self, Cond, Ctx};
use crate::applet::Applet;
use fulcrum_config::model::{Acl, HttpAction, HttpRule, RedirectKind, ReturnBody};
use std::net::SocketAddr;
use std::sync::Arc;

/// A compiled log-format string: HAProxy's sample language (fulcrum-sample), rendered
/// against the exchange by `sample_env`. The config layer has already refused what the data
/// plane does not answer, so nothing is ever sent as literal `%[...]` text.
#[derive(Debug)]
pub struct Fmt(fulcrum_sample::Format);

impl Fmt {
    pub fn parse(s: &str) -> Result<Fmt, String> {
        fulcrum_sample::compile_format(s)
            .map(Fmt)
            .map_err(|e| format!("log-format '{s}': column {}: {}", e.col, e.msg))
    }

    pub fn render(&self, out: &mut Vec<u8>, e: &Env, req: Option<&Message>, res: Option<&Message>) {
        let env = HttpEnv {
            src: e.src,
            dst: e.dst,
            req,
            res,
            tls: e.tls.as_deref(),
        };
        // A missing value is empty in header values and bodies (HAProxy writes `-` only in logs).
        self.0
            .render(&env, &mut |name, out| env.var_into(name, out), b"", out);
    }
}

#[derive(Debug)]
enum Action {
    Allow,
    Deny(u16),
    SetHeader(Vec<u8>, Fmt),
    AddHeader(Vec<u8>, Fmt),
    DelHeader(Vec<u8>),
    Redirect {
        kind: RedirectKind,
        target: Vec<u8>,
        code: u16,
    },
    Return(Vec<u8>),
    /// `return ... lf-string`: the body is rendered per request.
    ReturnLf {
        status: u16,
        content_type: Option<String>,
        headers: Vec<(String, String)>,
        body: Fmt,
    },
    /// `use-service NAME`: the applet answers (resolved when compiled).
    Service(Arc<dyn Applet>),
}

#[derive(Debug)]
pub struct Rule {
    action: Action,
    cond: Option<Cond>,
}

/// What the rules decided for this message.
pub enum Verdict {
    Continue,
    /// Answer with this response instead of forwarding (deny, redirect, return).
    Respond(Vec<u8>),
    /// Answer with the proxy's error page for this status.
    Error(u16),
    /// `use-service`: the applet answers.
    Service(Arc<dyn Applet>),
}

/// The message for a `use-service` naming no service.
pub fn unknown_service(name: &str) -> String {
    format!("use-service '{name}': no such service (fulcrum has prometheus-exporter)")
}

/// Compiles rules; `service` resolves `use-service NAME` (an unknown name is an error).
pub fn compile(
    rules: &[HttpRule],
    acls: &[Acl],
    service: &dyn Fn(&str) -> Option<Arc<dyn Applet>>,
) -> Result<Vec<Rule>, acl::AclError> {
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        let cond = r
            .condition
            .as_ref()
            .map(|c| acl::compile_condition(c, acls))
            .transpose()?;
        let action = match &r.action {
            HttpAction::Allow => Action::Allow,
            HttpAction::Deny { status } => Action::Deny(status.unwrap_or(403)),
            HttpAction::SetHeader { name, value } => Action::SetHeader(
                name.clone().into_bytes(),
                Fmt::parse(value).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
            ),
            HttpAction::AddHeader { name, value } => Action::AddHeader(
                name.clone().into_bytes(),
                Fmt::parse(value).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
            ),
            HttpAction::Return {
                status,
                content_type,
                body: ReturnBody::LfString(text),
                headers,
            } => Action::ReturnLf {
                status: *status,
                content_type: content_type.clone(),
                headers: headers.clone(),
                body: Fmt::parse(text).map_err(|e| acl::AclError(format!("{}: {e}", r.span)))?,
            },
            HttpAction::DelHeader { name } => Action::DelHeader(name.clone().into_bytes()),
            HttpAction::Redirect { kind, target, code } => Action::Redirect {
                kind: *kind,
                target: target.clone().into_bytes(),
                code: *code,
            },
            HttpAction::Return {
                status,
                content_type,
                body,
                headers,
            } => {
                let bytes = match body {
                    ReturnBody::None => Vec::new(),
                    ReturnBody::String(s) | ReturnBody::LfString(s) => s.clone().into_bytes(),
                    ReturnBody::File(f) | ReturnBody::Errorfile(f) => {
                        std::fs::read(f).map_err(|e| {
                            acl::AclError(format!(
                                "{}: cannot read '{f}' for http-request return: {e}",
                                r.span
                            ))
                        })?
                    }
                };
                if matches!(body, ReturnBody::Errorfile(_)) {
                    Action::Return(bytes)
                } else {
                    Action::Return(errors::return_response(
                        *status,
                        content_type.as_deref(),
                        headers,
                        &bytes,
                    ))
                }
            }
            HttpAction::UseService { name } => match service(name) {
                Some(a) => Action::Service(a),
                None => {
                    return Err(acl::AclError(format!(
                        "{}: {}",
                        r.span,
                        unknown_service(name)
                    )))
                }
            },
        };
        out.push(Rule { action, cond });
    }
    Ok(out)
}

/// Request-side context for rules.
pub struct Env {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The client's TLS handshake, on a `bind ... ssl` connection.
    pub tls: Option<std::sync::Arc<crate::stream::TlsInfo>>,
}

/// Applies request rules to `req` (or response rules to `res` when given).
pub fn apply(
    rules: &[Rule],
    env: &Env,
    req: &mut Message,
    mut res: Option<&mut Message>,
    scratch: &mut Vec<u8>,
) -> Verdict {
    for rule in rules {
        if let Some(c) = &rule.cond {
            let ctx = Ctx {
                src: crate::net::canonical(env.src.ip()),
                dst_port: env.dst.port(),
                req: Some(req),
                res: res.as_deref(),
                tls: env.tls.as_deref(),
                hello: None,
            };
            if !c.eval(&ctx) {
                continue;
            }
        }
        match &rule.action {
            Action::Allow => return Verdict::Continue,
            Action::Deny(s) => return Verdict::Error(*s),
            Action::DelHeader(n) => match res.as_deref_mut() {
                Some(r) => r.remove(n),
                None => req.remove(n),
            },
            Action::SetHeader(n, f) | Action::AddHeader(n, f) => {
                scratch.clear();
                f.render(scratch, env, Some(req), res.as_deref());
                let set = matches!(rule.action, Action::SetHeader(..));
                let target: &mut Message = match res.as_deref_mut() {
                    Some(r) => r,
                    None => req,
                };
                if set {
                    target.set(n, scratch);
                } else {
                    target.append(n, scratch);
                }
            }
            Action::Return(bytes) => return Verdict::Respond(bytes.clone()),
            Action::ReturnLf {
                status,
                content_type,
                headers,
                body,
            } => {
                scratch.clear();
                body.render(scratch, env, Some(req), res.as_deref());
                return Verdict::Respond(errors::return_response(
                    *status,
                    content_type.as_deref(),
                    headers,
                    scratch,
                ));
            }
            Action::Service(a) => return Verdict::Service(a.clone()),
            Action::Redirect { kind, target, code } => {
                let mut loc = Vec::with_capacity(64);
                match kind {
                    RedirectKind::Location => loc.extend_from_slice(target),
                    RedirectKind::Prefix => {
                        if target.as_slice() != b"/" {
                            loc.extend_from_slice(target);
                        }
                        loc.extend_from_slice(req.uri());
                    }
                    RedirectKind::Scheme => {
                        loc.extend_from_slice(target);
                        loc.extend_from_slice(b"://");
                        loc.extend_from_slice(req.header(b"host").unwrap_or(b""));
                        loc.extend_from_slice(req.uri());
                    }
                }
                return Verdict::Respond(errors::redirect_response(*code, &loc, false));
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
        let env = Env {
            src,
            dst: src,
            tls: None,
        };
        f.render(&mut out, &env, Some(&m), None);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "ip=10.0.0.1 host=h 100% 10.0.0.1:1234"
        );
        // What is not a variable or an expression is refused, never sent as text.
        assert!(Fmt::parse("%x").is_err());
        assert!(Fmt::parse("%[url").is_err());
    }
}
