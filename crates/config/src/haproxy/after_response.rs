//! `http-after-response` rules (HAProxy 2.2+): run on every answer sent to the client, the
//! server's (after the `http-response` rules) and the proxy's own (errors, `return`,
//! redirects, `auth`), the backend's rules then the frontend's. HAProxy 2.6 allows only the
//! actions below there; any other is refused with HAProxy's list.

use super::line::Line;
use crate::model::{HttpAction, HttpRule};

/// The actions HAProxy 2.6 accepts in `http-after-response`.
const ALLOWED: &str = "'add-header', 'allow', 'capture', 'del-header', 'replace-header', 'replace-value', 'set-header', 'set-status', 'strict-mode', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)'";

/// One `http-after-response` line.
pub fn rule(line: &Line<'_>) -> Result<HttpRule, String> {
    let word = line.need(1, "an action such as set-header")?;
    let refused = || format!("'http-after-response' expects {ALLOWED}, but got '{word}'");
    let base = word.split('(').next().unwrap_or(word);
    if !matches!(
        base,
        "add-header"
            | "allow"
            | "capture"
            | "del-header"
            | "replace-header"
            | "replace-value"
            | "set-header"
            | "set-status"
            | "strict-mode"
            | "set-var-fmt"
            | "set-var"
            | "unset-var"
    ) {
        return Err(refused());
    }
    let r = super::rules::http_rule(line, false)?;
    match &r.action {
        HttpAction::Allow
        | HttpAction::SetHeader { .. }
        | HttpAction::AddHeader { .. }
        | HttpAction::DelHeader { .. }
        | HttpAction::DelHeaderMatch { .. }
        | HttpAction::ReplaceHeader { .. }
        | HttpAction::SetStatus { .. }
        | HttpAction::StrictMode(_)
        | HttpAction::Var(_)
        | HttpAction::Capture { .. } => Ok(r),
        _ => Err(refused()),
    }
}
