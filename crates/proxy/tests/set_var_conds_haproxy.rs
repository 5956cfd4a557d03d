//! HAProxy 2.6's conditional variable stores side by side with the real haproxy: the
//! `set-var(txn.x,COND...)` and `set-var-fmt(...,COND...)` actions with each of `ifexists
//! ifnotexists ifempty ifnotempty ifset ifnotset ifgt iflt`, and the `set-var(...)`
//! converter (in a header value, a `set-var` expression and an ACL), over several requests
//! on one connection (a `sess` variable set once). The client gets every variable back as a
//! response header; the backend receives the converter's headers.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

const VARS: &[&str] = &[
    "a", "b", "e", "e0", "f", "g", "z", "n", "m", "s2", "h", "c", "k", "k2", "acl", "cv",
];

fn cfg(front: u16, server: SocketAddr) -> String {
    let mut shown = String::new();
    for v in VARS {
        shown.push_str(&format!(
            "  http-response set-header X-{v} \"[%[var(txn.{v},dflt)]]\"\n"
        ));
    }
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{front}\n\
         \x20 http-request set-var(txn.a,ifexists) str(A)\n\
         \x20 http-request set-var(txn.b,ifnotexists) str(B1)\n\
         \x20 http-request set-var(txn.b,ifnotexists) str(B2)\n\
         \x20 http-request set-var(txn.e,ifnotempty) str()\n\
         \x20 http-request set-var(txn.e,ifexists,ifnotset) str(E)\n\
         \x20 http-request set-var(txn.e0,ifnotempty) str()\n\
         \x20 http-request set-var(txn.f,ifnotset) str(F1)\n\
         \x20 http-request set-var(txn.f,ifset) str(F2)\n\
         \x20 http-request set-var(txn.f,ifnotset) str(F3)\n\
         \x20 http-request set-var(txn.g,ifempty) str()\n\
         \x20 http-request set-var(txn.g,ifempty) str(G)\n\
         \x20 http-request set-var(txn.z,ifempty) int(0)\n\
         \x20 http-request set-var(txn.n) int(5)\n\
         \x20 http-request set-var(txn.n,ifgt) int(7)\n\
         \x20 http-request set-var(txn.n,ifgt) int(3)\n\
         \x20 http-request set-var(txn.m) int(5)\n\
         \x20 http-request set-var(txn.m,iflt,ifexists) req.hdr(x-n),add(0)\n\
         \x20 http-request set-var(txn.s2) str(x)\n\
         \x20 http-request set-var(txn.s2,ifgt) int(1)\n\
         \x20 http-request set-var-fmt(txn.h,ifnotexists) \"%[path]-%HM\"\n\
         \x20 http-request set-var-fmt(txn.h,ifnotexists) second\n\
         \x20 http-request set-var(sess.first,ifnotexists) path\n\
         \x20 http-request set-header X-C %[req.hdr(x-c),set-var(txn.c),upper]\n\
         \x20 http-request set-var(txn.k) req.hdr(x-c),lower,set-var(txn.k2,ifnotempty),length\n\
         \x20 http-request set-var(txn.cv) str(conv) if {{ req.hdr(x-c),set-var(txn.acl,ifnotexists) -m found }}\n\
         \x20 http-request set-header X-First %[var(sess.first)]\n\
         {shown}\
         \x20 default_backend b\n\
         backend b\n  server s {server}\n"
    )
}

const REQS: &[(&str, &str)] = &[
    ("/one", "x-n: 9\r\nx-c: Hello\r\n"),
    ("/two", "x-n: 2\r\n"),
    ("/three", "x-n: 3\r\nx-c: \r\n"),
    ("/four", "x-n: abc\r\nx-c: World\r\n"),
];

/// The requests on one connection ([`x_exchanges`]).
async fn run(front: u16, server: &Backend) -> XExchanges {
    let heads: Vec<String> = REQS
        .iter()
        .map(|(p, extra)| format!("GET {p} HTTP/1.1\r\nHost: h\r\n{extra}\r\n"))
        .collect();
    x_exchanges(front, server, &heads, true).await
}

#[tokio::test]
async fn set_var_conditions_and_converter_as_haproxy() {
    let server = Backend::start("app").await;
    let front = free_port();
    let h = start(&cfg(front, server.addr)).await;
    let ours = run(front, &server).await;
    h.shutdown(Duration::from_secs(1)).await;
    let first = &ours.0[0].1;
    for want in [
        "x-b=[B1]",
        "x-a=[dflt]",
        "x-e=[E]",
        "x-f=[F2]",
        "x-n=[3]",
        "x-c=[Hello]",
    ] {
        assert!(first.contains(&want.to_string()), "{want}: {ours:?}");
    }

    let server2 = Backend::start("app").await;
    let hfront = free_port();
    let Some(_haproxy) = Haproxy::start(&cfg(hfront, server2.addr), addr(hfront)).await else {
        return;
    };
    let theirs = run(hfront, &server2).await;
    for (i, (o, t)) in ours.0.iter().zip(&theirs.0).enumerate() {
        assert_eq!(
            o, t,
            "request {i}: (status, response headers) fulcrum vs haproxy"
        );
    }
    assert_eq!(
        ours.1, theirs.1,
        "headers the backend received: fulcrum vs haproxy"
    );
}
