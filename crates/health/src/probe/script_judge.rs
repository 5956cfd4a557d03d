//! Judges a check script (`probe::script`), purely: an expect step against the bytes
//! received so far (wait for more, pass, or fail with HAProxy's status and info), the success
//! of a whole script, and the info of a connect error or a timeout with the step number ("at
//! step 2 of tcp-check (expect string 'PONG')"). Steps are numbered as HAProxy numbers its
//! rules: every written line counts, comments included; an implicit first connect is step 0
//! ("initial connection step").

use crate::probe::check_sample::CheckEnv;
use crate::probe::check_vars::CheckVars as Vars;
use crate::probe::script::{Action, Expect, Flavor, Matcher, Message, Step, Verdict};
use crate::probe::script_match::{custom, spop_agent_hello};
use crate::status::{CheckOutcome, CheckStatus};
use std::fmt::Write as _;
use std::time::Duration;

/// Judges `step` (an expect) on `buf`; `closed` when the server will send nothing more.
pub fn evaluate(flavor: Flavor, step: &Step, e: &Expect, buf: &[u8], closed: bool) -> Verdict {
    evaluate_with(flavor, step, e, buf, closed, &Vars::default())
}

/// [`evaluate`] with the check's variables (for `%[var(check.x)]` messages and
/// `status-code` expressions).
pub fn evaluate_with(
    flavor: Flavor,
    step: &Step,
    e: &Expect,
    buf: &[u8],
    closed: bool,
    vars: &Vars,
) -> Verdict {
    let v = judge(flavor, step, e, buf, closed, vars);
    let Some(expr) = &e.status_code else {
        return v;
    };
    // `status-code EXPR`: the code of the outcome, passed or failed
    let env = CheckEnv {
        buf,
        status: None,
        vars,
    };
    let code = expr.int(&env).and_then(|n| u16::try_from(n).ok());
    match v {
        Verdict::Pass { info, .. } => Verdict::Pass { code, info },
        Verdict::Fail { status, info, .. } => Verdict::Fail { status, code, info },
        Verdict::Wait => Verdict::Wait,
    }
}

fn judge(
    flavor: Flavor,
    step: &Step,
    e: &Expect,
    buf: &[u8],
    closed: bool,
    vars: &Vars,
) -> Verdict {
    if matches!(e.matcher, Matcher::SpopAgentHello) {
        return spop_agent_hello(step.number, buf, closed);
    }
    if let Some(v) = custom(e, buf, closed) {
        return v;
    }
    if e.min_recv.is_some_and(|m| buf.len() < m) && !closed {
        return Verdict::Wait;
    }
    // `string-lf` / `binary-lf`: the pattern is rendered now, over what came so far
    let rendered = match &e.matcher {
        Matcher::StringLf(lf) | Matcher::BinaryLf(lf) => {
            let text = lf.render(&CheckEnv {
                buf,
                status: None,
                vars,
            });
            if matches!(e.matcher, Matcher::BinaryLf(_)) {
                match std::str::from_utf8(&text)
                    .ok()
                    .and_then(|t| fulcrum_config::haproxy::hex(t).ok())
                {
                    Some(b) => Some(b),
                    None => {
                        // haproxy 2.6's words, without a step number
                        return Verdict::Fail {
                            status: CheckStatus::L7Response,
                            code: None,
                            info: "Failed to parse hexastring resulting of eval of a log-format string".into(),
                        };
                    }
                }
            } else {
                Some(text)
            }
        }
        _ => None,
    };
    let matched = match &e.matcher {
        Matcher::String(p) | Matcher::Binary(p) => {
            p.is_empty() || buf.windows(p.len()).any(|w| w == p.as_slice())
        }
        Matcher::StringLf(_) | Matcher::BinaryLf(_) => {
            let p = rendered.as_deref().unwrap_or_default();
            p.is_empty() || buf.windows(p.len()).any(|w| w == p)
        }
        Matcher::Rstring(re) => re.is_match(buf),
        Matcher::Rbinary(re) => re.is_match(hex_upper(buf).as_bytes()),
        Matcher::MysqlPacket { .. } | Matcher::LdapBindResponse | Matcher::SpopAgentHello => false,
    };
    // Without min-recv, a mismatch waits for more data until the server closes.
    if !matched && !closed && e.min_recv.is_none() {
        return Verdict::Wait;
    }
    let code = e.code_from_payload.then(|| payload_code(buf)).flatten();
    if matched != e.negate {
        let info = match &e.on_success {
            Some(m) => render_with(m, buf, vars),
            None if flavor == Flavor::TcpCheck => step
                .comment
                .clone()
                .unwrap_or_else(|| "(tcp-check)".to_string()),
            None => String::new(),
        };
        return Verdict::Pass { code, info };
    }
    let info = match &e.on_error {
        Some(m) => render_with(m, buf, vars),
        None if flavor == Flavor::TcpCheck => {
            let mut s = if matched {
                "TCPCHK matched unwanted content".to_string()
            } else {
                "TCPCHK did not match content".to_string()
            };
            match &e.matcher {
                Matcher::String(p) => {
                    let _ = write!(s, " '{}'", String::from_utf8_lossy(p));
                }
                // haproxy 2.6.12 names neither a binary pattern nor a regex
                Matcher::Binary(_) => s.push_str(" (binary)"),
                Matcher::Rbinary(_) => s.push_str(" (binary regex)"),
                Matcher::StringLf(_) => s.push_str(" (log-format string)"),
                Matcher::BinaryLf(_) => s.push_str(" (log-format binary)"),
                _ => s.push_str(" (regex)"),
            }
            let _ = write!(s, " at step {}", step.number);
            if let Some(c) = &step.comment {
                let _ = write!(s, " comment: '{c}'");
            }
            s
        }
        None => String::new(),
    };
    Verdict::Fail {
        status: e.error_status,
        code,
        info,
    }
}

/// The outcome when every step passed: decided by the last step, as HAProxy does.
pub fn success(
    flavor: Flavor,
    last: Option<&Step>,
    pass: Option<(Option<u16>, String)>,
    elapsed: Duration,
) -> CheckOutcome {
    let with_info = |o: CheckOutcome, info: String| {
        if info.is_empty() {
            o
        } else {
            o.with_info(info)
        }
    };
    match last.map(|s| &s.action) {
        Some(Action::Expect(e)) => {
            let (code, info) = pass.unwrap_or_default();
            let mut o = CheckOutcome::new(e.ok_status, elapsed);
            // HAProxy prints `code: N` for the statuses past layer 6 only (not L6OK, L4OK)
            if matches!(
                e.ok_status,
                CheckStatus::L7Ok | CheckStatus::L7OkConditional | CheckStatus::L7Status
            ) {
                o = o.with_code(code.unwrap_or(0));
            }
            with_info(o, info)
        }
        Some(Action::ExpectHttp(_, o)) => {
            let (code, info) = pass.unwrap_or_default();
            let status = o.ok_status.unwrap_or(CheckStatus::L7Ok);
            let mut out = CheckOutcome::new(status, elapsed);
            if matches!(
                status,
                CheckStatus::L7Ok | CheckStatus::L7OkConditional | CheckStatus::L7Status
            ) {
                out = out.with_code(code.unwrap_or(0));
            }
            with_info(out, info)
        }
        Some(Action::Connect(c)) => {
            let status = if c.tls.is_some() {
                CheckStatus::L6Ok
            } else {
                CheckStatus::L4Ok
            };
            let o = CheckOutcome::new(status, elapsed);
            if c.implicit {
                o
            } else {
                o.with_info("(tcp-check)")
            }
        }
        _ if flavor == Flavor::TcpCheck => CheckOutcome::new(CheckStatus::L7Ok, elapsed)
            .with_code(0)
            .with_info("(tcp-check)"),
        _ => CheckOutcome::new(CheckStatus::L7Ok, elapsed).with_code(0),
    }
}

/// The words HAProxy appends to a connect error or a timeout in a `tcp-check` sequence:
/// " at step 2 of tcp-check (expect string 'PONG')" (protocol checks add nothing).
pub fn where_info(flavor: Flavor, step: &Step) -> String {
    if flavor != Flavor::TcpCheck {
        return String::new();
    }
    if step.number == 0 {
        return " at initial connection step of tcp-check".to_string();
    }
    let mut s = format!(" at step {} of tcp-check", step.number);
    match &step.action {
        Action::Connect(c) => match c.port {
            Some(p) => {
                let _ = write!(s, " (connect port {p})");
            }
            None => s.push_str(" (connect)"),
        },
        Action::Send(_)
        | Action::SendHttp { .. }
        | Action::SendSslHello
        | Action::SendLf { .. }
        | Action::SendHttpLf(_) => s.push_str(" (send)"),
        Action::SetVar { .. } | Action::SetVarFmt { .. } | Action::UnsetVar(_) => {}
        Action::ExpectHttp(..) => s.push_str(" (expect)"),
        Action::Expect(e) => match &e.matcher {
            Matcher::String(p) => {
                let _ = write!(s, " (expect string '{}')", String::from_utf8_lossy(p));
            }
            Matcher::Binary(p) => {
                let _ = write!(s, " (expect binary '{}')", hex_upper(p));
            }
            Matcher::Rstring(_) => s.push_str(" (expect regex)"),
            Matcher::Rbinary(_) => s.push_str(" (expect binary regex)"),
            Matcher::StringLf(_) => s.push_str(" (expect log-format string)"),
            Matcher::BinaryLf(_) => s.push_str(" (expect log-format binary)"),
            _ => s.push_str(" (expect custom function)"),
        },
    }
    if let Some(c) = &step.comment {
        let _ = write!(s, " comment: '{c}'");
    }
    s
}

pub(crate) fn render(m: &Message, buf: &[u8]) -> String {
    render_with(m, buf, &Vars::default())
}

pub(crate) fn render_with(m: &Message, buf: &[u8], vars: &Vars) -> String {
    render_env(m, buf, None, vars)
}

/// A message over an answer: `status` is the HTTP status when there is one.
pub(crate) fn render_env(m: &Message, buf: &[u8], status: Option<u16>, vars: &Vars) -> String {
    match m {
        Message::Text(t) => t.clone(),
        Message::Format(lf) => {
            String::from_utf8_lossy(&lf.render(&CheckEnv { buf, status, vars })).into_owned()
        }
        Message::Payload {
            from,
            ltrim,
            cut_crlf,
        } => {
            let mut b = buf.get(*from..).unwrap_or_default();
            if *ltrim {
                while let [b' ', rest @ ..] = b {
                    b = rest;
                }
            }
            let mut end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
            if *cut_crlf {
                end = b[..end]
                    .iter()
                    .position(|c| *c == b'\r' || *c == b'\n')
                    .unwrap_or(end);
            }
            String::from_utf8_lossy(&b[..end]).into_owned()
        }
    }
}

fn payload_code(buf: &[u8]) -> Option<u16> {
    std::str::from_utf8(buf.get(..3)?).ok()?.parse().ok()
}

pub fn hex_upper(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02X}");
            s
        })
}
