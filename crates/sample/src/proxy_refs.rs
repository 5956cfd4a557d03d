//! What the configuration resolves once every proxy is known, as HAProxy does when it starts:
//! a fetch that names a backend or a server (`nbsrv(B)`, `connslots(B)`, `srv_is_up(B/S)`), or
//! means the proxy it is used in without an argument; a fetch or converter argument naming a
//! stick table ([`crate::table_refs`]). The compiler notes them while the parser collects
//! ([`with_proxy_refs`]).

use crate::conv::ConvKw;
use crate::fetch::{Arg, FetchKw};

thread_local! {
    static PROXY_REFS: std::cell::RefCell<Option<Vec<ProxyRef>>> = const { std::cell::RefCell::new(None) };
}

/// One reference: the fetch, its argument (the backend, server or table named; `None`: the
/// proxy it is used in), and for a table where the argument is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRef {
    pub fetch: &'static str,
    pub arg: Option<String>,
    pub table: Option<TableUse>,
}

/// Where a [`ProxyRef`]'s table argument is: its place (from 1), and the converter it is an
/// argument of (`None`: of the fetch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableUse {
    pub pos: usize,
    pub conv: Option<&'static str>,
}

fn note(r: ProxyRef) {
    PROXY_REFS.with(|refs| {
        if let Some(v) = refs.borrow_mut().as_mut() {
            v.push(r);
        }
    });
}

/// Runs `f`, returning the [`ProxyRef`]s of every expression compiled meanwhile on this thread.
pub fn with_proxy_refs<T>(f: impl FnOnce() -> T) -> (T, Vec<ProxyRef>) {
    let outer = PROXY_REFS.with(|r| r.replace(Some(Vec::new())));
    let out = f();
    let refs = PROXY_REFS.with(|r| r.replace(outer)).unwrap_or_default();
    (out, refs)
}

/// Notes the references of fetch `kw` with `args`; a left-out table argument is filled with
/// the proxy being built ([`crate::table_refs::own_table`]).
pub(crate) fn note_fetch(kw: &'static FetchKw, args: &mut Vec<Arg>) {
    if matches!(
        kw.name,
        "nbsrv"
            | "connslots"
            | "srv_is_up"
            | "be_conn"
            | "queue"
            | "avg_queue"
            | "srv_conn"
            | "srv_queue"
    ) {
        let arg = args
            .first()
            .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned())
            .filter(|a| !a.is_empty());
        note(ProxyRef {
            fetch: kw.name,
            arg,
            table: None,
        });
    }
    if let Some(t) = crate::table_refs::of_fetch(kw, args) {
        if t.name.is_none() {
            crate::table_refs::fill_own(args, t.pos);
        }
        let table = Some(TableUse {
            pos: t.pos,
            conv: None,
        });
        note(ProxyRef {
            fetch: kw.name,
            arg: t.name,
            table,
        });
    }
}

/// Notes the table argument of converter `kw` (after fetch `fetch`), if it has one.
pub(crate) fn note_conv(fetch: &'static str, kw: &ConvKw, args: &[Arg]) {
    if let Some(t) = crate::table_refs::of_conv(kw, args) {
        let table = Some(TableUse {
            pos: t.pos,
            conv: Some(kw.name),
        });
        note(ProxyRef {
            fetch,
            arg: t.name,
            table,
        });
    }
}
