//! Which argument of a fetch or converter names a stick table: `table_cnt([T])`,
//! `table_avl([T])`, `src_<what>([T])`, `src_get_gpc(IDX,T)`, `sc_<what>(N[,T])`,
//! `sc<N>_<what>([T])`, and the converters `table_<what>(T)`, `table_gpt(IDX,T)`,
//! `in_table(T)`. The configuration checks each named table exists (and, where the argument
//! may be left out and then means the proxy's own table, that the proxy has one), as
//! HAProxy resolves them when it starts.

use crate::conv::ConvKw;
use crate::fetch::{self, Arg, FetchKw};

/// A table argument: its place (from 1, as HAProxy counts in its messages) and its text
/// (`None`: left out, the proxy's own table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableArg {
    pub pos: usize,
    pub name: Option<String>,
}

thread_local! {
    static OWN: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// While it lives, expressions compiled on this thread are proxy `name`'s: a fetch whose
/// table argument is left out (`table_cnt`, `src_conn_rate`) gets `name`, the table HAProxy
/// means by it (the proxy the expression is written in), so a backend's rules read the
/// backend's table wherever they run. The data plane builds each proxy under one.
pub struct OwnTable(Option<String>);

pub fn own_table(name: &str) -> OwnTable {
    OwnTable(OWN.with(|o| o.replace(Some(name.to_string()))))
}

impl Drop for OwnTable {
    fn drop(&mut self) {
        let was = self.0.take();
        OWN.with(|o| *o.borrow_mut() = was);
    }
}

/// Puts the current proxy's name ([`own_table`]) as table argument `pos` (from 1) when
/// there is one.
pub(crate) fn fill_own(args: &mut Vec<Arg>, pos: usize) {
    let Some(name) = OWN.with(|o| o.borrow().clone()) else {
        return;
    };
    while args.len() + 1 < pos {
        args.push(Arg::Str(Vec::new()));
    }
    args.truncate(pos - 1);
    args.push(Arg::Str(name.into_bytes()));
}

fn text(args: &[Arg], i: usize) -> Option<String> {
    args.get(i)
        .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned())
        .filter(|a| !a.is_empty())
}

/// The table argument of fetch `kw`, if it has one; `None` also for `sc*` fetches without
/// one (they read the table the counter tracks).
pub fn of_fetch(kw: &FetchKw, args: &[Arg]) -> Option<TableArg> {
    let i = kw.args.len().checked_sub(1)?;
    if kw.args.get(i) != Some(&fetch::ArgKind::Str) {
        return None;
    }
    let own_allowed = matches!(kw.name, "table_cnt" | "table_avl")
        || (kw.name.starts_with("src_") && fetch::is_counter(kw.name));
    let tracked = fetch::is_counter(kw.name) && kw.name.starts_with("sc");
    if !(own_allowed || tracked) {
        return None;
    }
    let name = text(args, i);
    if name.is_none() && !own_allowed {
        return None;
    }
    Some(TableArg { pos: i + 1, name })
}

/// The table argument of converter `kw`, if it is a table converter.
pub fn of_conv(kw: &ConvKw, args: &[Arg]) -> Option<TableArg> {
    if !(kw.name.starts_with("table_") || kw.name == "in_table") {
        return None;
    }
    let i = kw.args.iter().position(|a| *a == fetch::ArgKind::Str)?;
    Some(TableArg {
        pos: i + 1,
        name: text(args, i),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::compile;

    fn fetch_ref(text: &str) -> Option<TableArg> {
        let e = compile(text).expect(text);
        of_fetch(e.fetch.kw, &e.fetch.args)
    }

    fn conv_ref(text: &str) -> Option<TableArg> {
        let e = compile(text).expect(text);
        of_conv(e.convs[0].kw, &e.convs[0].args)
    }

    #[test]
    fn table_arguments_where_haproxy_resolves_them() {
        let at = |pos, name: Option<&str>| {
            Some(TableArg {
                pos,
                name: name.map(str::to_string),
            })
        };
        assert_eq!(fetch_ref("table_cnt"), at(1, None));
        assert_eq!(fetch_ref("table_avl(t)"), at(1, Some("t")));
        assert_eq!(fetch_ref("src_conn_rate"), at(1, None));
        assert_eq!(fetch_ref("src_get_gpc(0,t)"), at(2, Some("t")));
        assert_eq!(fetch_ref("sc_conn_rate(0,t)"), at(2, Some("t")));
        assert_eq!(fetch_ref("sc0_conn_rate(t)"), at(1, Some("t")));
        // The tracked entry's table: nothing to resolve.
        assert_eq!(fetch_ref("sc0_conn_rate"), None);
        assert_eq!(fetch_ref("sc_conn_rate(1)"), None);
        assert_eq!(fetch_ref("req.hdr(host)"), None);
        assert_eq!(fetch_ref("nbsrv(b)"), None);
        assert_eq!(conv_ref("src,table_conn_rate(t)"), at(1, Some("t")));
        assert_eq!(conv_ref("src,table_gpt(0,t)"), at(2, Some("t")));
        assert_eq!(conv_ref("src,in_table(t)"), at(1, Some("t")));
        assert_eq!(conv_ref("src,lower"), None);
    }

    #[test]
    fn a_proxys_own_table_is_filled_in() {
        let args = |text: &str| compile(text).expect(text).fetch.args;
        {
            let _own = own_table("b");
            assert_eq!(args("table_cnt"), [Arg::Str(b"b".to_vec())]);
            assert_eq!(args("src_conn_rate"), [Arg::Str(b"b".to_vec())]);
            assert_eq!(args("table_avl(t)"), [Arg::Str(b"t".to_vec())]);
            assert_eq!(args("sc0_conn_rate"), []);
        }
        assert_eq!(args("table_cnt"), []);
    }
}
