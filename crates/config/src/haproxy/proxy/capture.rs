//! `capture request|response header NAME len N` and `capture cookie NAME len N` in a proxy.

use super::super::line::{number_in, Line};
use crate::model::Proxy;

/// Parses one `capture` line into `p`.
pub(super) fn parse(p: &mut Proxy, line: &Line<'_>) -> Result<(), String> {
    let side = line.need(1, "'request' or 'response'")?;
    let what = line.need(2, "'header'")?;
    let response = match (side, what) {
        ("request", "header") => false,
        ("response", "header") => true,
        ("cookie", name) => {
            if line.arg(3) != Some("len") {
                return Err("'capture cookie NAME' expects 'len N'".into());
            }
            // HAProxy caps it at tune.http.cookielen (63 by default).
            let len = number_in(line.need(4, "a length")?, "capture len", 1, 65535)?;
            line.no_more(5)?;
            if p.options.log.capture_cookie.is_some() {
                return Err("only one 'capture cookie' per proxy".into());
            }
            p.options.log.capture_cookie = Some((name.to_string(), (len as usize).min(63)));
            return Ok(());
        }
        _ => {
            return Err(format!(
                "'capture' expects 'request header' or 'response header', found '{side} {what}'"
            ))
        }
    };
    let name = line.need(3, "a header name")?.to_string();
    if line.arg(4) != Some("len") {
        return Err("'capture ... header NAME' expects 'len N'".into());
    }
    let len = number_in(line.need(5, "a length")?, "capture len", 1, 65535)? as usize;
    line.no_more(6)?;
    p.captures.push(crate::model::Capture {
        response,
        name,
        len,
        sample: false,
    });

    Ok(())
}

/// `tcp-request content capture ... len N` (the line just parsed into `p`'s rules) makes a
/// new request capture slot, as `http-request capture ... len N` does; only in a proxy with
/// a frontend side.
pub(super) fn tcp_content_slot(
    p: &mut Proxy,
    section: Option<crate::model::ProxyKind>,
    line: &Line<'_>,
) -> Result<(), String> {
    use crate::model::{TcpAction, TcpRule};
    let last = p
        .tcp_rules
        .content
        .last_mut()
        .filter(|r| r.span == line.span);
    let Some(TcpRule {
        action: TcpAction::Capture { len, slot, .. },
        ..
    }) = last
    else {
        return Ok(());
    };
    *slot = new_request_slot(
        &mut p.captures,
        &p.name,
        section,
        "tcp-request content capture",
        *len,
    )?;
    Ok(())
}

/// A new request capture slot of `len` bytes for a rule's sample (`http-request capture ...
/// len N`, `tcp-request content capture`): its number; only in a proxy with a frontend side.
pub(super) fn new_request_slot(
    captures: &mut Vec<crate::model::Capture>,
    proxy: &str,
    section: Option<crate::model::ProxyKind>,
    what: &str,
    len: usize,
) -> Result<usize, String> {
    use crate::model::ProxyKind;
    if !matches!(section, Some(ProxyKind::Frontend | ProxyKind::Listen)) {
        return Err(format!(
            "'{what}': proxy '{proxy}' has no frontend capability"
        ));
    }
    let slot = captures.iter().filter(|c| !c.response).count();
    captures.push(crate::model::Capture {
        response: false,
        name: String::new(),
        len,
        sample: true,
    });
    Ok(slot)
}

/// `capture SAMPLE id N` rules that name a `capture request|response header` slot: HAProxy
/// captures the headers before its rules run, and the rule then overwrites the slot with its
/// sample (when the sample has a value). Such a slot is marked `sample` so that the data
/// plane keeps rule values for it. A backend's rules fill the slots of whichever frontend the
/// request came through: the ids they name are marked in every frontend.
pub fn mark_rule_slots(proxies: &mut [crate::model::Proxy]) {
    use crate::model::HttpAction;
    fn ids(p: &crate::model::Proxy) -> impl Iterator<Item = (bool, usize)> + '_ {
        [&p.http_request, &p.http_response, &p.http_after_response]
            .into_iter()
            .flatten()
            .filter_map(|r| match &r.action {
                HttpAction::Capture {
                    len: usize::MAX,
                    slot,
                    response,
                    ..
                } => Some((*response, *slot)),
                _ => None,
            })
    }
    let from_backends: Vec<(bool, usize)> = proxies
        .iter()
        .filter(|p| !p.kind.is_frontend())
        .flat_map(ids)
        .collect();
    for p in proxies.iter_mut().filter(|p| p.kind.is_frontend()) {
        let named: Vec<(bool, usize)> = ids(p).chain(from_backends.iter().copied()).collect();
        for (response, id) in named {
            if let Some(c) = p
                .captures
                .iter_mut()
                .filter(|c| c.response == response)
                .nth(id)
            {
                c.sample = true;
            }
        }
    }
}
