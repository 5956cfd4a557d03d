//! Fetches that name a backend or a server — `nbsrv([B])`, `connslots([B])`,
//! `srv_is_up([B/]S)` — checked once every proxy is read, as HAProxy 2.6 resolves them when it
//! starts: a named backend must exist (a frontend is not one), a server must be in it, and
//! without a backend argument the proxy the rule is in must be a backend. Fetch and converter
//! arguments naming a stick table (`table_cnt([T])`, `src_conn_rate([T])`,
//! `table_http_req_rate(T)`...) likewise: a proxy with a `stick-table` of that name or a
//! `peers` section's table, or without the argument the rule's own proxy's table.

use crate::diagnostics::{Diagnostics, Span};
use crate::model::{Proxy, ProxyKind};
use fulcrum_sample::expr::ProxyRef;

/// One use: the fetch and its argument, in which proxy, on which line.
#[derive(Debug)]
pub struct Use {
    pub r: ProxyRef,
    pub proxy: String,
    pub kind: ProxyKind,
    pub span: Span,
}

pub fn check(uses: &[Use], proxies: &[Proxy], peers_tables: &[String], diags: &mut Diagnostics) {
    for u in uses {
        let checked = match &u.r.table {
            Some(t) => table(u, t, proxies, peers_tables),
            None => one(u, proxies),
        };
        if let Err(e) = checked {
            diags.error(&u.span, e);
        }
    }
}

/// A table argument: HAProxy 2.6's words when the table is not found.
fn table(
    u: &Use,
    t: &fulcrum_sample::expr::TableUse,
    proxies: &[Proxy],
    peers_tables: &[String],
) -> Result<(), String> {
    let name = u.r.arg.as_deref().unwrap_or(&u.proxy);
    let found = match u.r.arg.as_deref() {
        Some(n) => {
            proxies
                .iter()
                .any(|p| p.name == n && p.stick_table.is_some())
                || peers_tables.iter().any(|t| t == n)
        }
        None => proxies
            .iter()
            .any(|p| p.name == u.proxy && p.kind == u.kind && p.stick_table.is_some()),
    };
    if found {
        return Ok(());
    }
    let of = match t.conv {
        Some(c) => format!(
            "conversion keyword '{c}' for sample fetch keyword '{}'",
            u.r.fetch
        ),
        None => format!("sample fetch keyword '{}'", u.r.fetch),
    };
    Err(format!(
        "unable to find table '{name}' referenced in arg {} of {of}",
        t.pos
    ))
}

fn one(u: &Use, proxies: &[Proxy]) -> Result<(), String> {
    let kw = u.r.fetch;
    let backend = |name: &str| {
        proxies
            .iter()
            .find(|p| p.name == name && p.kind.is_backend())
            .ok_or_else(|| {
                format!("unable to find backend '{name}' referenced in arg 1 of sample fetch keyword '{kw}'")
            })
    };
    let own = || -> Result<&Proxy, String> {
        if !u.kind.is_backend() {
            return Err(format!(
                "proxy '{}', referenced in arg 1 of sample fetch keyword '{kw}', has not backend capability",
                u.proxy
            ));
        }
        backend(&u.proxy)
    };
    match (kw, u.r.arg.as_deref()) {
        ("srv_is_up" | "srv_conn" | "srv_queue", Some(arg)) => {
            let (p, srv) = match arg.split_once('/') {
                Some((b, s)) => (backend(b)?, s),
                None if !u.kind.is_backend() => {
                    return Err(format!(
                        "unable to find server '{arg}' in proxy '{}', referenced in arg 1 of sample fetch keyword '{kw}'",
                        u.proxy
                    ))
                }
                None => (own()?, arg),
            };
            if !p.servers.iter().any(|s| s.name == srv) {
                return Err(format!(
                    "unable to find server '{srv}' in proxy '{}', referenced in arg 1 of sample fetch keyword '{kw}'",
                    p.name
                ));
            }
        }
        (_, Some(b)) => {
            backend(b)?;
        }
        (_, None) => {
            own()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{load_sources, Source};

    const HEAD: &str =
        "defaults\n mode http\n timeout client 1s\n timeout server 1s\n timeout connect 1s\n";

    /// Every error message of `body` (after [`HEAD`]).
    fn errors(body: &str) -> Vec<String> {
        let text = format!("{HEAD}{body}");
        let l = load_sources(&[Source {
            name: "t.cfg",
            text: &text,
        }]);
        l.diagnostics.errors().map(|d| d.to_string()).collect()
    }

    const BACKENDS: &str =
        "backend b\n server s 127.0.0.1:1\nlisten l\n bind 127.0.0.1:2\n server t 127.0.0.1:1\n";

    #[test]
    fn named_backends_and_servers_resolve_as_haproxy() {
        let fe = |v: &str| {
            format!("frontend f\n bind 127.0.0.1:3\n http-request set-header X {v}\n default_backend b\n{BACKENDS}")
        };
        for ok in [
            "%[nbsrv(b)]",
            "%[connslots(l)]",
            "%[srv_is_up(b/s)]",
            "%[srv_is_up(l/t)]",
            "%[str()]x",
        ] {
            assert_eq!(errors(&fe(ok)), Vec::<String>::new(), "{ok}");
        }
        // Refused by haproxy 2.6 -c with the same words.
        for (bad, says) in [
            ("%[nbsrv]", "proxy 'f', referenced in arg 1 of sample fetch keyword 'nbsrv', has not backend capability"),
            ("%[connslots]", "has not backend capability"),
            ("%[nbsrv(f)]", "unable to find backend 'f'"),
            ("%[nbsrv(nope)]", "unable to find backend 'nope'"),
            ("%[srv_is_up(s)]", "unable to find server 's' in proxy 'f'"),
            ("%[srv_is_up(b/x)]", "unable to find server 'x' in proxy 'b'"),
            ("%[be_name]", "needs 'backend' which is not available here"),
            ("%[be_id]", "needs 'backend' which is not available here"),
            ("%[fc_rtt(s)]", "expects 'us' or 'ms', got 's'"),
        ] {
            let e = errors(&fe(bad));
            assert!(e.len() == 1 && e[0].contains(says) && e[0].contains("t.cfg:8"), "{bad}: {e:?}");
        }
        // Where the proxy is a backend: its own servers, its own name.
        let be = |v: &str| {
            format!("backend b2\n http-request set-header X {v}\n server s 127.0.0.1:1\n{BACKENDS}")
        };
        for ok in ["%[nbsrv]", "%[connslots]", "%[srv_is_up(s)]", "%[be_name]"] {
            assert_eq!(errors(&be(ok)), Vec::<String>::new(), "{ok}");
        }
        let e = errors(&be("%[srv_is_up(x)]"));
        assert!(
            e.len() == 1 && e[0].contains("unable to find server 'x' in proxy 'b2'"),
            "{e:?}"
        );
    }

    #[test]
    fn tables_resolve_as_haproxy() {
        let cfg = |fe_rule: &str| {
            format!("frontend f\n bind 127.0.0.1:3\n {fe_rule}\n default_backend b\nbackend b\n stick-table type ip size 10 store conn_rate(10s),gpc(2)\n server s 127.0.0.1:1\npeers p\n peer a 127.0.0.1:5\n table t type ip size 5\n")
        };
        for ok in [
            "http-request set-header X %[table_cnt(b)]/%[table_avl(p/t)]",
            "http-request set-header X %[src_conn_rate(b)]%[sc0_conn_rate]%[sc_conn_rate(0)]",
            "http-request set-header X %[src,table_conn_rate(b)]%[src,table_gpt(0,b)]",
            "http-request deny if { table_cnt(b) gt 0 }",
        ] {
            assert_eq!(errors(&cfg(ok)), Vec::<String>::new(), "{ok}");
        }
        // Refused by haproxy 2.6 -c with the same words.
        for (bad, says) in [
            ("http-request set-header X %[table_cnt]", "unable to find table 'f' referenced in arg 1 of sample fetch keyword 'table_cnt'"),
            ("http-request set-header X %[table_avl(nope)]", "unable to find table 'nope' referenced in arg 1 of sample fetch keyword 'table_avl'"),
            ("http-request set-header X %[src_conn_rate]", "unable to find table 'f' referenced in arg 1 of sample fetch keyword 'src_conn_rate'"),
            ("http-request set-header X %[sc0_conn_rate(nope)]", "unable to find table 'nope' referenced in arg 1 of sample fetch keyword 'sc0_conn_rate'"),
            ("http-request set-header X %[sc_conn_rate(0,nope)]", "unable to find table 'nope' referenced in arg 2 of sample fetch keyword 'sc_conn_rate'"),
            ("http-request set-header X %[src_get_gpc(0,nope)]", "unable to find table 'nope' referenced in arg 2 of sample fetch keyword 'src_get_gpc'"),
            ("http-request set-header X %[src,table_conn_rate(nope)]", "unable to find table 'nope' referenced in arg 1 of conversion keyword 'table_conn_rate' for sample fetch keyword 'src'"),
            ("http-request set-header X %[src,table_gpt(0,nope)]", "unable to find table 'nope' referenced in arg 2 of conversion keyword 'table_gpt' for sample fetch keyword 'src'"),
            ("http-request deny if { table_cnt(nope) gt 0 }", "unable to find table 'nope'"),
        ] {
            let e = errors(&cfg(bad));
            assert!(e.len() == 1 && e[0].contains(says) && e[0].contains("t.cfg:8"), "{bad}: {e:?}");
        }
        // A backend's own table without the argument.
        let be = "backend b2\n stick-table type ip size 3\n http-request set-header X %[table_avl]%[src_conn_cnt]\n server s 127.0.0.1:1\n";
        assert_eq!(errors(be), Vec::<String>::new());
    }

    #[test]
    fn be_name_is_refused_only_before_a_backend() {
        let fe = |rule: &str| {
            format!("frontend f\n bind 127.0.0.1:3\n {rule}\n default_backend b\n{BACKENDS}")
        };
        // haproxy 2.6: an error in a frontend's request rule values and expressions...
        for bad in [
            "http-request set-header X %[be_name]",
            "http-request set-var(txn.x) be_id",
            "tcp-request content set-var(sess.x) be_name",
            "use_backend %[be_name]",
        ] {
            let e = errors(&fe(bad));
            assert!(
                e.len() == 1 && e[0].contains("needs 'backend'"),
                "{bad}: {e:?}"
            );
        }
        // ... but not in its response rules, in a listen, nor in an ACL (haproxy only warns
        // that such an ACL never matches there).
        for ok in [
            "http-response set-header X %[be_name]",
            "http-request deny if { be_name nope }",
        ] {
            assert_eq!(errors(&fe(ok)), Vec::<String>::new(), "{ok}");
        }
        let listen = "listen l2\n bind 127.0.0.1:4\n http-request set-header X %[be_name]\n server s 127.0.0.1:1\n";
        assert_eq!(errors(listen), Vec::<String>::new());
    }
}
