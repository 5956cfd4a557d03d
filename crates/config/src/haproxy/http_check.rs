//! `http-check` rules as HAProxy 2.6 has them: `connect`, `send` (meth uri ver hdr body),
//! `expect` (`status rstatus string rstring hdr fhdr`, `!`), `comment`, several send/expect
//! pairs in one check, and the options `disable-on-404` and `send-state`. Variables and
//! log-format forms are not run by fulcrum and are errors naming the keyword.

use super::line::Line;
use crate::model::{
    ExpectKind, HeaderMatch, HttpCheck, HttpCheckExpect, HttpCheckRule, HttpCheckSend,
    HttpExpectOptions, MatchMethod,
};

pub fn http_check(h: &mut HttpCheck, line: &Line<'_>) -> Result<(), String> {
    let rule = match line.need(1, "connect, send, expect or comment")? {
        "expect" => HttpCheckRule::Expect(expect(line)?),
        "send" => {
            // HAProxy: a second send needs its own connect.
            let sent_since_connect = h
                .rules
                .iter()
                .rev()
                .take_while(|r| !matches!(r, HttpCheckRule::Connect(_)))
                .any(|r| matches!(r, HttpCheckRule::Send(_)));
            if sent_since_connect {
                return Err(format!(
                    "'http-check send' : unable to add http-check send rule at step {} (missing connect rule)",
                    h.rules.len() + 1
                ));
            }
            HttpCheckRule::Send(send(line)?)
        }
        "connect" => {
            if !h.rules.is_empty()
                && !h.rules.iter().any(|r| matches!(r, HttpCheckRule::Connect(_)))
                && h.rules.iter().any(|r| {
                    !matches!(
                        r,
                        HttpCheckRule::Comment(_) | HttpCheckRule::SetVar { .. } | HttpCheckRule::UnsetVar { .. }
                    )
                })
            {
                return Err("'http-check connect': first step MUST also be a 'connect', optionally preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a 'connect' step in the tcp-check ruleset".into());
            }
            HttpCheckRule::Connect(super::tcp_check::connect(line)?)
        }
        "comment" => HttpCheckRule::Comment(line.need(2, "a comment")?.to_string()),
        kw @ ("disable-on-404" | "send-state") => {
            if let Some(extra) = line.arg(2) {
                return Err(format!("'http-check {kw}' takes no argument, found '{extra}'"));
            }
            if kw == "disable-on-404" {
                h.disable_on_404 = true;
            } else {
                h.send_state = true;
            }
            return Ok(());
        }
        kw if kw.starts_with("set-var(") || kw.starts_with("set-var-fmt(") || kw.starts_with("unset-var(") => {
            let (scope, name, conditions) = super::tcp_check::check_var(kw)?;
            if kw.starts_with("set-var") {
                fulcrum_sample::var_uses::note_set(&scope, &name);
            }
            let fmt = kw.starts_with("set-var-fmt(");
            if kw.starts_with("set-var") {
                let expr = line.need(2, if fmt { "a log-format string" } else { "a sample expression" })?;
                if let Some(extra) = line.arg(3) {
                    return Err(format!("'http-check {kw}' expects one sample expression, found '{extra}' after it"));
                }
                if fmt {
                    super::tcp_check::log_format(expr, &format!("http-check {kw}"))?;
                } else {
                    super::tcp_check::sample_expr(expr, &format!("http-check {kw}"))?;
                }
                HttpCheckRule::SetVar { scope, name, expr: expr.to_string(), conditions, fmt }
            } else {
                if let Some(extra) = line.arg(2) {
                    return Err(format!("'http-check {kw}' takes no argument, found '{extra}'"));
                }
                super::tcp_check::no_conditions(kw, &conditions)?;
                HttpCheckRule::UnsetVar { scope, name }
            }
        }
        other => {
            return Err(format!(
                "unknown 'http-check' keyword '{other}' (expected connect, send, expect, comment, disable-on-404, send-state, set-var or unset-var)"
            ))
        }
    };
    h.rules.push(rule);
    Ok(())
}

fn send(line: &Line<'_>) -> Result<HttpCheckSend, String> {
    let mut s = HttpCheckSend::default();
    let mut i = 2;
    while let Some(a) = line.arg(i) {
        match a {
            "meth" => s.method = Some(line.need(i + 1, "a method")?.to_string()),
            "uri" => s.uri = Some(line.need(i + 1, "a URI")?.to_string()),
            "ver" => s.version = Some(line.need(i + 1, "a version")?.to_string()),
            "body" => s.body = Some(line.need(i + 1, "a body")?.to_string()),
            "hdr" => {
                let n = line.need(i + 1, "a header name")?.to_string();
                let v = line.need(i + 2, "a header value")?.to_string();
                // header values are log-format strings (haproxy 2.6)
                if v.contains('%') {
                    super::tcp_check::log_format(&v, "http-check send hdr")?;
                    s.headers_lf = true;
                }
                s.headers.push((n, v));
                i += 1;
            }
            "uri-lf" | "body-lf" => {
                let v = line.need(i + 1, "a value")?;
                let lf = v.contains('%');
                if lf {
                    super::tcp_check::log_format(v, &format!("http-check send {a}"))?;
                }
                if a == "uri-lf" {
                    s.uri = Some(v.to_string());
                    s.uri_lf = lf;
                } else {
                    s.body = Some(v.to_string());
                    s.body_lf = lf;
                }
            }
            "comment" => {}
            other => {
                return Err(format!(
                    "'http-check send' expects meth, uri, uri-lf, ver, hdr, body, body-lf or comment, found '{other}'"
                ))
            }
        }
        i += 2;
    }
    Ok(s)
}

fn method(line: &Line<'_>, i: &mut usize) -> Result<MatchMethod, String> {
    if line.arg(*i) != Some("-m") {
        return Ok(MatchMethod::Str);
    }
    let m = match line.need(*i + 1, "a match method (str, beg, end, sub, reg)")? {
        "str" => MatchMethod::Str,
        "beg" => MatchMethod::Beg,
        "end" => MatchMethod::End,
        "sub" => MatchMethod::Sub,
        "reg" => MatchMethod::Reg,
        other => {
            return Err(format!(
            "'http-check expect' match method must be str, beg, end, sub or reg, found '{other}'"
        ))
        }
    };
    *i += 2;
    Ok(m)
}

fn expect(line: &Line<'_>) -> Result<HttpCheckExpect, String> {
    let mut i = 2;
    let mut negate = false;
    let mut options = HttpExpectOptions::default();
    loop {
        match line.arg(i) {
            Some("!") => negate = true,
            Some("comment") => i += 1,
            Some(k) if expect_option(line, i, &mut options)? => {
                let _ = k;
                i += 1;
            }
            _ => break,
        }
        i += 1;
    }
    let word = line.need(i, "status, rstatus, string, rstring, hdr or fhdr")?;
    let (negate, word) = match word.strip_prefix('!') {
        Some(w) => (true, w),
        None => (negate, word),
    };
    let kind = match word {
        "status" => ExpectKind::Status,
        "rstatus" => ExpectKind::Rstatus,
        "string" => ExpectKind::String,
        "rstring" => ExpectKind::Rstring,
        "hdr" => ExpectKind::Hdr,
        "fhdr" => ExpectKind::Fhdr,
        "string-lf" => ExpectKind::StringLf,
        // haproxy 2.6's words for anything else
        other => return Err(format!("'http-check expect' only supports min-recv, [!]string, [!]rstring, [!]string-lf, [!]status, [!]rstatus, [!]hdr, [!]fhdr or comment but got '{other}' as argument")),
    };
    let mut e = HttpCheckExpect {
        span: line.span.clone(),
        negate,
        kind,
        pattern: String::new(),
        header: None,
        options,
    };
    if matches!(kind, ExpectKind::Hdr | ExpectKind::Fhdr) {
        i += 1;
        let name_lf = match line.need(i, "'name'")? {
            "name" => false,
            "name-lf" => true,
            _ => {
                return Err(format!(
                    "'http-check expect {word}' expects 'name' or 'name-lf' first, found '{}'",
                    line.words[i]
                ))
            }
        };
        i += 1;
        // haproxy: "log-format string is not supported with a regex matching method"
        let lf_method = |lf: bool, m: MatchMethod, text: &str| -> Result<(), String> {
            if !lf {
                return Ok(());
            }
            if m == MatchMethod::Reg {
                return Err(format!("'http-check expect {word}': log-format string is not supported with a regex matching method"));
            }
            super::tcp_check::log_format(text, &format!("http-check expect {word}"))
        };
        let name_method = method(line, &mut i)?;
        let name = line.need(i, "a header name")?.to_string();
        lf_method(name_lf, name_method, &name)?;
        i += 1;
        let mut value = None;
        let mut value_lf = false;
        if let Some(kw @ ("value" | "value-lf")) = line.arg(i) {
            value_lf = kw == "value-lf";
            i += 1;
            let m = method(line, &mut i)?;
            let v = line.need(i, "a header value")?.to_string();
            lf_method(value_lf, m, &v)?;
            value = Some((m, v));
            i += 1;
        }
        trailing_options(line, i, &mut e.options, word)?;
        e.header = Some(HeaderMatch {
            name_method,
            name,
            value,
            name_lf,
            value_lf,
        });
        return Ok(e);
    }
    e.pattern = line.need(i + 1, "a pattern")?.to_string();
    trailing_options(line, i + 2, &mut e.options, word)?;
    if kind == ExpectKind::StringLf {
        super::tcp_check::log_format(&e.pattern, "http-check expect string-lf")?;
    }
    if kind == ExpectKind::Status
        && !e
            .pattern
            .split(',')
            .all(|p| p.split('-').all(|n| n.parse::<u16>().is_ok()))
    {
        return Err(format!(
            "'http-check expect status' expects a status code (or list/range), found '{}'",
            e.pattern
        ));
    }
    Ok(e)
}

/// One `KEY VALUE` option of `http-check expect` at word `i`; false when `i` is not one.
fn expect_option(line: &Line<'_>, i: usize, o: &mut HttpExpectOptions) -> Result<bool, String> {
    use super::tcp_check::{
        log_format, sample_expr, status_name, ERROR_STATUS, OK_STATUS, TOUT_STATUS,
    };
    let Some(k) = line.arg(i) else {
        return Ok(false);
    };
    let value = || line.need(i + 1, &format!("a value after '{k}'"));
    match k {
        "ok-status" => o.ok_status = Some(status_name(value()?, OK_STATUS, "http-check", k)?),
        "error-status" => {
            o.error_status = Some(status_name(value()?, ERROR_STATUS, "http-check", k)?)
        }
        "tout-status" => o.tout_status = Some(status_name(value()?, TOUT_STATUS, "http-check", k)?),
        "on-success" | "on-error" => {
            let v = value()?;
            log_format(v, &format!("http-check expect {k}"))?;
            if k == "on-success" {
                o.on_success = Some(v.to_string());
            } else {
                o.on_error = Some(v.to_string());
            }
        }
        "status-code" => {
            let v = value()?;
            sample_expr(v, "http-check expect status-code")?;
            o.status_code = Some(v.to_string());
        }
        "min-recv" => {
            // as haproxy: -1 (the default) or 0 to INT_MAX
            let v = value()?;
            o.min_recv = match v.parse::<i64>() {
                Ok(-1) => None,
                Ok(n) if (0..=i64::from(i32::MAX)).contains(&n) => usize::try_from(n).ok(),
                _ => return Err(format!("'http-check expect min-recv' expects -1 or an integer from 0 to INT_MAX, found '{v}'")),
            };
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The options (and `comment`) written after the pattern.
fn trailing_options(
    line: &Line<'_>,
    mut i: usize,
    o: &mut HttpExpectOptions,
    word: &str,
) -> Result<(), String> {
    while let Some(extra) = line.arg(i) {
        if extra == "comment" {
            line.need(i + 1, "a comment")?;
        } else if !expect_option(line, i, o)? {
            return Err(format!(
                "unexpected '{extra}' after 'http-check expect {word}'"
            ));
        }
        i += 2;
    }
    Ok(())
}
