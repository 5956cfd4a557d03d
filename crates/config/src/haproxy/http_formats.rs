//! HAProxy 2.6's warning "HTTP log/header format not usable with frontend 'F' (needs 'mode
//! http')." on a proxy not in `mode http` (one whose streams `switch-mode http` may make HTTP,
//! or whose HTTP rules never run), given so that `zero-warning` gives the same verdict. It
//! follows haproxy's parser (measured with `haproxy -c`): as a proxy's lines are read, a
//! condition, `track-sc`/`capture` expression or rule-value fetch reading HTTP marks the
//! proxy as needing HTTP; a rule value's `%[...]` read once it is so marked (its own fetch
//! included), or a `%ST`, makes its logging want HTTP; at the section's end, a proxy not in
//! `mode http` whose logging wants HTTP is warned, at the line of the last log-format string
//! haproxy read while parsing (a rule value, `log-format`, `option httplog|httpslog|tcplog`).
//! `log-format` and `unique-id-format` strings themselves count only for that line (haproxy
//! reads them after its check), as do `use_backend` names. The rules still run as before.

use super::line::Line;
use crate::diagnostics::{Diagnostics, Span};
use crate::model::{Mode, Proxy, ProxyKind};
use fulcrum_sample::fetch::{FetchKw, Needs};
use fulcrum_sample::format_uses::Read;

/// What a proxy's lines read so far.
#[derive(Debug, Clone, Default)]
pub struct HttpFormats {
    /// A condition, expression or value read HTTP (haproxy's `http_needed`).
    needed: bool,
    /// A value read a sample once HTTP was needed, or `%ST` (its `to_log` HTTP bits).
    wants: bool,
    /// The last line that gave a log-format string (haproxy's `lfs_line`).
    at: Option<Span>,
}

/// Response fetches that read an HTTP message (haproxy's `SMP_USE_HRS*`).
const RESPONSE_HTTP: &[&str] = &[
    "status",
    "res.hdr",
    "shdr",
    "res.fhdr",
    "res.hdr_cnt",
    "res.fhdr_cnt",
    "res.cook",
    "scook",
    "res.cook_cnt",
    "scook_cnt",
    "res.cook_val",
    "scook_val",
    "res.ver",
    "capture.res.hdr",
];

/// Whether fetch `kw` reads an HTTP message (haproxy's `SMP_USE_HTTP_ANY`).
fn reads_http(kw: &FetchKw) -> bool {
    matches!(
        fulcrum_sample::check_scope::unavailable(kw),
        Some("HTTP request" | "HTTP request headers")
    ) || kw.name == "hdr"
        || (kw.needs == Needs::Response && RESPONSE_HTTP.contains(&kw.name))
}

/// The fetch an ACL criterion or expression word starts with (`hdr_sub(host)` → `hdr`).
fn fetch_of(word: &str) -> Option<&'static FetchKw> {
    let head = &word[..word.find(['(', ',']).unwrap_or(word.len())];
    fulcrum_sample::fetch::lookup(head).or_else(|| {
        fulcrum_sample::acl::keyword(head).and_then(|(f, _)| fulcrum_sample::fetch::lookup(f))
    })
}

/// Whether the condition of `line` (after `if`/`unless`) reads HTTP: an anonymous ACL's
/// fetch, a named ACL of `p` or a predefined one.
fn condition_reads_http(p: &Proxy, line: &Line<'_>) -> bool {
    let words = line.words;
    let Some(start) = words
        .iter()
        .skip(1)
        .position(|w| w == "if" || w == "unless")
    else {
        return false;
    };
    let mut terms = words[start + 2..].iter().map(String::as_str);
    let mut http = false;
    while let Some(w) = terms.next() {
        let w = w.trim_start_matches('!');
        let fetch = if w == "{" {
            terms.next().and_then(fetch_of)
        } else if let Some(a) = p.acls.iter().find(|a| a.name == w) {
            fetch_of(&a.fetch.name)
        } else if let Some(def) = fulcrum_sample::acl::predefined(w) {
            def.first().and_then(|c| fetch_of(c))
        } else {
            None
        };
        http |= fetch.is_some_and(reads_http);
    }
    http
}

/// After `line` of proxy `p` was read, with the log-format strings it compiled.
pub fn note(s: &mut HttpFormats, p: &Proxy, line: &Line<'_>, formats: &[Vec<Read>]) {
    let kw = line.keyword();
    let late = matches!(
        kw,
        "log-format" | "log-format-sd" | "unique-id-format" | "error-log-format" | "use_backend"
    );
    let option_log =
        kw == "option" && matches!(line.arg(1), Some("httplog" | "httpslog" | "tcplog"));
    if kw == "log-format" || option_log {
        s.at = Some(line.span.clone());
    }
    if !late && !formats.is_empty() {
        s.at = Some(line.span.clone());
        for read in formats.iter().flatten() {
            match read {
                Read::Fetch(f) => {
                    s.needed |= reads_http(f);
                    s.wants |= s.needed;
                }
                Read::Var(v) => s.wants |= *v == "ST",
            }
        }
    }
    if matches!(kw, "tcp-request" | "http-request") {
        // `track-scN EXPR`, `capture EXPR len N`
        let expr = line
            .words
            .iter()
            .position(|w| w.starts_with("track-sc") || w == "capture")
            .and_then(|i| line.words.get(i + 1));
        s.needed |= expr.and_then(|e| fetch_of(e)).is_some_and(reads_http);
    }
    if !matches!(kw, "acl") {
        s.needed |= condition_reads_http(p, line);
    }
}

/// When proxy `p`'s section ends.
pub fn close(p: &Proxy, s: &HttpFormats, diags: &mut Diagnostics) {
    let (true, Some(at)) = (p.mode != Mode::Http && s.wants, &s.at) else {
        return;
    };
    let kind = match p.kind {
        ProxyKind::Listen => "proxy",
        ProxyKind::Frontend => "frontend",
        ProxyKind::Backend => "backend",
    };
    diags.warning(
        at,
        format!(
            "HTTP log/header format not usable with {kind} '{}' (needs 'mode http').",
            p.name
        ),
    );
}
