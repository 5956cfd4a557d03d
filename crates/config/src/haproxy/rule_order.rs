//! HAProxy 2.6's warnings on the order of a proxy's rules, given at the same lines with its
//! words (measured with `haproxy -c`), so that `zero-warning` gives the same verdict:
//! - a rule written after one HAProxy runs later ("a 'tcp-request' rule placed after an
//!   'http-request' rule will still be processed before."): the phases run `tcp-request
//!   connection`, `session`, `content`, `monitor fail`, `http-request`, `redirect`,
//!   `use_backend`, `use-server`, whatever the order written;
//! - a rule after a final action without a condition in the same list ("previous
//!   'http-request' action is final and has no condition attached, further entries are
//!   NOOP."): HAProxy's final actions are `allow deny tarpit auth redirect return` (not
//!   `reject`, `silent-drop` nor `use-service`).
//!
//! Only the section's own lines count (rules a named defaults section gives are not seen);
//! a `defaults` section's own rules are checked as a proxy's are.

use super::line::Line;
use crate::diagnostics::Diagnostics;
use crate::model::{HttpAction, HttpRule, Proxy};

/// The rule kinds in the order HAProxy runs them; the name each is warned with.
const PHASES: [&str; 7] = [
    "tcp-request session",
    "tcp-request content",
    "monitor fail",
    "http-request",
    "redirect",
    "use_backend",
    "use-server",
];

/// What a section's lines have written so far.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// By [`PHASES`]: a rule of that kind was written.
    phases: [bool; PHASES.len()],
    /// `http-request`, `http-response`, `http-after-response`: the last rule written is final
    /// and has no condition.
    final_last: [bool; 3],
}

const LISTS: [&str; 3] = ["http-request", "http-response", "http-after-response"];

/// The phase a line writes (its index in [`PHASES`], `tcp-request connection` before all:
/// `Some(None)`), if it writes a rule HAProxy orders.
fn phase(line: &Line<'_>) -> Option<Option<usize>> {
    let at = |name: &str| PHASES.iter().position(|p| *p == name);
    match (line.keyword(), line.arg(1)) {
        ("tcp-request", Some("connection")) => Some(None),
        ("tcp-request", Some("session")) => Some(at("tcp-request session")),
        ("tcp-request", Some("content")) => Some(at("tcp-request content")),
        ("monitor", Some("fail")) => Some(at("monitor fail")),
        ("http-request", _) => Some(at("http-request")),
        ("redirect", _) => Some(at("redirect")),
        ("use_backend", _) => Some(at("use_backend")),
        ("use-server", _) => Some(at("use-server")),
        _ => None,
    }
}

/// Before `line` is parsed: HAProxy's warnings for where it stands.
pub fn before(seen: &mut Seen, line: &Line<'_>, diags: &mut Diagnostics) {
    let kw = line.keyword();
    if let Some(i) = LISTS.iter().position(|l| *l == kw) {
        if seen.final_last[i] {
            diags.warning(
                &line.span,
                format!("previous '{kw}' action is final and has no condition attached, further entries are NOOP."),
            );
        }
    }
    let Some(me) = phase(line) else { return };
    let later = me.map_or(0, |i| i + 1);
    if let Some(j) = (later..PHASES.len()).find(|&j| seen.phases[j]) {
        // haproxy's words: "an 'http-request'", "a" before the others
        let article = if PHASES[j] == "http-request" {
            "an"
        } else {
            "a"
        };
        let name = if kw == "monitor" { "monitor fail" } else { kw };
        diags.warning(
            &line.span,
            format!(
                "a '{name}' rule placed after {article} '{}' rule will still be processed before.",
                PHASES[j]
            ),
        );
    }
    if let Some(i) = me {
        seen.phases[i] = true;
    }
}

/// After `line` was parsed into `p`: whether the list it added to now ends in a final rule
/// without a condition.
pub fn after(seen: &mut Seen, p: &Proxy, line: &Line<'_>) {
    let kw = line.keyword();
    let Some(i) = LISTS.iter().position(|l| *l == kw) else {
        return;
    };
    let list = match i {
        0 => &p.http_request,
        1 => &p.http_response,
        _ => &p.http_after_response,
    };
    seen.final_last[i] = list.last().is_some_and(is_final_unconditional);
}

fn is_final_unconditional(r: &HttpRule) -> bool {
    r.condition.is_none()
        && matches!(
            r.action,
            HttpAction::Allow
                | HttpAction::Deny { .. }
                | HttpAction::DenyReply(_)
                | HttpAction::Tarpit { .. }
                | HttpAction::Auth { .. }
                | HttpAction::Redirect { .. }
                | HttpAction::Return { .. }
        )
}
