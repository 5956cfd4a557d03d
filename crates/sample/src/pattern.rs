//! ACL patterns and HAProxy's match methods (`-m found bool int ip bin len str sub reg beg
//! end dir dom`): a pattern set parsed once, matched against each sample value.
//!
//! A set is kept behind a lock by its owner so the runtime socket's `add acl`/`del acl`/
//! `clear acl` change what live traffic sees at once (the set itself is plain data).

use crate::index::{Index, Kind, Uid};
use crate::value::{Type, Value};

/// HAProxy's match methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Found,
    Bool,
    Int,
    Ip,
    Bin,
    Len,
    Str,
    Sub,
    Reg,
    Beg,
    End,
    Dir,
    Dom,
}

impl Method {
    pub const NAMES: &'static [&'static str] = &[
        "found", "bool", "int", "ip", "bin", "len", "str", "sub", "reg", "beg", "end", "dir", "dom",
    ];

    /// HAProxy's name of the method (`get acl`'s `type=`).
    pub fn name(self) -> &'static str {
        Method::NAMES
            .iter()
            .copied()
            .find(|n| Method::parse(n) == Some(self))
            .unwrap_or("str")
    }

    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "found" => Method::Found,
            "bool" => Method::Bool,
            "int" => Method::Int,
            "ip" => Method::Ip,
            "bin" => Method::Bin,
            "len" => Method::Len,
            "str" => Method::Str,
            "sub" => Method::Sub,
            "reg" => Method::Reg,
            "beg" => Method::Beg,
            "end" => Method::End,
            "dir" => Method::Dir,
            "dom" => Method::Dom,
            _ => return None,
        })
    }

    /// The method HAProxy uses when none is written: by the sample's output type.
    pub fn default_for(ty: Type) -> Option<Method> {
        Some(match ty {
            Type::Bool => Method::Bool,
            Type::Sint => Method::Int,
            Type::Addr | Type::Ipv4 | Type::Ipv6 => Method::Ip,
            Type::Str | Type::Meth => Method::Str,
            Type::Bin => Method::Bin,
            Type::Any => return None,
        })
    }

    /// Whether the method takes patterns (`found` and `bool` take none).
    pub fn takes_patterns(self) -> bool {
        !matches!(self, Method::Found | Method::Bool)
    }
}

/// One ACL's patterns with their method and `-i`, indexed as HAProxy indexes them.
#[derive(Debug, Clone)]
pub struct Patterns {
    pub method: Method,
    pub icase: bool,
    index: Index,
}

impl Method {
    fn kind(self) -> Kind {
        match self {
            Method::Int => Kind::Int,
            Method::Ip => Kind::Ip,
            Method::Bin => Kind::Bin,
            Method::Len => Kind::Len,
            Method::Sub => Kind::Sub,
            Method::Reg => Kind::Reg,
            Method::Beg => Kind::Beg,
            Method::End => Kind::End,
            Method::Dir => Kind::Dir,
            Method::Dom => Kind::Dom,
            // `found` and `bool` take no pattern (refused before the index sees one)
            Method::Found | Method::Bool | Method::Str => Kind::Str,
        }
    }
}

impl Patterns {
    pub fn new(method: Method, icase: bool) -> Patterns {
        Patterns {
            method,
            icase,
            index: Index::new(method.kind(), icase),
        }
    }

    /// Parses the words after the flags. Integer and length patterns may be preceded by an
    /// operator word (`eq ge gt le lt`), which applies to the next value only (the pair is
    /// one pattern, written `OP VALUE`).
    pub fn parse(method: Method, icase: bool, words: &[String]) -> Result<Patterns, String> {
        let mut p = Patterns::new(method, icase);
        let mut i = 0;
        while i < words.len() {
            let w = words[i].as_str();
            let ranged = matches!(method, Method::Int | Method::Len);
            if ranged && ["eq", "ge", "gt", "le", "lt"].contains(&w) {
                let v = words
                    .get(i + 1)
                    .ok_or_else(|| format!("operator '{w}' needs a value after it"))?;
                p.add(&format!("{w} {v}"))?;
                i += 2;
                continue;
            }
            p.add(w)?;
            i += 1;
        }
        Ok(p)
    }

    /// Adds one pattern after the others (a word of the `acl` line, a line of a `-f` file).
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        let uid = self.index.last_uid().map_or(1, |u| u + 1);
        self.insert(uid, text)
    }

    /// Adds pattern `uid` (a reference's entry id: ids ascend in the reference's order).
    pub fn insert(&mut self, uid: Uid, text: &str) -> Result<(), String> {
        if !self.method.takes_patterns() {
            return Err(format!(
                "match method '{}' takes no pattern, found '{text}'",
                self.method.name()
            ));
        }
        self.index.insert(uid, text, b"")
    }

    /// Removes every pattern written `text` (`del acl`); whether one was there.
    pub fn remove(&mut self, text: &str) -> bool {
        let uids = self.index.uids_of(text);
        for u in &uids {
            self.index.remove(*u);
        }
        !uids.is_empty()
    }

    /// Removes pattern `uid`; whether it was there.
    pub fn remove_uid(&mut self, uid: Uid) -> bool {
        self.index.remove(uid)
    }

    pub fn clear(&mut self) {
        self.index.clear();
    }

    /// The patterns as written, in order (`show acl`).
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.index.entries().map(|(_, t, _)| t)
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Whether the sample `v` matches: HAProxy's `pat_match_*` for this set's method.
    pub fn matches(&self, v: &Value) -> bool {
        match self.method {
            Method::Found => true,
            Method::Bool => v.truth(),
            _ => self.index.find(v).is_some(),
        }
    }

    /// [`Patterns::matches`] of a string sample lent by its owner.
    pub fn matches_str(&self, s: &[u8]) -> bool {
        match self.method {
            Method::Found => true,
            Method::Bool => Value::Str(s.to_vec()).truth(),
            _ => self.index.find_str(s).is_some(),
        }
    }

    /// The text of the pattern `v` matches (the runtime socket's `get acl`): for a list the
    /// first in order, for a tree (`str`, `beg`, `ip` without `-i`) the one its lookup finds.
    pub fn find(&self, v: &Value) -> Option<&str> {
        self.find_entry(v).map(|(t, _)| t)
    }

    /// [`Patterns::find`], and whether HAProxy finds that pattern in a tree (`idx=`).
    pub fn find_entry(&self, v: &Value) -> Option<(&str, bool)> {
        match self.method {
            Method::Found | Method::Bool => None,
            _ => {
                let uid = self.index.find(v)?;
                let (t, _) = self.index.get(uid)?;
                Some((t, self.index.in_tree(uid)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(m: &str, icase: bool, words: &[&str]) -> Patterns {
        let words: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        Patterns::parse(Method::parse(m).expect("method"), icase, &words).expect("patterns")
    }

    #[test]
    fn string_methods() {
        let s = Value::str("/api/v1/Items.json");
        assert!(p("beg", false, &["/api/"]).matches(&s));
        assert!(p("end", false, &[".json"]).matches(&s));
        assert!(p("sub", false, &["v1"]).matches(&s));
        assert!(!p("sub", false, &["items"]).matches(&s));
        assert!(
            p("sub", true, &["ITEMS"]).matches(&s),
            "-i folds both sides"
        );
        assert!(p("dir", false, &["v1"]).matches(&s));
        assert!(!p("dir", false, &["v"]).matches(&s));
        assert!(p("reg", false, &["^/api/v[0-9]+/"]).matches(&s));
        assert!(p("reg", true, &["items\\.JSON$"]).matches(&s));
        assert!(p("len", false, &["18"]).matches(&s));
        assert!(p("str", false, &["x", "/api/v1/Items.json"]).matches(&s));
        let host = Value::str("www.example.com:8080");
        assert!(p("dom", false, &["example"]).matches(&host));
        assert!(p("dom", false, &["www.example.com"]).matches(&host));
        assert!(!p("dom", false, &["exam"]).matches(&host));
    }

    #[test]
    fn integers_with_ranges_and_operators() {
        let v = Value::Sint(1024);
        assert!(p("int", false, &["1024"]).matches(&v));
        assert!(p("int", false, &["1000:2000"]).matches(&v));
        assert!(p("int", false, &[":1024"]).matches(&v));
        assert!(!p("int", false, &["1025:"]).matches(&v));
        assert!(p("int", false, &["ge", "1024"]).matches(&v));
        assert!(!p("int", false, &["gt", "1024"]).matches(&v));
        assert!(p("int", false, &["lt", "0", "1024"]).matches(&v));
        assert!(p("int", false, &["8080"]).matches(&Value::str("8080")));
        let words = vec!["abc".to_string()];
        assert!(Patterns::parse(Method::Int, false, &words).is_err());
    }

    #[test]
    fn addresses_and_the_rest() {
        let v4 = Value::Ipv4("10.1.2.3".parse().expect("v4"));
        assert!(p("ip", false, &["10.0.0.0/8"]).matches(&v4));
        assert!(p("ip", false, &["10.1.2.0/255.255.255.0"]).matches(&v4));
        assert!(!p("ip", false, &["192.168.0.0/16", "10.1.2.4"]).matches(&v4));
        assert!(p("ip", false, &["10.1.2.3"]).matches(&Value::str("10.1.2.3")));
        let mapped = Value::Ipv6("::ffff:10.1.2.3".parse().expect("v6"));
        assert!(p("ip", false, &["10.0.0.0/8"]).matches(&mapped));
        assert!(p("ip", false, &["::1"]).matches(&Value::Ipv6("::1".parse().expect("v6"))));
        let words = vec!["example.com".to_string()];
        assert!(Patterns::parse(Method::Ip, false, &words).is_err());
        assert!(p("found", false, &[]).matches(&Value::str("")));
        assert!(p("bool", false, &[]).matches(&Value::Sint(2)));
        assert!(!p("bool", false, &[]).matches(&Value::Sint(0)));
        assert!(p("bin", false, &["4142"]).matches(&Value::str("AB")));
    }

    #[test]
    fn runtime_changes() {
        let mut s = p("str", false, &["a"]);
        assert!(!s.matches(&Value::str("b")));
        s.add("b").expect("add");
        assert!(s.matches(&Value::str("b")));
        assert!(s.remove("b"));
        assert!(!s.matches(&Value::str("b")));
        assert_eq!(s.texts().collect::<Vec<_>>(), vec!["a"]);
        s.clear();
        assert!(s.is_empty());
    }
}
