//! Each case was first run against haproxy 2.6 (two python backends, curl) and its output
//! written down here; the comments quote what haproxy answered.

use super::*;
use crate::persist::{apply_edits, cookie_date};
use fulcrum_config::diagnostics::Span;
use std::time::Duration;

const NOW: u64 = 1_795_426_416;

fn cfg(method: CookieMethod, opts: &[&str]) -> CookiePersistence {
    CookiePersistence {
        span: Span::default(),
        name: if method == CookieMethod::Prefix {
            "JSESSIONID".into()
        } else {
            "SRV".into()
        },
        method,
        indirect: opts.contains(&"indirect"),
        nocache: opts.contains(&"nocache"),
        postonly: opts.contains(&"postonly"),
        preserve: opts.contains(&"preserve"),
        httponly: opts.contains(&"httponly"),
        secure: opts.contains(&"secure"),
        domains: Vec::new(),
        maxidle: None,
        maxlife: None,
    }
}

/// s0 cookie 0, s1 cookie 1, s2 cookie 2 (DOWN), s3 without cookie.
fn servers(s2_up: bool) -> Vec<CookieServer<'static>> {
    vec![
        CookieServer {
            cookie: Some("0"),
            usable: true,
        },
        CookieServer {
            cookie: Some("1"),
            usable: true,
        },
        CookieServer {
            cookie: Some("2"),
            usable: s2_up,
        },
        CookieServer {
            cookie: None,
            usable: true,
        },
    ]
}

fn view(h: &[(String, String)]) -> Vec<(&[u8], &[u8])> {
    h.iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect()
}

struct Exchange {
    server: Option<usize>,
    state: CookieState,
    forwarded: Vec<(String, String)>,
    response: Vec<(String, String)>,
}

/// One request through the cookie logic; `balanced` is the server the balancer would pick.
fn exchange(
    p: &CookiePersist,
    method: &str,
    req_headers: &[(&str, &str)],
    balanced: usize,
    status: u16,
    resp_headers: &[(&str, &str)],
) -> Exchange {
    let all = servers(false);
    let mut forwarded: Vec<(String, String)> = req_headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let decision = p.on_request(NOW, &view(&forwarded), &all);
    apply_edits(&mut forwarded, &decision.edits);
    let chosen = decision.server.unwrap_or(balanced);
    let mut response: Vec<(String, String)> = resp_headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let ctx = CookieResponse {
        method: method.as_bytes(),
        status,
        server_cookie: all[chosen].cookie,
        direct: decision.server.is_some(),
    };
    let edits = p.on_response(NOW, &decision, &ctx, &view(&response));
    apply_edits(&mut response, &edits);
    Exchange {
        server: decision.server,
        state: decision.state,
        forwarded,
        response,
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn seed_003_insert_indirect_nocache_walkthrough() {
    let p = CookiePersist::new(cfg(CookieMethod::Insert, &["indirect", "nocache"]), false);
    // Tomcat answers with Cache-Control: private and an Expires in the past
    let tomcat = [
        ("Cache-Control", "private"),
        ("Expires", "Wed, 31 Dec 1969 19:00:00 EST"),
    ];
    // first curl: no cookie → balanced to s0, "Set-Cookie: SRV=0; path=/", no extra Cache-Control
    let e = exchange(&p, "GET", &[], 0, 200, &tomcat);
    assert_eq!(e.server, None);
    assert_eq!(e.state, CookieState::None);
    let mut want = pairs(&tomcat);
    want.push(("Set-Cookie".into(), "SRV=0; path=/".into()));
    assert_eq!(e.response, want);
    // second: s1
    let e = exchange(&p, "GET", &[], 1, 200, &tomcat);
    assert_eq!(
        e.response.last(),
        Some(&("Set-Cookie".to_string(), "SRV=1; path=/".to_string()))
    );
    // --cookie SRV=0: straight to s0, cookie removed from the request, no Set-Cookie
    let e = exchange(&p, "GET", &[("Cookie", "SRV=0")], 1, 200, &tomcat);
    assert_eq!((e.server, e.state), (Some(0), CookieState::Valid));
    assert!(
        e.forwarded.is_empty(),
        "indirect: the server never sees SRV"
    );
    assert_eq!(e.response, pairs(&tomcat));
    // --cookie SRV=2 (unknown in the seed; here s2 is DOWN): balanced again, fresh cookie
    let e = exchange(&p, "GET", &[("Cookie", "SRV=2")], 0, 200, &tomcat);
    assert_eq!((e.server, e.state), (None, CookieState::Down));
    assert_eq!(
        e.response.last(),
        Some(&("Set-Cookie".to_string(), "SRV=0; path=/".to_string()))
    );
    let e = exchange(&p, "GET", &[("Cookie", "SRV=7")], 0, 200, &tomcat);
    assert_eq!(e.state, CookieState::Invalid);
    assert_eq!(
        e.response.last(),
        Some(&("Set-Cookie".to_string(), "SRV=0; path=/".to_string()))
    );
}

#[test]
fn nocache_adds_cache_control_private_only_on_cacheable_responses() {
    let p = CookiePersist::new(cfg(CookieMethod::Insert, &["indirect", "nocache"]), false);
    // haproxy: "cache-control: max-age=60 / set-cookie: SRV=0; path=/ / cache-control: private"
    let e = exchange(&p, "GET", &[], 0, 200, &[("Cache-Control", "max-age=60")]);
    assert_eq!(
        e.response,
        pairs(&[
            ("Cache-Control", "max-age=60"),
            ("Set-Cookie", "SRV=0; path=/"),
            ("Cache-control", "private")
        ])
    );
    // a bare 200 is not cacheable: no Cache-control added
    let e = exchange(&p, "GET", &[], 0, 200, &[]);
    assert_eq!(e.response, pairs(&[("Set-Cookie", "SRV=0; path=/")]));
    // POST is never cacheable
    let e = exchange(&p, "POST", &[], 0, 200, &[("Cache-Control", "max-age=60")]);
    assert_eq!(
        e.response,
        pairs(&[
            ("Cache-Control", "max-age=60"),
            ("Set-Cookie", "SRV=0; path=/")
        ])
    );
    // no cookie inserted (valid cookie): nothing added either
    let e = exchange(
        &p,
        "GET",
        &[("Cookie", "SRV=1")],
        0,
        200,
        &[("Cache-Control", "max-age=60")],
    );
    assert_eq!(e.response, pairs(&[("Cache-Control", "max-age=60")]));
}

#[test]
fn indirect_removes_only_the_persistence_cookie() {
    let p = CookiePersist::new(cfg(CookieMethod::Insert, &["indirect"]), false);
    // haproxy forwarded "a=b; c=d"
    let e = exchange(&p, "GET", &[("Cookie", "a=b; SRV=1; c=d")], 0, 200, &[]);
    assert_eq!(e.server, Some(1));
    assert_eq!(e.forwarded, pairs(&[("Cookie", "a=b; c=d")]));
    // haproxy forwarded "x=1; y=2"
    let e = exchange(&p, "GET", &[("Cookie", "x=1;SRV=1 ;  y=2")], 0, 200, &[]);
    assert_eq!(e.forwarded, pairs(&[("Cookie", "x=1; y=2")]));
    // two Cookie headers: the first SRV wins, all are removed (haproxy: s0, ['x=1'])
    let e = exchange(
        &p,
        "GET",
        &[("Cookie", "SRV=0"), ("Cookie", "x=1; SRV=1")],
        1,
        200,
        &[],
    );
    assert_eq!(e.server, Some(0));
    assert_eq!(e.forwarded, pairs(&[("Cookie", "x=1")]));
    let e = exchange(&p, "GET", &[("Cookie", "SRV=0; SRV=1")], 1, 200, &[]);
    assert_eq!((e.server, e.forwarded.is_empty()), (Some(0), true));
}

#[test]
fn insert_without_indirect_keeps_the_request_cookie_and_drops_the_servers() {
    let p = CookiePersist::new(cfg(CookieMethod::Insert, &["nocache"]), false);
    // haproxy: server saw "x=1;SRV=1;y=2" untouched
    let e = exchange(&p, "GET", &[("Cookie", "x=1;SRV=1;y=2")], 0, 200, &[]);
    assert_eq!(e.forwarded, pairs(&[("Cookie", "x=1;SRV=1;y=2")]));
    // haproxy: a server's own "Set-Cookie: SRV=abc" disappears on a direct hit...
    let e = exchange(
        &p,
        "GET",
        &[("Cookie", "SRV=1")],
        0,
        200,
        &[("Set-Cookie", "SRV=abc")],
    );
    assert!(e.response.is_empty());
    // ...and is replaced by HAProxy's own otherwise
    let e = exchange(&p, "GET", &[], 1, 200, &[("Set-Cookie", "SRV=abc")]);
    assert_eq!(e.response, pairs(&[("Set-Cookie", "SRV=1; path=/")]));
}

#[test]
fn attributes_domains_httponly_secure() {
    let mut c = cfg(
        CookieMethod::Insert,
        &["indirect", "nocache", "httponly", "secure"],
    );
    c.domains = vec![".a.com".into(), "b.org".into()];
    let p = CookiePersist::new(c, false);
    let e = exchange(&p, "GET", &[], 0, 200, &[]);
    assert_eq!(
        e.response,
        pairs(&[(
            "Set-Cookie",
            "SRV=0; path=/; domain=.a.com; domain=b.org; HttpOnly; Secure"
        )])
    );
}

#[test]
fn postonly_inserts_on_post_only() {
    let p = CookiePersist::new(cfg(CookieMethod::Insert, &["postonly"]), false);
    assert!(exchange(&p, "GET", &[], 0, 200, &[]).response.is_empty());
    let e = exchange(&p, "POST", &[], 1, 200, &[]);
    assert_eq!(e.response, pairs(&[("Set-Cookie", "SRV=1; path=/")]));
    assert!(exchange(&p, "POST", &[("Cookie", "SRV=1")], 0, 200, &[])
        .response
        .is_empty());
}

#[test]
fn preserve_leaves_the_servers_cookie_alone() {
    let p = CookiePersist::new(cfg(CookieMethod::Insert, &["preserve"]), false);
    let logout = [("Set-Cookie", "SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT")];
    let e = exchange(&p, "GET", &[], 0, 200, &logout);
    assert_eq!(e.response, pairs(&logout), "haproxy added nothing");
    let e = exchange(
        &p,
        "GET",
        &[("Cookie", "SRV=1")],
        0,
        200,
        &[("Set-Cookie", "SRV=x")],
    );
    assert_eq!(e.response, pairs(&[("Set-Cookie", "SRV=x")]));
    let e = exchange(&p, "GET", &[], 1, 200, &[]);
    assert_eq!(e.response, pairs(&[("Set-Cookie", "SRV=1; path=/")]));
}

#[test]
fn server_without_cookie_gets_a_removal_cookie() {
    let p = CookiePersist::new(cfg(CookieMethod::Insert, &["indirect"]), false);
    let e = exchange(&p, "GET", &[], 3, 200, &[]);
    assert_eq!(
        e.response,
        pairs(&[(
            "Set-Cookie",
            "SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"
        )])
    );
    // an empty cookie is invalid (haproxy balanced it)
    assert_eq!(
        exchange(&p, "GET", &[("Cookie", "SRV=")], 1, 200, &[]).state,
        CookieState::Invalid
    );
}

#[test]
fn option_persist_keeps_a_down_servers_cookie() {
    let p = CookiePersist::new(cfg(CookieMethod::Insert, &["indirect"]), true);
    let e = exchange(&p, "GET", &[("Cookie", "SRV=2")], 0, 200, &[]);
    assert_eq!((e.server, e.state), (Some(2), CookieState::Down));
}

#[test]
fn rewrite_mode() {
    let p = CookiePersist::new(cfg(CookieMethod::Rewrite, &["nocache"]), false);
    // no Set-Cookie from the server: nothing added
    assert!(exchange(&p, "GET", &[], 0, 200, &[]).response.is_empty());
    // haproxy: "set-cookie: SRV=1; path=/app" (attributes kept), no Cache-control even with nocache
    let e = exchange(
        &p,
        "GET",
        &[],
        1,
        200,
        &[
            ("Set-Cookie", "SRV=abc; path=/app"),
            ("Cache-Control", "max-age=60"),
        ],
    );
    assert_eq!(
        e.response,
        pairs(&[
            ("Set-Cookie", "SRV=1; path=/app"),
            ("Cache-Control", "max-age=60")
        ])
    );
    let e = exchange(
        &p,
        "GET",
        &[],
        0,
        200,
        &[("Set-Cookie", "JS=1"), ("Set-Cookie", "SRV=x")],
    );
    assert_eq!(
        e.response,
        pairs(&[("Set-Cookie", "JS=1"), ("Set-Cookie", "SRV=0")])
    );
    // request cookie is kept as is (haproxy: ['SRV=1; o=2'])
    let e = exchange(&p, "GET", &[("Cookie", "SRV=1; o=2")], 0, 200, &[]);
    assert_eq!(
        (e.server, e.forwarded.clone()),
        (Some(1), pairs(&[("Cookie", "SRV=1; o=2")]))
    );
}

#[test]
fn prefix_mode() {
    let p = CookiePersist::new(cfg(CookieMethod::Prefix, &[]), false);
    // haproxy: "set-cookie: JSESSIONID=0~abc; Path=/"
    let e = exchange(
        &p,
        "GET",
        &[],
        0,
        200,
        &[("Set-Cookie", "JSESSIONID=abc; Path=/")],
    );
    assert_eq!(
        e.response,
        pairs(&[("Set-Cookie", "JSESSIONID=0~abc; Path=/")])
    );
    // haproxy: s1 saw "JSESSIONID=abc; x=y"
    let e = exchange(
        &p,
        "GET",
        &[("Cookie", "JSESSIONID=1~abc; x=y")],
        0,
        200,
        &[],
    );
    assert_eq!(
        (e.server, e.forwarded),
        (Some(1), pairs(&[("Cookie", "JSESSIONID=abc; x=y")]))
    );
    // no prefix: balanced, untouched
    let e = exchange(&p, "GET", &[("Cookie", "JSESSIONID=abc")], 0, 200, &[]);
    assert_eq!(
        (e.server, e.forwarded),
        (None, pairs(&[("Cookie", "JSESSIONID=abc")]))
    );
    // unknown server: balanced, prefix still stripped
    let e = exchange(&p, "GET", &[("Cookie", "JSESSIONID=9~abc")], 0, 200, &[]);
    assert_eq!(
        (e.server, e.state, e.forwarded),
        (
            None,
            CookieState::Invalid,
            pairs(&[("Cookie", "JSESSIONID=abc")])
        )
    );
    // prefix indirect: the server's update on a direct hit is dropped
    let pi = CookiePersist::new(cfg(CookieMethod::Prefix, &["indirect"]), false);
    let e = exchange(
        &pi,
        "GET",
        &[("Cookie", "JSESSIONID=1~abc")],
        0,
        200,
        &[("Set-Cookie", "JSESSIONID=new")],
    );
    assert!(e.response.is_empty());
}

fn dated(maxidle: Option<u64>, maxlife: Option<u64>) -> CookiePersist {
    let mut c = cfg(CookieMethod::Insert, &["indirect"]);
    c.maxidle = maxidle.map(Duration::from_secs);
    c.maxlife = maxlife.map(Duration::from_secs);
    CookiePersist::new(c, false)
}

fn date(offset: i64) -> String {
    cookie_date::encode_now(NOW.saturating_add_signed(offset))
}

fn set_cookie(e: &Exchange) -> Option<String> {
    e.response
        .iter()
        .find(|(n, _)| n == "Set-Cookie")
        .map(|(_, v)| v.clone())
}

#[test]
fn maxidle_maxlife_dates() {
    let p = dated(Some(3600), Some(7200 + 3600));
    let now = date(0);
    assert_eq!(
        set_cookie(&exchange(&p, "GET", &[], 0, 200, &[])),
        Some(format!("SRV=0|{now}|{now}; path=/"))
    );
    // idle for 2h > 1h: expired, balanced, fresh dates
    let e = exchange(
        &p,
        "GET",
        &[("Cookie", &format!("SRV=0|{}", date(-7200)))],
        1,
        200,
        &[],
    );
    assert_eq!((e.server, e.state), (None, CookieState::Expired));
    assert_eq!(set_cookie(&e), Some(format!("SRV=1|{now}|{now}; path=/")));
    // recent: direct, refreshed, first date set now (maxlife and none given)
    let e = exchange(
        &p,
        "GET",
        &[("Cookie", &format!("SRV=0|{}", date(-600)))],
        1,
        200,
        &[],
    );
    assert_eq!(e.server, Some(0));
    assert_eq!(set_cookie(&e), Some(format!("SRV=0|{now}|{now}; path=/")));
    // recent with a first date 2h ago (< 3h): kept
    let first = date(-7200);
    let e = exchange(
        &p,
        "GET",
        &[("Cookie", &format!("SRV=0|{}|{first}", date(-600)))],
        1,
        200,
        &[],
    );
    assert_eq!(set_cookie(&e), Some(format!("SRV=0|{now}|{first}; path=/")));
    // first date too old: balanced as new
    let e = exchange(
        &p,
        "GET",
        &[("Cookie", &format!("SRV=0|{}|{}", date(-600), date(-20000)))],
        1,
        200,
        &[],
    );
    assert_eq!((e.server, e.state), (None, CookieState::Old));
    assert_eq!(set_cookie(&e), Some(format!("SRV=1|{now}|{now}; path=/")));
    // more than 24h in the future: ignored
    let e = exchange(
        &p,
        "GET",
        &[("Cookie", &format!("SRV=0|{}", date(200_000)))],
        1,
        200,
        &[],
    );
    assert_eq!((e.server, e.state), (None, CookieState::Expired));
}

#[test]
fn maxidle_refreshes_only_when_the_date_is_past() {
    let p = dated(Some(3600), None);
    // dated "now" (rounded up): no Set-Cookie at all
    let e = exchange(
        &p,
        "GET",
        &[("Cookie", &format!("SRV=0|{}", date(1)))],
        1,
        200,
        &[],
    );
    assert_eq!((e.server, set_cookie(&e)), (Some(0), None));
    // no date: accepted and refreshed (haproxy: "SRV=1|awQId; path=/")
    let e = exchange(&p, "GET", &[("Cookie", "SRV=1")], 0, 200, &[]);
    assert_eq!(e.server, Some(1));
    assert_eq!(set_cookie(&e), Some(format!("SRV=1|{}; path=/", date(0))));
    // "AAAAA" decodes to 0 = no date
    let e = exchange(&p, "GET", &[("Cookie", "SRV=1|AAAAA")], 0, 200, &[]);
    assert_eq!(e.server, Some(1));
}
