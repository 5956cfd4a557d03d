//! The stats page's admin form (`stats admin if|unless COND`): a POST of
//! `s=SERVER[&s=SERVER...]&action=ACTION&b=BACKEND` as HAProxy's page sends it, applied to the
//! servers of the page's configuration, and answered with HAProxy's outcome codes
//! (`;st=DONE|PART|NONE|ERRP|EXCD|DENY`), which the page then shows.
//! `b` is a backend name or HAProxy's `#ID`. Parsing is pure; applying goes through the
//! backend's admin API.

use fulcrum_proxy::backend::Backend;
use fulcrum_proxy::server::AdminState;
use std::sync::Arc;

/// HAProxy's outcome of a stats admin POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every server was changed.
    Done,
    /// Some were.
    Partial,
    /// Nothing had to change.
    None,
    /// Missing or invalid parameters.
    ErrorParam,
    /// The body was too large.
    Excess,
    /// `stats admin` does not allow it for this client.
    Denied,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Done => "DONE",
            Outcome::Partial => "PART",
            Outcome::None => "NONE",
            Outcome::ErrorParam => "ERRP",
            Outcome::Excess => "EXCD",
            Outcome::Denied => "DENY",
        }
    }
    /// The message the page shows for `;st=CODE`.
    pub fn message(code: &str) -> Option<(&'static str, bool)> {
        Some(match code {
            "DONE" => ("Action processed successfully.", true),
            "PART" => (
                "Action partially processed: some servers could not be changed.",
                false,
            ),
            "NONE" => ("Nothing has changed.", true),
            "ERRP" => ("Action not processed because of invalid parameters.", false),
            "EXCD" => ("Action not processed: the request was too large.", false),
            "DENY" => ("Action denied.", false),
            _ => return None,
        })
    }
}

/// A parsed form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Form {
    pub backend: Option<String>,
    pub action: Option<String>,
    pub servers: Vec<String>,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` decoding of one name or value.
pub fn url_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => match (hex(s[i + 1]), hex(s[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the POST body.
pub fn parse(body: &[u8]) -> Form {
    let mut f = Form::default();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let v = url_decode(v);
        match url_decode(k).as_str() {
            "b" => f.backend = Some(v),
            "action" => f.action = Some(v),
            "s" => f.servers.push(v),
            _ => {}
        }
    }
    f
}

/// The state an action asks for (HAProxy 2.6's action names, plus the older enable/disable).
pub fn action_state(action: &str) -> Option<AdminState> {
    match action {
        "ready" | "enable" => Some(AdminState::Ready),
        "drain" => Some(AdminState::Drain),
        "maint" | "disable" => Some(AdminState::Maint),
        _ => None,
    }
}

/// Applies `form` to `backends` (the page's scope already applied by the caller).
pub fn apply(form: &Form, backends: &[Arc<Backend>]) -> Outcome {
    let (Some(b), Some(action)) = (form.backend.as_deref(), form.action.as_deref()) else {
        return Outcome::ErrorParam;
    };
    let Some(state) = action_state(action) else {
        return Outcome::ErrorParam;
    };
    let be = match b.strip_prefix('#') {
        Some(id) => backends
            .iter()
            .find(|be| id.parse::<u32>().is_ok_and(|id| id == be.id)),
        None => backends.iter().find(|be| be.name == b),
    };
    let Some(be) = be else {
        return Outcome::ErrorParam;
    };
    if form.servers.is_empty() {
        return Outcome::None;
    }
    let (mut changed, mut missing) = (0, 0);
    for name in &form.servers {
        match be.server_index(name) {
            Some(i) => {
                if be.set_server_admin(i, state) {
                    tracing::warn!(
                        "Server {}/{} set to {} from the stats page",
                        be.name,
                        name,
                        state.as_str().to_ascii_uppercase()
                    );
                    changed += 1;
                }
            }
            None => missing += 1,
        }
    }
    match (changed, missing) {
        (0, 0) => Outcome::None,
        (_, 0) => Outcome::Done,
        (0, _) => Outcome::ErrorParam,
        _ => Outcome::Partial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_haproxys_form() {
        let f = parse(b"s=web%201&s=web2&action=drain&b=%233");
        assert_eq!(
            f,
            Form {
                backend: Some("#3".into()),
                action: Some("drain".into()),
                servers: vec!["web 1".into(), "web2".into()]
            }
        );
        assert_eq!(url_decode(b"a+b%2"), "a b%2");
        assert_eq!(url_decode(b"%zz"), "%zz");
        assert_eq!(action_state("maint"), Some(AdminState::Maint));
        assert_eq!(action_state("shutdown"), None);
        assert_eq!(apply(&Form::default(), &[]), Outcome::ErrorParam);
    }
}
