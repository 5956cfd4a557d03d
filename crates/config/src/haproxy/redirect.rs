//! The `redirect` proxy keyword (`redirect location|prefix|scheme ... [if|unless COND]`):
//! HAProxy runs a proxy's `redirect` rules right after its `http-request` rules, in the order
//! written. fulcrum parses each as the `http-request redirect` rule it is and appends them to
//! the proxy's `http-request` list when its section ends, which is the same order, except
//! after an `http-request allow` (it ends the `http-request` rules, not the redirects): that
//! combination is refused at the line that makes it.

use super::line::Line;
use crate::model::{HttpAction, HttpRule, Proxy};

const WITH_ALLOW: &str = "a 'redirect' rule together with 'http-request allow' in one proxy is not run by fulcrum yet (HAProxy still runs the redirect after 'allow' ends the http-request rules); write the redirect as an 'http-request redirect' rule where it must run";

/// A `redirect` line of proxy `p`, as the `http-request redirect` rule it is.
pub(super) fn parse(p: &Proxy, line: &Line<'_>) -> Result<HttpRule, String> {
    if p.http_request
        .iter()
        .any(|r| matches!(r.action, HttpAction::Allow))
    {
        return Err(WITH_ALLOW.into());
    }
    let words: Vec<String> = std::iter::once("http-request".to_string())
        .chain(line.words.iter().cloned())
        .collect();
    let as_rule = Line {
        words: &words,
        span: line.span.clone(),
        undefined: &[],
        env: line.env,
        paths: line.paths,
    };
    let rule = super::rules::http_rule(&as_rule, true)?;
    if let HttpAction::Redirect {
        log_format: true,
        target,
        ..
    } = &rule.action
    {
        return Err(format!(
            "the 'redirect' keyword's target '{target}' has a '%': HAProxy sends this keyword's target as written (only 'http-request redirect' reads a log-format there); fulcrum refuses it rather than send '%' text to clients: write it as an 'http-request redirect' rule"
        ));
    }
    Ok(rule)
}

/// An `http-request allow` line in a proxy that already has `redirect` rules.
pub(super) fn check_allow(line: &Line<'_>, redirects: &[HttpRule]) -> Result<(), String> {
    if !redirects.is_empty() && line.keyword() == "http-request" && line.arg(1) == Some("allow") {
        return Err(WITH_ALLOW.into());
    }
    Ok(())
}
