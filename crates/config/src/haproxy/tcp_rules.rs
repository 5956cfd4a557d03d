//! `tcp-request inspect-delay|connection|session|content` and `tcp-response
//! inspect-delay|content`: where each may stand, and the actions fulcrum runs. An action it
//! does not run is an error naming it, never a rule silently dropped (an allow/deny list
//! that vanished would let everyone in).

use super::acl::condition;
use super::line::{time, Line};
use crate::model::{ProxyKind, TcpAction, TcpRule, TcpRules};
use fulcrum_sample::fetch::Needs;

/// Actions HAProxy 2.6 has in TCP rules that fulcrum does not run yet.
const NOT_RUN: &[&str] = &[
    "set-priority-class",
    "set-priority-offset",
    "do-resolve",
    "use-service",
    "send-spoe-group",
    "attach-srv",
    "close",
    "lua",
];

fn action(line: &Line<'_>, what: &str, i: usize) -> Result<(TcpAction, usize), String> {
    let word = line.need(i, "an action such as accept or reject")?;
    let response = what.starts_with("tcp-response");
    let available = if response {
        Needs::Response
    } else if what.ends_with("content") {
        Needs::Request
    } else {
        Needs::Connection
    };
    if let Some((v, next)) = super::vars::parse(line, i, available)? {
        return Ok((TcpAction::Var(v), next));
    }
    if let Some((c, next)) = super::counters::parse(line, i, available)? {
        return Ok((TcpAction::Counter(c), next));
    }
    let base = word.split('(').next().unwrap_or(word);
    let place = if response {
        super::rules::conn::Place::Response
    } else if what.ends_with("content") {
        super::rules::conn::Place::Request
    } else {
        super::rules::conn::Place::Accept
    };
    if let Some((c, next)) = super::rules::conn::parse(line, i, place, what)? {
        return Ok((TcpAction::Conn(c), next));
    }
    if base == "capture" {
        if what != "tcp-request content" {
            return Err(format!(
                "'capture' is not allowed in '{what}' rules (only 'tcp-request content', as HAProxy 2.6)"
            ));
        }
        let expr = line.need(i + 1, "a sample expression")?.to_string();
        let mut compiler = fulcrum_sample::expr::Compiler::default().with_available(available);
        let compiled = fulcrum_sample::expr::compile_with(&expr, &mut compiler)
            .map_err(|e| format!("capture '{expr}': {e}"))?;
        super::logformat::check_answered(compiled.fetch.kw.name)
            .map_err(|e| format!("capture '{expr}': {e}"))?;
        if line.arg(i + 2) != Some("len") {
            return Err("'tcp-request content capture SAMPLE' expects 'len N'".into());
        }
        let len = super::line::number_in(line.need(i + 3, "a length")?, "capture len", 1, 65535)?
            as usize;
        // the slot is the proxy's next request capture (`proxy.rs`)
        return Ok((TcpAction::Capture { expr, len, slot: 0 }, i + 4));
    }
    if base == "expect-proxy" || base == "expect-netscaler-cip" {
        if what != "tcp-request connection" {
            return Err(format!(
                "'{base} layer4' is not allowed in '{what}' rules (only 'tcp-request connection')"
            ));
        }
        let a = if base == "expect-proxy" {
            TcpAction::ExpectProxy
        } else {
            TcpAction::ExpectNetscalerCip
        };
        match line.arg(i + 1) {
            Some("layer4") => return Ok((a, i + 2)),
            _ => return Err(format!("'{base}' expects 'layer4'")),
        }
    }
    if (what == "tcp-request content" || what == "tcp-response content") && base == "set-log-level"
    {
        let w = line.need(i + 1, "a log level (emerg ... debug, or silent)")?;
        let level = super::rules::log_level(w)?;
        return Ok((TcpAction::SetLogLevel { level }, i + 2));
    }
    if !response
        && matches!(
            base,
            "set-src" | "set-dst" | "set-src-port" | "set-dst-port"
        )
    {
        let part = match base {
            "set-src" => crate::model::AddrPart::Src,
            "set-dst" => crate::model::AddrPart::Dst,
            "set-src-port" => crate::model::AddrPart::SrcPort,
            _ => crate::model::AddrPart::DstPort,
        };
        let expr = line.need(i + 1, "a sample expression")?.to_string();
        let mut compiler = fulcrum_sample::expr::Compiler::default().with_available(available);
        let compiled = fulcrum_sample::expr::compile_with(&expr, &mut compiler)
            .map_err(|e| format!("{base} '{expr}': {e}"))?;
        super::logformat::check_answered(compiled.fetch.kw.name)
            .map_err(|e| format!("{base} '{expr}': {e}"))?;
        return Ok((TcpAction::SetAddr { part, expr }, i + 2));
    }
    if base == "switch-mode" && what == "tcp-request content" {
        return switch_mode(line, i);
    }
    Ok(match base {
        "accept" => (TcpAction::Accept, i + 1),
        "reject" => (TcpAction::Reject, i + 1),
        "silent-drop" => (TcpAction::SilentDrop, i + 1),
        "close" if response => (TcpAction::Close, i + 1),
        b if NOT_RUN.contains(&b) || b.starts_with("lua.") => {
            return Err(format!(
                "'{what} {word}' is not run by fulcrum yet{}",
                super::rules::not_run_reason(b)
            ))
        }
        _ => return Err(format!("unknown '{what}' action '{word}'")),
    })
}

/// `switch-mode http [proto NAME]`, with HAProxy 2.6's messages for what it refuses.
fn switch_mode(line: &Line<'_>, i: usize) -> Result<(TcpAction, usize), String> {
    match line.arg(i + 1) {
        None | Some("if" | "unless") => {
            return Err("'tcp-request switch-mode' expects a mode as argument.".into())
        }
        Some("http") => {}
        Some(m) => {
            return Err(format!(
                "'tcp-request switch-mode' expects a valid mode (got '{m}')."
            ))
        }
    }
    if line.arg(i + 2) != Some("proto") {
        return Ok((TcpAction::SwitchModeHttp { h2: false }, i + 2));
    }
    match line.arg(i + 3) {
        None => Err("'tcp-request switch-mode': 'proto' expects a protocol as argument.".into()),
        Some("h1") => Ok((TcpAction::SwitchModeHttp { h2: false }, i + 4)),
        Some("h2") => Ok((TcpAction::SwitchModeHttp { h2: true }, i + 4)),
        Some(p @ ("fcgi" | "none")) => Err(format!(
            "MUX protocol '{p}' is not compatible with the selected mode."
        )),
        Some(p) => Err(format!(
            "'tcp-request switch-mode': 'proto' expects a valid MUX protocol, if specified (got '{p}')"
        )),
    }
}

fn rule(line: &Line<'_>, what: &str) -> Result<TcpRule, String> {
    let (action, next) = action(line, what, 2)?;
    let condition = match line.arg(next) {
        None => None,
        Some("if" | "unless") => Some(condition(line, next)?),
        Some(other) => {
            return Err(format!(
                "unexpected '{other}' (expected 'if', 'unless' or the end of the line)"
            ))
        }
    };
    Ok(TcpRule {
        span: line.span.clone(),
        action,
        condition,
    })
}

/// One `tcp-request` / `tcp-response` line of a proxy of kind `section` (`None`: a named
/// `defaults` section).
pub fn parse(
    rules: &mut TcpRules,
    section: Option<ProxyKind>,
    line: &Line<'_>,
) -> Result<(), String> {
    let kw = line.keyword();
    let phase = line.need(1, "a phase: inspect-delay, connection, session or content")?;
    let frontend = section.is_none_or(ProxyKind::is_frontend);
    let backend = section.is_none_or(ProxyKind::is_backend);
    let what = format!("{kw} {phase}");
    let place_err = |needs: &str| {
        Err(format!(
            "'{what}' is not allowed in a {} (only in {needs})",
            section.map_or("defaults section", ProxyKind::keyword)
        ))
    };
    match (kw, phase) {
        ("tcp-request", "inspect-delay") => {
            rules.inspect_delay = Some(time(line.need(2, "a delay")?, "inspect-delay")?);
            line.no_more(3)?;
        }
        ("tcp-response", "inspect-delay") => {
            if !backend {
                return place_err("a backend or listen");
            }
            rules.response_inspect_delay = Some(time(line.need(2, "a delay")?, "inspect-delay")?);
            line.no_more(3)?;
        }
        ("tcp-request", "connection" | "session") => {
            if !frontend {
                return place_err("a frontend or listen");
            }
            let r = rule(line, &what)?;
            if phase == "connection" {
                rules.connection.push(r);
            } else {
                rules.session.push(r);
            }
        }
        ("tcp-request", "content") => {
            let r = rule(line, &what)?;
            if matches!(r.action, TcpAction::SwitchModeHttp { .. }) && !frontend {
                return Err(
                    "'tcp-request switch-mode' not allowed because a backend has no frontend capability"
                        .into(),
                );
            }
            rules.content.push(r);
        }
        ("tcp-response", "content") => {
            if !backend {
                return place_err("a backend or listen");
            }
            rules.response.push(rule(line, &what)?);
        }
        ("tcp-request", other) => {
            return Err(format!(
            "'tcp-request' expects inspect-delay, connection, session or content, found '{other}'"
        ))
        }
        (_, other) => {
            return Err(format!(
                "'tcp-response' expects inspect-delay or content, found '{other}'"
            ))
        }
    }
    Ok(())
}
