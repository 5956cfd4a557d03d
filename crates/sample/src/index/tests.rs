//! Each method's rule, with the answers haproxy 2.6.12 gave for the same entries (measured
//! through `http-request return ... lf-string "%[...,map_*(FILE,none)]"`; the side-by-side
//! test is `tests/maps_vs_haproxy.rs`).

use super::*;

fn index(kind: Kind, icase: bool, keys: &[&str]) -> Index {
    let mut ix = Index::new(kind, icase);
    for (i, k) in keys.iter().enumerate() {
        ix.insert(i as Uid + 1, k, k.as_bytes()).expect("valid key");
    }
    ix
}

/// The text of the entry `sample` finds.
fn hit<'a>(ix: &'a Index, sample: &Value) -> Option<&'a str> {
    ix.get(ix.find(sample)?).map(|(t, _)| t)
}

fn s(x: &str) -> Value {
    Value::str(x)
}

fn ip(x: &str) -> Value {
    match x.parse::<IpAddr>().expect("address") {
        IpAddr::V4(a) => Value::Ipv4(a),
        IpAddr::V6(a) => Value::Ipv6(a),
    }
}

#[test]
fn ip_longest_prefix_then_v6_then_the_list() {
    let ix = index(
        Kind::Ip,
        false,
        &[
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.0/24",
            "10.1.2.0/24", // a duplicate: the first stays the answer
            "0.0.0.0/0",
            "192.168.0.0/255.255.0.255", // non-contiguous: listed, tried after the trees
            "192.168.1.1",
            "::ffff:10.1.2.0/120",
            "2001:db8::/32",
            "2001:db8:1::/48",
        ],
    );
    let uid = |x: &str| ix.find(&ip(x));
    assert_eq!(hit(&ix, &ip("10.1.2.3")), Some("10.1.2.0/24"));
    assert_eq!(uid("10.1.2.3"), Some(3), "the first of two equal networks");
    assert_eq!(hit(&ix, &ip("10.1.3.3")), Some("10.1.0.0/16"));
    assert_eq!(hit(&ix, &ip("10.2.3.3")), Some("10.0.0.0/8"));
    assert_eq!(hit(&ix, &ip("192.168.1.1")), Some("192.168.1.1"));
    // 0.0.0.0/0 is in the tree, which is tried before the list
    assert_eq!(hit(&ix, &ip("192.168.7.0")), Some("0.0.0.0/0"));
    // an IPv6 sample: the IPv6 networks first, then its IPv4 forms in the IPv4 networks
    assert_eq!(
        hit(&ix, &ip("::ffff:10.1.2.3")),
        Some("::ffff:10.1.2.0/120")
    );
    assert_eq!(hit(&ix, &ip("::ffff:10.1.3.3")), Some("10.1.0.0/16"));
    assert_eq!(hit(&ix, &ip("::10.1.2.3")), Some("10.1.2.0/24"));
    assert_eq!(hit(&ix, &ip("2002:0a01:0203::1")), Some("10.1.2.0/24"));
    assert_eq!(hit(&ix, &ip("2001:db8:1::5")), Some("2001:db8:1::/48"));
    assert_eq!(hit(&ix, &ip("2001:db8:2::5")), Some("2001:db8::/32"));
    assert_eq!(hit(&ix, &ip("2001:db9::5")), None);
    // a string sample is cast to an address
    assert_eq!(hit(&ix, &s("10.1.2.3")), Some("10.1.2.0/24"));
    assert_eq!(hit(&ix, &s("not-an-address")), None);
}

#[test]
fn ip_list_and_the_v6_tree_for_v4_samples() {
    let ix = index(
        Kind::Ip,
        false,
        &["192.168.0.0/255.255.0.255", "::ffff:10.0.0.0/104"],
    );
    assert_eq!(
        hit(&ix, &ip("192.168.7.0")),
        Some("192.168.0.0/255.255.0.255")
    );
    assert_eq!(hit(&ix, &ip("192.168.7.1")), None);
    assert_eq!(
        hit(&ix, &ip("::ffff:192.168.9.0")),
        Some("192.168.0.0/255.255.0.255")
    );
    assert_eq!(hit(&ix, &ip("10.9.9.9")), Some("::ffff:10.0.0.0/104"));
    assert!(Index::new(Kind::Ip, false)
        .insert(1, "example.com", b"")
        .is_err());
    assert!(Index::new(Kind::Ip, false)
        .insert(1, "10.0.0.0/33", b"")
        .is_err());
}

#[test]
fn beg_longest_prefix_or_first_with_icase() {
    let keys = ["/api", "/api/v1", "/", "/api/v1", "/static/"];
    let ix = index(Kind::Beg, false, &keys);
    assert_eq!(
        ix.find(&s("/api/v1/x")),
        Some(2),
        "longest, the first of equal keys"
    );
    assert_eq!(hit(&ix, &s("/api/v2")), Some("/api"));
    assert_eq!(hit(&ix, &s("/static/x")), Some("/static/"));
    assert_eq!(hit(&ix, &s("/x")), Some("/"));
    assert_eq!(hit(&ix, &s("x")), None);
    // `-i`: HAProxy lists the patterns, so the first in order that begins the sample wins
    let ix = index(Kind::Beg, true, &["/API", "/api/V1", "/"]);
    assert_eq!(hit(&ix, &s("/Api/v1/x")), Some("/API"));
    // the tree walk finds prefixes past keys that sort between them and the sample
    let ix = index(
        Kind::Beg,
        false,
        &["a", "ab", "abd", "abca", "abcb", "abcc"],
    );
    assert_eq!(hit(&ix, &s("abcd")), Some("ab"));
    assert_eq!(hit(&ix, &s("abcb1")), Some("abcb"));
    let ix = index(Kind::Beg, false, &["", "b"]);
    assert_eq!(
        hit(&ix, &s("a")),
        Some(""),
        "an empty key begins everything"
    );
}

#[test]
fn str_int_exact_first_of_duplicates() {
    let ix = index(Kind::Str, false, &["a", "b", "a"]);
    assert_eq!(ix.find(&s("a")), Some(1));
    assert_eq!(ix.find(&s("A")), None);
    let ix = index(Kind::Str, true, &["A", "a"]);
    assert_eq!(ix.find(&s("a")), Some(1));
    // int: single values and ranges, the first in order wins
    let ix = index(Kind::Int, false, &["5", "1:10", "5", "20:"]);
    let uid = |v: Value| ix.find(&v);
    assert_eq!(uid(Value::Sint(5)), Some(1));
    assert_eq!(uid(Value::Sint(7)), Some(2));
    assert_eq!(uid(Value::Sint(25)), Some(4));
    assert_eq!(uid(Value::Sint(15)), None);
    assert_eq!(
        uid(s("10:20")),
        Some(2),
        "a string is read as HAProxy's read_int64"
    );
    assert_eq!(uid(s("-3")), None);
    let ix = index(Kind::Int, false, &["1:10", "5"]);
    assert_eq!(ix.find(&Value::Sint(5)), Some(1), "a range before a value");
    assert!(Index::new(Kind::Int, false).insert(1, "x", b"").is_err());
}

#[test]
fn end_dom_dir_sub_reg_first_in_order() {
    let ix = index(Kind::End, false, &[".com", "example.com"]);
    assert_eq!(hit(&ix, &s("www.example.com")), Some(".com"));
    let ix = index(Kind::End, false, &["example.com", ".com"]);
    assert_eq!(hit(&ix, &s("www.example.com")), Some("example.com"));
    assert_eq!(hit(&ix, &s("a.org")), None);
    // the bytes tried before a hash (`edges`): keys' first and last, folded under `-i`
    let ix = index(Kind::End, true, &[".CSS", ".Js"]);
    assert_eq!(hit(&ix, &s("/A.JS")), Some(".Js"));
    assert_eq!(hit(&ix, &s("/a.jsx")), None);
    let ix = index(Kind::End, false, &["", "b"]);
    assert_eq!(hit(&ix, &s("a")), Some(""), "an empty key ends everything");
    let ix = index(Kind::Dom, false, &["example.com", "www.example.com", "com"]);
    assert_eq!(hit(&ix, &s("www.example.com")), Some("example.com"));
    assert_eq!(hit(&ix, &s("foo.example.com")), Some("example.com"));
    assert_eq!(hit(&ix, &s("a.com")), Some("com"));
    assert_eq!(hit(&ix, &s("xexample.com")), Some("com"));
    assert_eq!(hit(&ix, &s("www.example.co")), None);
    // delimiters around a pattern do not count; `:` `/` `?` delimit too
    let ix = index(Kind::Dom, false, &[".example.com."]);
    assert_eq!(
        hit(&ix, &s("http://example.com:80/x")),
        Some(".example.com.")
    );
    let ix = index(Kind::Dir, false, &["v1", "api/v1"]);
    assert_eq!(hit(&ix, &s("/api/v1/items")), Some("v1"));
    assert_eq!(hit(&ix, &s("/api/v10/items")), None);
    assert_eq!(hit(&ix, &s("/x/api/v1?q")), Some("v1"));
    let ix = index(Kind::Dir, true, &["API/V1"]);
    assert_eq!(hit(&ix, &s("/x/api/v1?q")), Some("API/V1"));
    let ix = index(Kind::Sub, false, &["bc", "abc"]);
    assert_eq!(hit(&ix, &s("zabc")), Some("bc"));
    let ix = index(Kind::Reg, false, &["^/a.*", "^/ab"]);
    assert_eq!(hit(&ix, &s("/ab")), Some("^/a.*"));
}

#[test]
fn removals_and_changes_keep_the_rule() {
    let mut ix = index(
        Kind::Ip,
        false,
        &["10.0.0.0/8", "10.1.0.0/16", "10.1.0.0/16"],
    );
    assert_eq!(ix.find(&ip("10.1.1.1")), Some(2));
    assert!(ix.remove(2));
    assert_eq!(ix.find(&ip("10.1.1.1")), Some(3), "the other equal network");
    assert!(ix.remove(3));
    assert_eq!(ix.find(&ip("10.1.1.1")), Some(1));
    assert!(!ix.remove(3));
    ix.insert(9, "10.1.1.0/24", b"new").expect("add");
    assert_eq!(ix.find(&ip("10.1.1.1")), Some(9));
    assert!(ix.set_value(9, b"changed"));
    assert_eq!(ix.get(9), Some(("10.1.1.0/24", &b"changed"[..])));
    let mut ix = index(Kind::Dom, false, &["example.com", "b.example.com"]);
    assert!(ix.remove(1));
    assert_eq!(ix.find(&s("a.example.com")), None);
    assert_eq!(ix.find(&s("a.b.example.com")), Some(2));
    let mut ix = index(Kind::Beg, false, &["/a", "/a/b"]);
    assert!(ix.remove(2));
    assert_eq!(ix.find(&s("/a/b/c")), Some(1));
    ix.insert(3, "/a/c", b"").expect("add");
    assert_eq!(
        ix.find(&s("/a/c/d")),
        Some(3),
        "a length removed and added again"
    );
    assert!(ix.remove(1));
    assert_eq!(ix.find(&s("/a/b")), None);
    ix.clear();
    assert!(ix.is_empty());
    assert_eq!(ix.find(&s("/a")), None);
}

#[test]
fn entries_come_in_id_order_whatever_the_order_they_were_added() {
    // (the entries are hashed by id: their order is kept beside them)
    let mut ix = Index::new(Kind::Str, false);
    for (uid, key) in [(5, "b"), (3, "a"), (9, "b"), (7, "c")] {
        ix.insert(uid, key, key.as_bytes()).expect("valid key");
    }
    let ids: Vec<Uid> = ix.entries().map(|(u, ..)| u).collect();
    assert_eq!(ids, [3, 5, 7, 9]);
    assert_eq!(ix.uids_of("b"), [5, 9]);
    assert_eq!(ix.last_uid(), Some(9));
    assert_eq!(ix.find(&s("b")), Some(5), "the first added of a key");
    assert!(ix.remove(9));
    assert!(!ix.remove(9));
    assert_eq!(ix.last_uid(), Some(7));
    assert_eq!(ix.len(), 3);
    assert!(ix.set_value(3, b"new"));
    assert_eq!(ix.get(3), Some(("a", &b"new"[..])));
    assert_eq!(ix.entries().map(|(u, ..)| u).collect::<Vec<_>>(), [3, 5, 7]);
}
