//! `http-request` / `http-response` rules: compiled once per config, applied in order.
//!
//! Header values are HAProxy log-format strings; the common sample expressions are expanded
//! (`%[src]`, `%[req.hdr(NAME)]`, `%[path]`, `%ci`, ...), anything else is kept literal text.
//! A rule that answers (deny, redirect, return) stops the evaluation, as in HAProxy.

use super::errors;
use super::message::Message;
use crate::acl::{self, Cond, Ctx};
use crate::applet::Applet;
use fulcrum_config::model::{Acl, HttpAction, HttpRule, RedirectKind, ReturnBody};
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug)]
enum Piece {
    Lit(Vec<u8>),
    Src,
    SrcPort,
    Dst,
    DstPort,
    ReqHdr(Vec<u8>),
    ResHdr(Vec<u8>),
    Path,
    Url,
    Method,
    Status,
}

/// A compiled log-format string.
#[derive(Debug)]
pub struct Fmt(Vec<Piece>);

impl Fmt {
    pub fn parse(s: &str) -> Fmt {
        let mut out = Vec::new();
        let mut lit = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 1 < b.len() {
                if b[i + 1] == b'%' {
                    lit.push(b'%');
                    i += 2;
                    continue;
                }
                let (piece, len) = if b[i + 1] == b'[' {
                    match s[i + 2..].find(']') {
                        Some(end) => (sample_piece(&s[i + 2..i + 2 + end]), end + 3),
                        None => (None, 1),
                    }
                } else {
                    let code: String = s[i + 1..].chars().take(2).collect();
                    match code.as_str() {
                        "ci" => (Some(Piece::Src), 3),
                        "cp" => (Some(Piece::SrcPort), 3),
                        "fi" => (Some(Piece::Dst), 3),
                        "fp" => (Some(Piece::DstPort), 3),
                        "ST" => (Some(Piece::Status), 3),
                        _ => (None, 1),
                    }
                };
                match piece {
                    Some(p) => {
                        if !lit.is_empty() {
                            out.push(Piece::Lit(std::mem::take(&mut lit)));
                        }
                        out.push(p);
                        i += len;
                        continue;
                    }
                    None => {
                        lit.push(b'%');
                        i += 1;
                        continue;
                    }
                }
            }
            lit.push(b[i]);
            i += 1;
        }
        if !lit.is_empty() {
            out.push(Piece::Lit(lit));
        }
        Fmt(out)
    }

    pub fn render(
        &self,
        out: &mut Vec<u8>,
        src: SocketAddr,
        dst: SocketAddr,
        req: Option<&Message>,
        res: Option<&Message>,
    ) {
        use std::io::Write;
        for p in &self.0 {
            match p {
                Piece::Lit(l) => out.extend_from_slice(l),
                Piece::Src => {
                    let _ = write!(out, "{}", crate::net::canonical(src.ip()));
                }
                Piece::SrcPort => {
                    let _ = write!(out, "{}", src.port());
                }
                Piece::Dst => {
                    let _ = write!(out, "{}", crate::net::canonical(dst.ip()));
                }
                Piece::DstPort => {
                    let _ = write!(out, "{}", dst.port());
                }
                Piece::ReqHdr(n) => {
                    out.extend_from_slice(req.and_then(|r| r.header(n)).unwrap_or(b""))
                }
                Piece::ResHdr(n) => {
                    out.extend_from_slice(res.and_then(|r| r.header(n)).unwrap_or(b""))
                }
                Piece::Path => out.extend_from_slice(req.map_or(&b""[..], |r| r.path())),
                Piece::Url => out.extend_from_slice(req.map_or(&b""[..], |r| r.target())),
                Piece::Method => out.extend_from_slice(req.map_or(&b""[..], |r| r.method())),
                Piece::Status => {
                    if let Some(r) = res {
                        let _ = write!(out, "{}", r.status);
                    }
                }
            }
        }
    }
}

fn sample_piece(expr: &str) -> Option<Piece> {
    let arg = |prefix: &str| {
        expr.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(')'))
            .map(|a| a.to_ascii_lowercase().into_bytes())
    };
    Some(match expr {
        "src" => Piece::Src,
        "src_port" => Piece::SrcPort,
        "dst" => Piece::Dst,
        "dst_port" => Piece::DstPort,
        "path" => Piece::Path,
        "url" => Piece::Url,
        "method" => Piece::Method,
        "status" => Piece::Status,
        _ => {
            if let Some(a) = arg("req.hdr(")
                .or_else(|| arg("hdr("))
                .or_else(|| arg("req.fhdr("))
            {
                Piece::ReqHdr(a)
            } else if let Some(a) = arg("res.hdr(").or_else(|| arg("res.fhdr(")) {
                Piece::ResHdr(a)
            } else {
                return None;
            }
        }
    })
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
            HttpAction::SetHeader { name, value } => {
                Action::SetHeader(name.clone().into_bytes(), Fmt::parse(value))
            }
            HttpAction::AddHeader { name, value } => {
                Action::AddHeader(name.clone().into_bytes(), Fmt::parse(value))
            }
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
                f.render(scratch, env.src, env.dst, Some(req), res.as_deref());
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
        let f = Fmt::parse("ip=%[src] host=%[req.hdr(Host)] 100%% %ci:%cp %x");
        let mut m = Message::new();
        let _ = m.parse_request(b"GET /p HTTP/1.1\r\nHost: h\r\n\r\n");
        let mut out = Vec::new();
        let src: SocketAddr = ([10, 0, 0, 1], 1234).into();
        f.render(&mut out, src, src, Some(&m), None);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "ip=10.0.0.1 host=h 100% 10.0.0.1:1234 %x"
        );
    }
}
