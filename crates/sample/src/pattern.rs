//! ACL patterns and HAProxy's match methods (`-m found bool int ip bin len str sub reg beg
//! end dir dom`): a pattern set parsed once, matched against each sample value.
//!
//! A set is kept behind a lock by its owner so the runtime socket's `add acl`/`del acl`/
//! `clear acl` change what live traffic sees at once (the set itself is plain data).

use crate::cast::cast;
use crate::map::{in_net, parse_net};
use crate::value::{Type, Value};
use regex::bytes::{Regex, RegexBuilder};
use std::net::IpAddr;

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

#[derive(Debug, Clone)]
enum Pat {
    Bytes(Vec<u8>),
    Range(i64, i64),
    Net(IpAddr, u8),
    Reg(Regex),
}

/// One ACL's patterns with their method and `-i`.
#[derive(Debug, Clone)]
pub struct Patterns {
    pub method: Method,
    pub icase: bool,
    /// The patterns as written (for `show acl`), in order, beside their compiled form.
    pats: Vec<(String, Pat)>,
}

fn int(s: &str) -> Result<i64, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not an integer (expected N, N:M, :M or N:)"))
}

fn range(s: &str) -> Result<(i64, i64), String> {
    match s.split_once(':') {
        Some((a, b)) => Ok((
            if a.is_empty() { i64::MIN } else { int(a)? },
            if b.is_empty() { i64::MAX } else { int(b)? },
        )),
        None => int(s).map(|n| (n, n)),
    }
}

impl Patterns {
    pub fn new(method: Method, icase: bool) -> Patterns {
        Patterns {
            method,
            icase,
            pats: Vec::new(),
        }
    }

    /// Parses the words after the flags. Integer and length patterns may be preceded by an
    /// operator word (`eq ge gt le lt`), which applies to the next value only.
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
                let n = int(v)?;
                let r = match w {
                    "ge" => (n, i64::MAX),
                    "gt" => (n.saturating_add(1), i64::MAX),
                    "le" => (i64::MIN, n),
                    "lt" => (i64::MIN, n.saturating_sub(1)),
                    _ => (n, n),
                };
                p.pats.push((format!("{w} {v}"), Pat::Range(r.0, r.1)));
                i += 2;
                continue;
            }
            p.add(w)?;
            i += 1;
        }
        Ok(p)
    }

    /// Adds one pattern (a word of the `acl` line, a line of a `-f` file, `add acl`).
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        let pat = match self.method {
            Method::Found | Method::Bool => {
                return Err(format!(
                    "match method '{}' takes no pattern, found '{text}'",
                    if self.method == Method::Found {
                        "found"
                    } else {
                        "bool"
                    }
                ))
            }
            Method::Int | Method::Len => {
                let (a, b) = range(text)?;
                Pat::Range(a, b)
            }
            Method::Ip => {
                let (net, len) = parse_net(text).ok_or_else(|| {
                    format!("'{text}' is not an IP address or network (fulcrum does not resolve host names in ACL patterns)")
                })?;
                Pat::Net(net, len)
            }
            Method::Bin => Pat::Bytes(
                crate::conv::unhex(text.as_bytes())
                    .ok_or_else(|| format!("'{text}' is not a hexadecimal string"))?,
            ),
            Method::Reg => Pat::Reg(
                RegexBuilder::new(text)
                    .case_insensitive(self.icase)
                    .build()
                    .map_err(|e| format!("invalid regular expression '{text}': {e}"))?,
            ),
            _ if self.icase => Pat::Bytes(text.to_ascii_lowercase().into_bytes()),
            _ => Pat::Bytes(text.as_bytes().to_vec()),
        };
        self.pats.push((text.to_string(), pat));
        Ok(())
    }

    /// Removes every pattern written `text` (`del acl`); whether one was there.
    pub fn remove(&mut self, text: &str) -> bool {
        let before = self.pats.len();
        self.pats.retain(|(t, _)| t != text);
        before != self.pats.len()
    }

    pub fn clear(&mut self) {
        self.pats.clear();
    }

    /// The patterns as written, in order (`show acl`).
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.pats.iter().map(|(t, _)| t.as_str())
    }

    pub fn len(&self) -> usize {
        self.pats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pats.is_empty()
    }

    /// Whether the sample `v` matches: HAProxy's `pat_match_*` for this set's method.
    pub fn matches(&self, v: &Value) -> bool {
        match self.method {
            Method::Found => true,
            Method::Bool => v.truth(),
            _ => self.find(v).is_some(),
        }
    }

    /// The text of the first pattern `v` matches (the runtime socket's `get acl`).
    pub fn find(&self, v: &Value) -> Option<&str> {
        let hit = |f: &dyn Fn(&Pat) -> bool| {
            self.pats
                .iter()
                .find(|(_, p)| f(p))
                .map(|(t, _)| t.as_str())
        };
        match self.method {
            Method::Found | Method::Bool => None,
            Method::Int => match v {
                Value::Sint(n) => {
                    let n = *n;
                    hit(&|p| matches!(p, Pat::Range(a, b) if (*a..=*b).contains(&n)))
                }
                _ => match cast(v.clone(), Type::Sint) {
                    Some(Value::Sint(n)) => {
                        hit(&|p| matches!(p, Pat::Range(a, b) if (*a..=*b).contains(&n)))
                    }
                    _ => None,
                },
            },
            Method::Len => {
                let n = bytes_of(v).len() as i64;
                hit(&|p| matches!(p, Pat::Range(a, b) if (*a..=*b).contains(&n)))
            }
            Method::Ip => {
                let ip = match v {
                    Value::Ipv4(a) => IpAddr::V4(*a),
                    Value::Ipv6(a) => IpAddr::V6(*a),
                    _ => match cast(v.clone(), Type::Addr) {
                        Some(Value::Ipv4(a)) => IpAddr::V4(a),
                        Some(Value::Ipv6(a)) => IpAddr::V6(a),
                        _ => return None,
                    },
                };
                hit(&|p| matches!(p, Pat::Net(n, l) if in_net(ip, *n, *l)))
            }
            Method::Bin => {
                let b = bytes_of(v);
                hit(&|p| matches!(p, Pat::Bytes(x) if x[..] == b[..]))
            }
            Method::Reg => {
                let b = bytes_of(v);
                hit(&|p| matches!(p, Pat::Reg(r) if r.is_match(&b)))
            }
            m => {
                let mut b = bytes_of(v);
                if self.icase {
                    b.to_mut().make_ascii_lowercase();
                }
                hit(&|p| match p {
                    Pat::Bytes(x) => match_str(m, &b, x),
                    _ => false,
                })
            }
        }
    }
}

/// The sample's bytes: binary and strings as they are (borrowed: no copy per match),
/// everything else by its string cast.
fn bytes_of(v: &Value) -> std::borrow::Cow<'_, [u8]> {
    match v {
        Value::Bin(b) | Value::Str(b) | Value::Meth(b) => std::borrow::Cow::Borrowed(b),
        other => std::borrow::Cow::Owned(other.to_bytes()),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// `dom`/`dir`: the pattern stands in the sample between delimiters (or the ends).
fn delimited(hay: &[u8], pat: &[u8], delims: &[u8]) -> bool {
    if pat.is_empty() || pat.len() > hay.len() {
        return false;
    }
    (0..=hay.len() - pat.len()).any(|s| {
        let e = s + pat.len();
        &hay[s..e] == pat
            && (s == 0 || delims.contains(&hay[s - 1]))
            && (e == hay.len() || delims.contains(&hay[e]))
    })
}

fn match_str(m: Method, v: &[u8], p: &[u8]) -> bool {
    match m {
        Method::Str => v == p,
        Method::Beg => v.starts_with(p),
        Method::End => v.ends_with(p),
        Method::Sub => find(v, p),
        Method::Dom => delimited(v, p, b"/?.:"),
        Method::Dir => delimited(v, p, b"/?"),
        _ => false,
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
