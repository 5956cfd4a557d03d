//! Variables (`set-var`, `set-var-fmt`, `unset-var` in `tcp-request content`,
//! `http-request` and `http-response` rules; the `sess`, `txn`, `req` and `res` scopes; `var()`
//! in values and ACLs) side by side with the real haproxy 2.6: the backend receives the same
//! headers, the client the same response headers and statuses, over several requests on
//! one connection; `use_backend` on a variable.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

fn cfg(front: u16, server: SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{front}\n\
         \x20 tcp-request content set-var(sess.client) src\n\
         \x20 http-request set-var(txn.host) req.hdr(host),lower\n\
         \x20 http-request set-var-fmt(txn.fmt) \"%[path]-%HM\"\n\
         \x20 http-request set-var(req.tmp) str(kept)\n\
         \x20 http-request unset-var(req.tmp) if {{ path_beg /unset }}\n\
         \x20 http-request set-var(sess.last) path if {{ path_beg /remember }}\n\
         \x20 http-request set-var(txn.none) req.hdr(x-absent)\n\
         \x20 http-request deny deny_status 403 if {{ var(txn.host) -m str blocked.example }}\n\
         \x20 http-request set-header X-Host %[var(txn.host)]\n\
         \x20 http-request set-header X-Fmt %[var(txn.fmt)]\n\
         \x20 http-request set-header X-Tmp \"[%[var(req.tmp)]]\"\n\
         \x20 http-request set-header X-Last \"[%[var(sess.last)]]\"\n\
         \x20 http-request set-header X-Client %[var(sess.client)]\n\
         \x20 http-request set-header X-None \"[%[var(txn.none)]]\"\n\
         \x20 http-request set-header X-Default %[var(txn.nothing,fallback)]\n\
         \x20 http-response set-var(res.st) status\n\
         \x20 http-response set-header X-Res-Host %[var(txn.host)]\n\
         \x20 http-response set-header X-Res-St %[var(res.st)]\n\
         \x20 http-response set-header X-Res-Tmp \"[%[var(req.tmp)]]\"\n\
         \x20 use_backend bv if {{ var(txn.host) -m str routed.example }}\n\
         \x20 default_backend b\n\
         backend b\n  server s {server}\n\
         backend bv\n  http-request return status 200 content-type text/plain string v hdr x-routed by-var\n"
    )
}

const PATHS: &[(&str, &str)] = &[
    ("/remember/me", "Example.COM"),
    ("/other", "h"),
    ("/unset/x", "h"),
    ("/r", "routed.example"),
    ("/x", "blocked.example"),
];

/// The requests on one connection ([`x_exchanges`]).
async fn run(front: u16, server: &Backend) -> XExchanges {
    let heads: Vec<String> = PATHS
        .iter()
        .map(|(p, host)| format!("GET {p} HTTP/1.1\r\nHost: {host}\r\n\r\n"))
        .collect();
    x_exchanges(front, server, &heads, true).await
}

#[tokio::test]
async fn variables_behave_as_haproxy_variables() {
    let server = Backend::start("app").await;
    let front = free_port();
    let h = start(&cfg(front, server.addr)).await;
    let ours = run(front, &server).await;
    h.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ours.0[4].0, 403, "{ours:?}");
    // `use_backend` reads the variables the rules set, as haproxy
    assert!(
        ours.0[3].1.contains(&"x-routed=by-var".to_string()),
        "{ours:?}"
    );
    assert!(
        ours.1[1].contains(&"x-last=[/remember/me]".to_string()),
        "sess scope: {ours:?}"
    );
    assert!(
        ours.1[0].contains(&"x-fmt=/remember/me-GET".to_string()),
        "{ours:?}"
    );

    let server2 = Backend::start("app").await;
    let hfront = free_port();
    let Some(_haproxy) = Haproxy::start(&cfg(hfront, server2.addr), addr(hfront)).await else {
        return;
    };
    let theirs = run(hfront, &server2).await;
    assert_eq!(
        ours.0, theirs.0,
        "(status, response headers) fulcrum vs haproxy"
    );
    assert_eq!(
        ours.1, theirs.1,
        "headers the backend received: fulcrum vs haproxy"
    );
}
