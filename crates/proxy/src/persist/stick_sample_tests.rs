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
    fn var(&self, _: fulcrum_sample::Scope, _: &fulcrum_sample::VarName) -> Option<Value> {
        None
    }
    fn now_unix(&self) -> i64 {
        0
    }
    fn random(&self) -> u32 {
        0
    }
}

/// A condition in these tests: the name of its first named ACL (`holds` decides).
type C = String;

fn load(text: &str) -> fulcrum_config::model::Config {
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "t.cfg",
        text,
    }]);
    assert!(loaded.is_ok(), "{:?}", loaded.diagnostics);
    loaded.config
}

/// Backend `b`'s rules, each table a fresh store (made once per name).
fn rules_of(config: &fulcrum_config::model::Config) -> Result<Option<SampleStick<C>>, String> {
    let p = config.backend("b").expect("b");
    let made: std::cell::RefCell<Vec<Arc<StickStore>>> = Default::default();
    SampleStick::from_proxy(
        p,
        |name| {
            let name = name.unwrap_or("b");
            if let Some(s) = made.borrow().iter().find(|s| s.name == name) {
                return Ok(s.clone());
            }
            let def = config
                .proxies
                .iter()
                .find(|q| q.name == name)
                .and_then(|q| q.stick_table.as_ref())
                .ok_or("no table")?;
            let s = Arc::new(StickStore::new(name, def));
            made.borrow_mut().push(s.clone());
            Ok(s)
        },
        |c| match &c.any_of[0][0].acl {
            fulcrum_config::model::AclRef::Named(r) => Ok(r.name.clone()),
            _ => Err("anonymous".into()),
        },
    )
}

fn backend(body: &str) -> Result<Option<SampleStick<C>>, String> {
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         backend b\n{body}    server a 127.0.0.1:1\n    server c 127.0.0.1:2\n"
    );
    rules_of(&load(&text))
}

fn stuck(name: &str) -> Stuck {
    Stuck {
        name: name.into(),
        id: 1,
    }
}

fn all(_: &C) -> bool {
    true
}

const OCTAVIA: &str = "    stick-table type string len 64 size 10k\n    stick store-response res.cook(JSESSIONID)\n    stick match req.cook(JSESSIONID)\n";

#[test]
fn octavias_app_cookie_learns_from_the_response_and_matches_the_request() {
    let s = backend(OCTAVIA).expect("supported").expect("rules");
    let store = s.stores()[0].clone();
    let t0 = Instant::now();
    let first = Cookies {
        req: &[],
        res: &[("JSESSIONID", "abc")],
    };
    let got = s.on_request(t0, &first, false, name_if(|_| true), all);
    assert_eq!(
        (got.server, got.stores.len()),
        (None, 0),
        "no cookie yet: balance, nothing to store"
    );
    let keys = s.on_response(&first, all);
    assert_eq!(keys[0].1, b"abc".to_vec());
    SampleStick::<C>::store(t0, keys, &stuck("c"));
    let replay = Cookies {
        req: &[("other", "x"), ("JSESSIONID", "abc")],
        res: &[],
    };
    let got = s.on_request(t0, &replay, false, name_if(|_| true), all);
    assert_eq!(got.server.as_deref(), Some("c"));
    assert!(got.stores.is_empty(), "'stick match' stores nothing");
    // A server that may not take traffic: balance again; the answer re-sticks the cookie.
    let down = s.on_request(t0, &replay, false, name_if(|n| n != "c"), all);
    assert_eq!(down.server, None);
    let keys = s.on_response(
        &Cookies {
            req: &[],
            res: &[("JSESSIONID", "abc")],
        },
        all,
    );
    SampleStick::<C>::store(t0, keys, &stuck("a"));
    assert_eq!(
        store.lookup(t0, b"abc").map(|s| s.name).as_deref(),
        Some("a"),
        "a store overwrites"
    );
    // Persistence already chose (a `cookie`): the match rules are skipped.
    assert_eq!(
        s.on_request(t0, &replay, true, name_if(|_| true), all)
            .server,
        None
    );
}

#[test]
fn stick_on_matches_then_stores_and_keys_are_cut_to_len() {
    let s = backend(
        "    stick-table type string len 4 size 10 expire 30s\n    stick on req.cook(sid)\n",
    )
    .expect("supported")
    .expect("rules");
    let store = s.stores()[0].clone();
    let t0 = Instant::now();
    let env = Cookies {
        req: &[("sid", "abcdefgh")],
        res: &[],
    };
    let got = s.on_request(t0, &env, false, name_if(|_| true), all);
    assert_eq!(got.server, None);
    assert_eq!(got.keys(), vec![&b"abcd"[..]]);
    SampleStick::<C>::store(t0, got.stores, &stuck("a"));
    let other = Cookies {
        req: &[("sid", "abcdXYZ")],
        res: &[],
    };
    assert_eq!(
        s.on_request(t0, &other, false, name_if(|_| true), all)
            .server
            .as_deref(),
        Some("a"),
        "only the first 4 bytes are the key, as HAProxy's len 4"
    );
    assert_eq!(
        store.lookup(t0 + Duration::from_secs(31), b"abcd"),
        None,
        "expire 30s"
    );
}

#[test]
fn a_reload_keeps_the_entries() {
    let old = backend(OCTAVIA).expect("ok").expect("rules");
    let t0 = Instant::now();
    old.stores()[0].store(t0, b"k".to_vec(), stuck("a"));
    let new = backend(OCTAVIA).expect("ok").expect("rules");
    new.stores()[0].adopt(t0, &old.stores()[0]);
    assert_eq!(
        new.stores()[0].lookup(t0, b"k").map(|s| s.name).as_deref(),
        Some("a")
    );
}

#[test]
fn conditions_and_one_store_per_table_as_haproxy() {
    let s = backend(
        "    stick-table type string size 10\n    acl no path /\n    acl yes path /\n\
         \x20   stick on req.cook(a) if no\n    stick on req.cook(b) if yes\n    stick on req.cook(c)\n",
    )
    .expect("ok")
    .expect("rules");
    let t0 = Instant::now();
    let env = Cookies {
        req: &[("a", "A"), ("b", "B"), ("c", "C")],
        res: &[],
    };
    // the first rule's condition fails; the second keeps its key; the third's table has one
    let got = s.on_request(t0, &env, false, name_if(|_| true), |c: &C| c == "yes");
    assert_eq!(got.keys(), vec![&b"B"[..]]);
    // a stick rule whose sample is missing lets the next one decide
    let env = Cookies {
        req: &[("c", "C")],
        res: &[],
    };
    let got = s.on_request(t0, &env, false, name_if(|_| true), |c: &C| c == "yes");
    assert_eq!(got.keys(), vec![&b"C"[..]]);
}

#[test]
fn rules_naming_another_table_share_it() {
    let text = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
                backend t\n    stick-table type ip size 10\n\
                backend b\n    stick on src table t\n    stick match req.cook(x) table t\n    server a 127.0.0.1:1\n";
    let config = load(text);
    let s = rules_of(&config).expect("supported").expect("rules");
    assert_eq!(s.stores().len(), 1);
    assert_eq!(s.stores()[0].name, "t");
}

#[test]
fn ip_tables_with_plain_stick_on_src_are_not_this_modules() {
    assert!(
        backend("    stick-table type ip size 10\n    stick on src\n")
            .expect("ok")
            .is_none()
    );
}

#[test]
fn store_response_in_tcp_mode_needs_response_rules() {
    let text = "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
                backend b\n    stick-table type string size 10\n    stick store-response req.payload(0,4)\n    server a 127.0.0.1:1\n";
    let err = rules_of(&load(text)).expect_err("refused");
    assert!(
        err.starts_with("t.cfg:8:") && err.contains("TCP mode"),
        "{err}"
    );
    let on = text.replace("store-response", "on");
    assert!(rules_of(&load(&on)).expect("runs").is_some());
    // with response rules, which read the server's bytes
    let read = text.replace(
        "    server a",
        "    tcp-response inspect-delay 1s\n    tcp-response content accept if { res.len gt 0 }\n    server a",
    );
    assert!(rules_of(&load(&read)).expect("runs").is_some());
}

/// A `usable` that finds the server by its stored name only, when `ok` says it is usable.
fn name_if(ok: impl Fn(&str) -> bool) -> impl Fn(&Stuck) -> Option<String> {
    move |s| ok(&s.name).then(|| s.name.clone())
}
