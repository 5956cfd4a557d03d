//! What the log-format strings compiled meanwhile read, in order: each string's `%[...]`
//! fetches and `%` variables. The config parser collects them per line
//! ([`with_format_uses`]) for HAProxy 2.6's "HTTP log/header format not usable with ...
//! (needs 'mode http')" warning, which follows what a proxy's formats read as it parses them.

use crate::fetch::FetchKw;

/// One item a log-format string reads.
#[derive(Debug, Clone, Copy)]
pub enum Read {
    Fetch(&'static FetchKw),
    Var(&'static str),
}

thread_local! {
    static USES: std::cell::RefCell<Option<Vec<Vec<Read>>>> = const { std::cell::RefCell::new(None) };
}

/// Notes a compiled log-format string (by `compile_format_with`), when something collects.
pub(crate) fn note(format: &crate::logformat::Format) {
    use crate::logformat::Node;
    USES.with(|u| {
        if let Some(v) = u.borrow_mut().as_mut() {
            let reads = format.nodes.iter().filter_map(|n| match n {
                Node::Expr(e, _) => Some(Read::Fetch(e.fetch.kw)),
                Node::Var(name, _) => Some(Read::Var(name)),
                Node::Lit(_) => None,
            });
            v.push(reads.collect());
        }
    });
}

/// Runs `f`, returning what every log-format string compiled meanwhile on this thread reads
/// (one list per string, literal-only strings included).
pub fn with_format_uses<T>(f: impl FnOnce() -> T) -> (T, Vec<Vec<Read>>) {
    let outer = USES.with(|u| u.replace(Some(Vec::new())));
    let out = f();
    let uses = USES.with(|u| u.replace(outer)).unwrap_or_default();
    (out, uses)
}
