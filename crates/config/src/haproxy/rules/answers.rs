//! The `http-request` / `http-response` actions that answer the client themselves: `redirect`,
//! `deny` (with a response), `return`, and their response options (status, content-type,
//! body, headers).

use super::super::line::{number, number_in, Line};
use crate::model::{HttpAction, RedirectKind, Reply, ReturnBody};

/// `redirect location|prefix|scheme VALUE [code N] [drop-query] [append-slash] [set-cookie X] [clear-cookie X] [ignore-empty]`,
/// its words in any order (HAProxy's parser takes `code 301 location /x` too). In an
/// `http-request`/`http-response` rule a VALUE with `%` is a log-format string; the proxy
/// keyword `redirect` (parsed as such a rule by `haproxy::redirect`) takes it literally in
/// HAProxy, which fulcrum refuses there rather than send `%[` to a client.
pub(super) fn redirect(line: &Line<'_>) -> Result<(HttpAction, usize), String> {
    let request = line.keyword() != "http-response";
    let mut kind_target: Option<(RedirectKind, String)> = None;
    let mut code = 302;
    let (mut drop_query, mut append_slash, mut cookie) = (false, false, None);
    let mut ignore_empty = false;
    let mut i = 2;
    while let Some(w) = line.arg(i) {
        match w {
            "location" | "prefix" | "scheme" => {
                let kind = match w {
                    "location" => RedirectKind::Location,
                    "prefix" => RedirectKind::Prefix,
                    _ => RedirectKind::Scheme,
                };
                let target = line.need(i + 1, "a target")?.to_string();
                kind_target = Some((kind, target));
                i += 2;
            }
            "code" => {
                code = number(line.need(i + 1, "a status code")?, "redirect code")?;
                if ![301, 302, 303, 307, 308].contains(&code) {
                    return Err(format!(
                        "redirect code must be 301, 302, 303, 307 or 308, found {code}"
                    ));
                }
                i += 2;
            }
            "drop-query" => {
                drop_query = true;
                i += 1;
            }
            "append-slash" => {
                append_slash = true;
                i += 1;
            }
            // A `location` log-format value that renders empty: the rule is skipped.
            "ignore-empty" => {
                ignore_empty = true;
                i += 1;
            }
            "set-cookie" => {
                let c = line.need(i + 1, "a cookie NAME[=VALUE]")?;
                cookie = Some(format!("{c}; path=/;"));
                i += 2;
            }
            "clear-cookie" => {
                let c = line.need(i + 1, "a cookie NAME[=]")?;
                cookie = Some(format!("{c}; path=/; Max-Age=0;"));
                i += 2;
            }
            "if" | "unless" => break,
            other if kind_target.is_none() => {
                return Err(format!(
                    "'redirect' expects location, prefix or scheme, found '{other}'"
                ))
            }
            _ => break,
        }
    }
    let Some((kind, target)) = kind_target else {
        return Err("'redirect' expects location, prefix or scheme and a target".into());
    };
    let log_format = target.contains('%');
    if log_format {
        let what = format!("the 'redirect {}' target", kind_word(kind));
        super::super::logformat::check_rule_value(&target, request, &what)?;
    }
    Ok((
        HttpAction::Redirect {
            kind,
            target,
            log_format,
            code,
            drop_query,
            append_slash,
            cookie,
            ignore_empty,
        },
        i,
    ))
}

fn kind_word(k: RedirectKind) -> &'static str {
    match k {
        RedirectKind::Location => "location",
        RedirectKind::Prefix => "prefix",
        RedirectKind::Scheme => "scheme",
    }
}

/// `return [status N] [content-type T] [string S|lf-string S|file F|lf-file F|errorfile F|default-errorfiles] [hdr N V]...`
/// `deny [deny_status N] [content-type T] [string S|lf-string S|file F|lf-file F|errorfile F|errorfiles NAME] [hdr N V]...`:
/// without a response option, the proxy's error page for the status; with one, that
/// response (as `return`'s, logged as a refusal).
pub(super) fn deny_action(line: &Line<'_>, request: bool) -> Result<(HttpAction, usize), String> {
    // HAProxy 2.6: 403 for a request, 502 for a response
    let dflt = if request { 403 } else { 502 };
    let (status, content_type, body, headers, i) = response_options(line, request, dflt, "deny")?;
    if own_page(line, i, &body, &headers, &content_type, status)? {
        let status = option_word(line, i, "deny_status").then_some(status);
        return Ok((HttpAction::Deny { status }, i));
    }
    Ok((
        HttpAction::DenyReply(Reply {
            status,
            content_type,
            body,
            headers,
        }),
        i,
    ))
}

/// `tarpit [deny_status N] [response options as deny's]`.
pub(super) fn tarpit_action(line: &Line<'_>, request: bool) -> Result<(HttpAction, usize), String> {
    if !request {
        return Err("'tarpit' is only valid in 'http-request'".into());
    }
    let (status, content_type, body, headers, i) = response_options(line, request, 500, "deny")?;
    let reply = (!own_page(line, i, &body, &headers, &content_type, status)?).then_some(Reply {
        status,
        content_type,
        body,
        headers,
    });
    Ok((HttpAction::Tarpit { status, reply }, i))
}

/// Whether word `word` is one of the response options (words 2 to `end`), not a value.
fn option_word(line: &Line<'_>, end: usize, word: &str) -> bool {
    let mut i = 2;
    while i < end {
        match line.arg(i) {
            Some(w) if w == word => return true,
            Some("hdr") => i += 3,
            Some("default-errorfiles") => i += 1,
            _ => i += 2,
        }
    }
    false
}

/// Whether a `deny`/`tarpit` answers with HAProxy's own page for its status: no payload, no
/// `hdr` and no `content-type`, its status given as `deny_status` or not at all (with the
/// `status` word, HAProxy 2.6 answers the status empty, as with a `content-type` alone).
/// HAProxy 2.6 refuses a status it has no page for there (`deny_status 418`).
fn own_page(
    line: &Line<'_>,
    end: usize,
    body: &ReturnBody,
    headers: &[(String, String)],
    content_type: &Option<String>,
    status: u16,
) -> Result<bool, String> {
    let own = matches!(body, ReturnBody::None)
        && headers.is_empty()
        && content_type.is_none()
        && !option_word(line, end, "status");
    if own {
        super::super::http_errors::check_page_status(status, "default-errorfiles")?;
    }
    Ok(own)
}

pub(super) fn return_action(line: &Line<'_>, request: bool) -> Result<(HttpAction, usize), String> {
    let (status, content_type, body, headers, i) = response_options(line, request, 200, "return")?;
    Ok((
        HttpAction::Return {
            status,
            content_type,
            body,
            headers,
        },
        i,
    ))
}

pub(super) type ResponseOptions = (
    u16,
    Option<String>,
    ReturnBody,
    Vec<(String, String)>,
    usize,
);

/// The response options of `return` and `deny`, from word 2.
pub(super) fn response_options(
    line: &Line<'_>,
    request: bool,
    default_status: u16,
    what: &str,
) -> Result<ResponseOptions, String> {
    response_options_from(line, 2, request, default_status, what)
}

/// The response options from word `i` (`http-error status N ...` reads them from word 1).
pub(in crate::haproxy) fn response_options_from(
    line: &Line<'_>,
    mut i: usize,
    request: bool,
    default_status: u16,
    what: &str,
) -> Result<ResponseOptions, String> {
    let mut status = default_status;
    let mut content_type = None;
    let mut body = ReturnBody::None;
    let mut headers = Vec::new();
    let mut default_errorfiles = false;
    while let Some(w) = line.arg(i) {
        match w {
            // resolved once every `http-errors` section is read (`http_errors::resolve_rules`)
            "errorfiles" => {
                let name = line.need(i + 1, "an http-errors section name")?;
                body = ReturnBody::Errorfiles(name.to_string());
                i += 2;
            }
            "deny_status" if what != "deny" => break,
            "status" | "deny_status" => {
                status = number_in(line.need(i + 1, "a status code")?, "status", 200, 599)? as u16;
                i += 2;
            }
            "content-type" => {
                content_type = Some(line.need(i + 1, "a content type")?.to_string());
                i += 2;
            }
            "string" | "lf-string" | "file" | "lf-file" | "errorfile" => {
                let mut v = line.need(i + 1, "a value")?.to_string();
                if v.is_empty() {
                    // as HAProxy 2.6 (`'string' expects <str> as argument`)
                    return Err(format!("'{w}' expects a non-empty argument"));
                }
                if matches!(w, "file" | "lf-file" | "errorfile") {
                    v = line.paths.file(&v);
                    std::fs::metadata(&v)
                        .map_err(|e| format!("'return {w}': cannot open '{v}': {e}"))?;
                }
                body = match w {
                    "string" => ReturnBody::String(v),
                    "lf-string" => {
                        super::super::logformat::check_rule_value(&v, request, "the lf-string")?;
                        ReturnBody::LfString(v)
                    }
                    // An lf-file is a log-format string kept in a file: read it now.
                    "lf-file" => {
                        let text = std::fs::read_to_string(&v)
                            .map_err(|e| format!("'return lf-file': cannot read '{v}': {e}"))?;
                        super::super::logformat::check_rule_value(&text, request, "the lf-file")?;
                        ReturnBody::LfString(text)
                    }
                    "errorfile" => ReturnBody::Errorfile(v),
                    _ => ReturnBody::File(v),
                };
                i += 2;
            }
            "default-errorfiles" => {
                default_errorfiles = true;
                i += 1;
            }
            "hdr" => {
                let n = line.need(i + 1, "a header name")?.to_string();
                let v = line.need(i + 2, "a header value")?.to_string();
                super::super::logformat::check_rule_value(&v, request, "the header value")?;
                headers.push((n, v));
                i += 3;
            }
            _ => break,
        }
    }
    // HAProxy 2.6 wants a content-type only for a payload that is not empty (`file
    // /dev/null` or an empty `lf-file` go without one).
    let empty = match &body {
        ReturnBody::LfString(t) => t.is_empty(),
        ReturnBody::File(f) => std::fs::metadata(f).is_ok_and(|m| m.len() == 0),
        _ => false,
    };
    if !matches!(body, ReturnBody::None)
        && !empty
        && content_type.is_none()
        && !matches!(body, ReturnBody::Errorfile(_) | ReturnBody::Errorfiles(_))
    {
        return Err(format!("'{what}' with a body needs a 'content-type'"));
    }
    // A page of HAProxy's own (`default-errorfiles`; a `deny`/`tarpit` without a response:
    // see `own_page`).
    if matches!(body, ReturnBody::None) && default_errorfiles {
        super::super::http_errors::check_page_status(status, "default-errorfiles")?;
    }
    if matches!(body, ReturnBody::Errorfiles(_)) {
        super::super::http_errors::check_page_status(status, "errorfiles")?;
    }
    Ok((status, content_type, body, headers, i))
}
