//! Tests of `keywords.rs`: the issue-13 proxy and global keywords as the parser reads them.

use crate::model::ServerPort;
use crate::model_keywords::ErrorReply;
use crate::{load_sources, Source};

fn load(text: &str) -> crate::Loaded {
    load_sources(&[Source {
        name: "t.cfg",
        text,
    }])
}

fn text(l: &crate::Loaded) -> String {
    l.diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

const HEAD: &str =
    "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n";

#[test]
fn server_template_expands_into_servers() {
    let l = load(&format!(
        "{HEAD}backend b\n server-template web 2-4 127.0.0.1:8080 check weight 7\n server-template x 2 127.0.0.2:81\n"
    ));
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    let b = &l.config.proxies[0];
    let names: Vec<&str> = b.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web2", "web3", "web4", "x1", "x2"]);
    assert!(b.servers[..3].iter().all(|s| s.check && s.weight == 7));
    assert_eq!(b.servers[0].address.port, ServerPort::Fixed(8080));
    assert!(!b.servers[3].check);
}

#[test]
fn server_template_errors_say_where() {
    for (body, want) in [
        (
            " server-template w 0 127.0.0.1:80\n",
            "is not a number of servers",
        ),
        (
            " server-template w 3-1 127.0.0.1:80\n",
            "is not a number of servers",
        ),
        (" server-template w 2\n", "expects an address"),
    ] {
        let l = load(&format!("{HEAD}backend b\n{body}"));
        let e = text(&l);
        assert!(e.contains("t.cfg:7") && e.contains(want), "{body}: {e}");
    }
    let l = load(&format!(
        "{HEAD}frontend f\n bind :1\n server-template w 2 1.2.3.4:80\n"
    ));
    assert!(text(&l).contains("backend or listen only"));
}

#[test]
fn errorloc_and_http_error_become_pages() {
    let l = load(&format!(
        "{HEAD}backend b\n errorloc 503 http://a/x\n errorloc303 403 /y\n\
         http-error status 404 content-type text/plain string hi hdr X-A b\n\
         http-error status 500 default-errorfiles\n server s 127.0.0.1:1\n"
    ));
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    let pages: Vec<(u16, Option<ErrorReply>)> = l.config.proxies[0]
        .errorfiles
        .iter()
        .map(|e| (e.status, e.reply.clone()))
        .collect();
    assert_eq!(
        pages,
        [
            (
                503,
                Some(ErrorReply::Location {
                    code: 302,
                    url: "http://a/x".into()
                })
            ),
            (
                403,
                Some(ErrorReply::Location {
                    code: 303,
                    url: "/y".into()
                })
            ),
            (
                404,
                Some(ErrorReply::Reply {
                    content_type: Some("text/plain".into()),
                    body: b"hi".to_vec(),
                    headers: vec![("X-A".into(), "b".into())],
                    lf_body: None,
                })
            ),
        ]
    );
    for (body, want) in [
        (" errorloc 299 /x\n", "cannot be customized"),
        (" errorloc 503\n", "expects a URL"),
        (" http-error 503\n", "expects 'status'"),
        (
            " http-error status 503 content-type text/plain lf-string %[nosuch]\n",
            "nosuch",
        ),
        (
            " http-error status 503 string x\n",
            "needs a 'content-type'",
        ),
        (
            " http-error status 503 content-type t/p string x bogus\n",
            "unexpected 'bogus'",
        ),
    ] {
        let l = load(&format!("{HEAD}backend b\n{body} server s 127.0.0.1:1\n"));
        let e = text(&l);
        assert!(e.contains("t.cfg:7") && e.contains(want), "{body}: {e}");
    }
}

#[test]
fn http_error_with_log_format_parts_and_errorfiles() {
    let l = load(&format!(
        "{HEAD}backend b\n http-error status 503 content-type text/plain lf-string %[src] hdr x-p %[path]\n          http-error status 502 errorfiles S\n http-error status 504 errorfiles S\n server s 127.0.0.1:1\n\
         http-errors S\n errorfile 502 /dev/null\n"
    ));
    let c = &l.config;
    let e = &c.proxy("b").unwrap().errorfiles;
    assert!(
        matches!(&e[0].reply, Some(ErrorReply::Reply { lf_body: Some(t), headers, .. }) if t == "%[src]" && headers[0].1 == "%[path]")
    );
    assert_eq!(e[1].status, 502);
    assert_eq!(
        (e[1].path.as_str(), &e[1].reply),
        ("/dev/null", &Some(ErrorReply::File))
    );
    assert_eq!(
        e.len(),
        2,
        "504 is not in S: the built-in page, with haproxy's warning"
    );
    assert!(
        text(&l).contains("t.cfg:9: warning") && text(&l).contains("status '504' not declared"),
        "{}",
        text(&l)
    );
}

#[test]
fn disabled_proxy_keeps_no_listener_nor_server() {
    let l = load(&format!(
        "{HEAD}frontend f\n bind 127.0.0.1:1\n disabled\n default_backend b\n\
         frontend g\n bind 127.0.0.1:2\n disabled\n enabled\n default_backend b\n\
         backend b\n disabled\n server s 127.0.0.1:3\n"
    ));
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    let p = &l.config.proxies;
    assert!(p[0].binds.is_empty() && p[2].servers.is_empty());
    assert_eq!(p[1].binds.len(), 1);
    assert!(!text(&l).contains("no 'bind'"));
}

#[test]
fn setenv_family_is_seen_by_later_lines() {
    use crate::model_keywords::EnvOp;
    let mut p = crate::haproxy::Parser::with_env(Box::new(|n| {
        (n == "OLD" || n == "KEEP").then(|| format!("was-{n}"))
    }));
    let mut d = crate::Diagnostics::new();
    p.parse_file(
        "t.cfg",
        "global\n setenv PORT 8080\n presetenv PORT 9\n presetenv OLD 9\n presetenv NEW n\n\
         unsetenv NEW\n resetenv KEEP PORT\n\
         .if defined(OLD)\n setenv BAD 1\n.endif\n\
         listen l\n bind \"127.0.0.1:${PORT}\"\n server s \"${KEEP}:1\"\n",
        &mut d,
    );
    let (g, proxies) = p.finish(&mut d);
    assert!(!d.has_errors(), "{d:?}");
    assert_eq!(proxies[0].binds[0].port_first, 8080);
    assert_eq!(proxies[0].servers[0].address.host, "was-KEEP");
    assert_eq!(
        g.keywords.environment,
        [
            EnvOp::Set("PORT".into(), "8080".into()),
            EnvOp::Set("NEW".into(), "n".into()),
            EnvOp::Unset("NEW".into()),
            EnvOp::Reset(vec!["KEEP".into(), "PORT".into()]),
        ]
    );
    let look = |n: &str| EnvOp::lookup(&g.keywords.environment, n, || Some("base".into()));
    assert_eq!(look("PORT").as_deref(), Some("8080"));
    assert_eq!(look("KEEP").as_deref(), Some("base"));
    assert_eq!(look("OLD"), None);
    let l = load("global\n setenv X\n unsetenv\n");
    let e = text(&l);
    assert!(e.contains("t.cfg:2") && e.contains("t.cfg:3"), "{e}");
}

#[test]
fn send_name_header_needs_a_name() {
    let l = load(&format!("{HEAD}backend b\n http-send-name-header\n"));
    assert!(text(&l).contains("expects a header name"));
    let l = load(&format!(
        "{HEAD}backend b\n http-send-name-header X-Srv\n server s 127.0.0.1:1\n"
    ));
    assert_eq!(
        l.config.proxies[0]
            .options
            .keywords
            .send_name_header
            .as_deref(),
        Some("X-Srv")
    );
}

#[test]
fn do_resolve_is_refused_by_name_with_the_reason() {
    let l = load(&format!(
        "{HEAD}frontend f\n bind :80\n http-request do-resolve(txn.ip,dns,ipv4) hdr(host),lower\n\
         tcp-request content do-resolve(txn.ip,dns) hdr(host)\n"
    ));
    let t = text(&l);
    assert!(
        t.contains("t.cfg:8: error: 'http-request do-resolve(txn.ip,dns,ipv4)' is not supported by fulcrum yet: fulcrum has no DNS resolver"),
        "{t}"
    );
    assert!(
        t.contains("t.cfg:9: error: 'tcp-request content do-resolve(txn.ip,dns)' is not run by fulcrum yet: fulcrum has no DNS resolver"),
        "{t}"
    );
}

#[test]
fn redirect_rules_run_after_the_http_request_rules() {
    let l = load(&format!(
        "{HEAD}frontend f\n bind :80\n redirect scheme https code 301 if !{{ ssl_fc }}\n\
         http-request set-header X 1\n redirect prefix /p drop-query\n default_backend b\n\
         backend b\n server s 127.0.0.1:1\n"
    ));
    assert!(l.is_ok(), "{}", text(&l));
    let f = &l.config.proxies[0];
    let kinds: Vec<String> = f
        .http_request
        .iter()
        .map(|r| {
            format!("{:?}", r.action)
                .split([' ', '{'])
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["SetHeader", "Redirect", "Redirect"]);
    assert!(f.http_request[1].condition.is_some());
    let l = load(&format!(
        "{HEAD}frontend f\n bind :80\n http-request allow if TRUE\n redirect prefix /p\n"
    ));
    assert!(
        text(&l).contains("t.cfg:9: error: a 'redirect' rule together with 'http-request allow'"),
        "{}",
        text(&l)
    );
    let l = load(&format!(
        "{HEAD}frontend f\n bind :80\n redirect prefix /p\n http-request allow\n"
    ));
    assert!(
        text(&l).contains("t.cfg:9: error: a 'redirect' rule together with 'http-request allow'"),
        "{}",
        text(&l)
    );
}

#[test]
fn strict_mode_and_map_actions_parse() {
    let l = load(&format!(
        "{HEAD}frontend f\n bind :80\n http-request strict-mode off\n http-response strict-mode on\n\
         http-request set-map(/tmp/m.map) %[req.hdr(k)] %[req.hdr(v)]\n http-response del-acl(/tmp/a.lst) %[src]\n"
    ));
    assert!(l.is_ok(), "{}", text(&l));
    let f = &l.config.proxies[0];
    assert!(matches!(
        f.http_request[0].action,
        crate::model::HttpAction::StrictMode(false)
    ));
    assert!(matches!(
        f.http_request[1].action,
        crate::model::HttpAction::MapEdit { .. }
    ));
    let l = load(&format!(
        "{HEAD}frontend f\n bind :80\n http-request strict-mode maybe\n"
    ));
    assert!(
        text(&l).contains("'strict-mode' expects on or off"),
        "{}",
        text(&l)
    );
    let l = load(&format!(
        "{HEAD}frontend f\n bind :80\n http-request set-map() x y\n"
    ));
    assert!(text(&l).contains("expected set-map(FILE)"), "{}", text(&l));
}
