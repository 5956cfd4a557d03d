//! `stick_sample` against fixed sample answers: Octavia's APP_COOKIE pair, `stick on`, key
//! length, usability, refusals and reload hand-over.

use super::*;
use fulcrum_sample::fetch::Fetch;
use fulcrum_sample::Value;
use std::time::Duration;

/// Answers `req.cook(NAME)` from `req` and `res.cook(NAME)` from `res`.
struct Cookies<'a> {
    req: &'a [(&'a str, &'a str)],
    res: &'a [(&'a str, &'a str)],
}

impl Env for Cookies<'_> {
    fn fetch(&self, f: &Fetch) -> Option<Value> {
        let name = f.args.first().map(|a| a.as_bytes().to_vec())?;
        let list = match f.kw.name {
            "req.cook" => self.req,
            "res.cook" => self.res,
            _ => return None,
        };
        list.iter()
            .find(|(n, _)| n.as_bytes() == name.as_slice())
            .map(|(_, v)| Value::Str(v.as_bytes().to_vec()))
    }
    fn var(&self, _: fulcrum_sample::Scope, _: &str) -> Option<Value> {
        None
    }
    fn now_unix(&self) -> i64 {
        0
    }
    fn random(&self) -> u32 {
        0
    }
}

fn backend(body: &str) -> Result<Option<SampleStick>, String> {
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         backend b\n{body}    server a 127.0.0.1:1\n    server c 127.0.0.1:2\n"
    );
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "t.cfg",
        text: &text,
    }]);
    assert!(loaded.is_ok(), "{:?}", loaded.diagnostics);
    SampleStick::from_proxy(loaded.config.backend("b").expect("b"))
}

const OCTAVIA: &str = "    stick-table type string len 64 size 10k\n    stick store-response res.cook(JSESSIONID)\n    stick match req.cook(JSESSIONID)\n";

#[test]
fn octavias_app_cookie_learns_from_the_response_and_matches_the_request() {
    let s = backend(OCTAVIA).expect("supported").expect("rules");
    let t0 = Instant::now();
    let first = Cookies {
        req: &[],
        res: &[("JSESSIONID", "abc")],
    };
    assert_eq!(
        s.on_request(t0, &first, false, |_| true),
        RequestStick::default(),
        "no cookie yet: balance, nothing to store"
    );
    assert_eq!(s.on_response(t0, &first, "c"), Some(b"abc".to_vec()));
    let replay = Cookies {
        req: &[("other", "x"), ("JSESSIONID", "abc")],
        res: &[],
    };
    let got = s.on_request(t0, &replay, false, |_| true);
    assert_eq!(got.server.as_deref(), Some("c"));
    assert_eq!(got.store, None, "'stick match' stores nothing");
    // A server that may not take traffic: balance again; the answer re-sticks the cookie.
    let down = s.on_request(t0, &replay, false, |n| n != "c");
    assert_eq!(down.server, None);
    s.on_response(
        t0,
        &Cookies {
            req: &[],
            res: &[("JSESSIONID", "abc")],
        },
        "a",
    );
    assert_eq!(
        s.lookup(t0, b"abc").as_deref(),
        Some("a"),
        "a store overwrites"
    );
    // Persistence already chose (a `cookie`): the match rules are skipped.
    assert_eq!(s.on_request(t0, &replay, true, |_| true).server, None);
}

#[test]
fn stick_on_matches_then_stores_and_keys_are_cut_to_len() {
    let s = backend(
        "    stick-table type string len 4 size 10 expire 30s\n    stick on req.cook(sid)\n",
    )
    .expect("supported")
    .expect("rules");
    let t0 = Instant::now();
    let env = Cookies {
        req: &[("sid", "abcdefgh")],
        res: &[],
    };
    let got = s.on_request(t0, &env, false, |_| true);
    assert_eq!(
        got,
        RequestStick {
            server: None,
            store: Some(b"abcd".to_vec())
        }
    );
    s.store(t0, b"abcd".to_vec(), "a");
    let other = Cookies {
        req: &[("sid", "abcdXYZ")],
        res: &[],
    };
    assert_eq!(
        s.on_request(t0, &other, false, |_| true).server.as_deref(),
        Some("a"),
        "only the first 4 bytes are the key, as HAProxy's len 4"
    );
    assert_eq!(
        s.lookup(t0 + Duration::from_secs(31), b"abcd"),
        None,
        "expire 30s"
    );
}

#[test]
fn a_reload_keeps_the_entries() {
    let old = backend(OCTAVIA).expect("ok").expect("rules");
    let t0 = Instant::now();
    old.store(t0, b"k".to_vec(), "a");
    let new = backend(OCTAVIA).expect("ok").expect("rules");
    new.adopt(t0, &old);
    assert_eq!(new.lookup(t0, b"k").as_deref(), Some("a"));
}

#[test]
fn ip_tables_and_conditions_are_not_this_modules() {
    assert!(
        backend("    stick-table type ip size 10\n    stick on src\n")
            .expect("ok")
            .is_none()
    );
    let err = backend(
        "    stick-table type string size 10\n    acl x path /\n    stick on req.cook(a) if x\n",
    )
    .expect_err("refused");
    assert!(
        err.contains("t.cfg:") && err.contains("not supported"),
        "{err}"
    );
}

#[test]
fn tcp_mode_is_refused_not_silently_ignored() {
    let text = "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
                backend b\n    stick-table type string size 10\n    stick on req.cook(a)\n    server a 127.0.0.1:1\n";
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "t.cfg",
        text,
    }]);
    let err = SampleStick::from_proxy(loaded.config.backend("b").expect("b")).expect_err("refused");
    assert!(
        err.starts_with("t.cfg:8:") && err.contains("TCP mode"),
        "{err}"
    );
}
