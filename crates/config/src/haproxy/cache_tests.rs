//! Unit tests of `cache` sections, `cache-use` / `cache-store` and `monitor-uri` /
//! `monitor fail`.

use crate::model::HttpAction;
use crate::{load_sources, Loaded, Source};

fn load(text: &str) -> Loaded {
    load_sources(&[Source {
        name: "t.cfg",
        text,
    }])
}

fn errors(text: &str) -> Vec<String> {
    load(text)
        .diagnostics
        .errors()
        .map(|d| d.to_string())
        .collect()
}

const PROXY: &str = "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
backend b\n http-request cache-use c\n http-response cache-store c if { status 200 }\n server s 127.0.0.1:80\n";

#[test]
fn cache_section_with_haproxys_defaults() {
    let l = load(&format!(
        "{PROXY}cache c\n total-max-size 4\n max-age 240\n"
    ));
    assert!(
        l.is_ok(),
        "{:?}",
        l.diagnostics.errors().collect::<Vec<_>>()
    );
    let c = &l.config.global.caches[0];
    assert_eq!(c.name, "c");
    assert_eq!(c.total_max_size, 4 << 20);
    assert_eq!(c.max_object_size, (4 << 20) / 256);
    assert_eq!(c.max_age, 240);
    assert!(!c.process_vary);
    assert_eq!(c.max_secondary_entries, 10);
    let b = &l.config.proxies[0];
    assert_eq!(
        b.http_request[0].action,
        HttpAction::CacheUse { cache: "c".into() }
    );
    assert!(matches!(
        &b.http_response[0].action,
        HttpAction::CacheStore { cache } if cache == "c"
    ));
    assert!(b.http_response[0].condition.is_some());
}

#[test]
fn cache_section_errors_name_their_line() {
    assert_eq!(
        errors(&format!("{PROXY}cache c\n max-age 5\n")),
        ["t.cfg:10: error: size not specified for cache 'c' (add 'total-max-size MEGABYTES')"]
    );
    assert_eq!(
        errors(&format!("{PROXY}cache c\n total-max-size 1\n max-object-size 600000\n")),
        ["t.cfg:10: error: cache 'c': \"max-object-size\" is limited to half of \"total-max-size\" => 524288"]
    );
    let e = errors(&format!("{PROXY}cache c\n total-max-size 1\n bogus 1\n"));
    assert_eq!(
        e,
        ["t.cfg:12: error: unknown keyword 'bogus' in 'cache' section"]
    );
    let e = errors(&format!("{PROXY}cache c\n total-max-size 5000\n"));
    assert!(e[0].starts_with("t.cfg:11: error: "), "{e:?}");
    let e = errors(&format!(
        "{PROXY}cache c\n total-max-size 1\n process-vary maybe\n"
    ));
    assert!(
        e[0].starts_with("t.cfg:12: error: 'process-vary' expects \"on\" or \"off\""),
        "{e:?}"
    );
    let e = errors(&format!(
        "{PROXY}cache c\n total-max-size 1\ncache c\n total-max-size 1\n"
    ));
    assert!(
        e[0].starts_with("t.cfg:12: error: duplicate cache name 'c'"),
        "{e:?}"
    );
}

#[test]
fn rules_name_an_existing_cache_on_the_right_side() {
    let e = errors(PROXY);
    assert_eq!(
        e,
        [
            "t.cfg:7: error: unable to find cache 'c' (no 'cache c' section)",
            "t.cfg:8: error: unable to find cache 'c' (no 'cache c' section)"
        ]
    );
    let e =
        errors("backend b\n mode http\n http-response cache-use c\ncache c\n total-max-size 1\n");
    assert!(
        e[0].contains("'cache-use' is an 'http-request' action"),
        "{e:?}"
    );
    let e = errors("backend b\n mode http\n http-request cache-use\ncache c\n total-max-size 1\n");
    assert!(e[0].contains("expects a cache name"), "{e:?}");
    // a cache section may follow the proxies that use it
    let l = load("cache c\n total-max-size 1\nbackend b\n mode http\n http-request cache-use c\n");
    assert!(l.is_ok());
}

#[test]
fn monitor_uri_and_monitor_fail() {
    let l = load(
        "defaults\n mode http\n monitor-uri /d\nfrontend f\n bind :80\n monitor-uri /health\n\
         acl down req.hdr(x-down) -m found\n monitor fail if down\n monitor fail unless { src 10.0.0.0/8 }\n\
         default_backend b\nbackend b\n server s 127.0.0.1:80\n",
    );
    assert!(
        l.is_ok(),
        "{:?}",
        l.diagnostics.errors().collect::<Vec<_>>()
    );
    let f = &l.config.proxies[0];
    assert_eq!(f.monitor_uri.as_deref(), Some("/health"));
    assert_eq!(f.monitor_fail.len(), 2);
    let e = errors("frontend f\n bind :80\n monitor fail\n");
    assert_eq!(
        e,
        ["t.cfg:3: error: 'monitor fail' expects 'if' or 'unless' followed by a condition"]
    );
    let e = errors("frontend f\n bind :80\n monitor pass if TRUE\n");
    assert_eq!(
        e,
        ["t.cfg:3: error: 'monitor' expects 'fail', found 'pass'"]
    );
    let w: Vec<String> = load("backend b\n monitor-uri /x\n")
        .diagnostics
        .warnings()
        .map(|d| d.to_string())
        .collect();
    assert!(
        w.iter()
            .any(|m| m.contains("'monitor-uri' is not allowed in a 'backend' section")),
        "{w:?}"
    );
}
