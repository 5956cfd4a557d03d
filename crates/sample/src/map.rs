//! Map files (`map_*` converters): `key value` lines, `#` comments (a `#` as the line's first
//! byte), values checked when the output is an integer or an address, matched as the converter's
//! name says (`str beg sub dir dom end reg regm ip int`), indexed as HAProxy indexes them
//! ([`crate::index`]: exact keys hashed, longest prefix for `beg` and `ip`, first in order
//! for the rest). Shared behind a lock so the runtime socket's `add map`/`del map`/`set map`/
//! `clear map` change what live traffic sees at once.

use crate::index::{text, Index, Kind, Uid};
use crate::value::Value;

/// HAProxy 2.6's check of a map file's values when the converter's output is an integer
/// (`map_*_int`: an optional sign and digits, empty for 0) or an address (`map_*_ip`: IPv4 or
/// IPv6): the first value that does not parse and its line, in HAProxy's words.
pub fn check_values(text: &str, out: crate::Type, file: &str) -> Result<(), String> {
    for (line, _, value) in crate::registry::numbered_lines(text, true) {
        let v = value.unwrap_or_default();
        if !value_parses(&v, out) {
            return Err(format!(
                "unable to parse '{v}' at line {line} of file '{file}'"
            ));
        }
    }
    Ok(())
}

/// Whether `v` is a value of type `out` as HAProxy's `map_parse_int`/`map_parse_ip` read it
/// (other outputs take any text).
pub fn value_parses(v: &str, out: crate::Type) -> bool {
    match out {
        crate::Type::Sint => {
            let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
            digits.bytes().all(|b| b.is_ascii_digit())
        }
        crate::Type::Addr => dotted_quad(v) || v.parse::<std::net::Ipv6Addr>().is_ok(),
        _ => true,
    }
}

/// Four decimal numbers up to 255 separated by dots, leading zeros allowed (HAProxy's
/// `buf2ip` takes `010.0.0.1`).
fn dotted_quad(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u32>().is_ok_and(|n| n <= 255)
        })
}

#[cfg(test)]
mod value_tests {
    use super::*;
    use crate::Type;

    #[test]
    fn values_are_checked_as_haproxy_reads_them() {
        for ok in ["1", "+5", "-3", "", "0012"] {
            assert!(value_parses(ok, Type::Sint), "{ok}");
        }
        for bad in ["x2", "1.5", "0x10", "comment"] {
            assert!(!value_parses(bad, Type::Sint), "{bad}");
        }
        for ok in ["10.0.0.1", "010.0.0.1", "::1", "2001:db8::1"] {
            assert!(value_parses(ok, Type::Addr), "{ok}");
        }
        for bad in ["notip", "1.2.3", "1.2.3.4.5", "256.1.1.1", "7"] {
            assert!(!value_parses(bad, Type::Addr), "{bad}");
        }
        assert!(value_parses("anything", Type::Str));
        // An indented `#` line is an entry (key `#`), as haproxy reads it; a `#` first is a
        // comment; the line number counts every line.
        let text = "a 1\n# skipped x\n  # comment\n";
        assert_eq!(
            check_values(text, Type::Sint, "m.map"),
            Err("unable to parse 'comment' at line 3 of file 'm.map'".to_string())
        );
        assert_eq!(
            check_values("a 1\n#x y\n\nb -2\nc\n", Type::Sint, "m.map"),
            Ok(())
        );
    }
}

/// How a map matches its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Match {
    Str,
    Beg,
    Sub,
    Dir,
    Dom,
    End,
    Reg,
    Regm,
    Ip,
    Int,
}

impl Match {
    /// HAProxy's name of the match (`get map`'s `type=`).
    pub fn name(self) -> &'static str {
        match self {
            Match::Str => "str",
            Match::Beg => "beg",
            Match::Sub => "sub",
            Match::Dir => "dir",
            Match::Dom => "dom",
            Match::End => "end",
            Match::Reg => "reg",
            Match::Regm => "regm",
            Match::Ip => "ip",
            Match::Int => "int",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Match::Str => Kind::Str,
            Match::Beg => Kind::Beg,
            Match::Sub => Kind::Sub,
            Match::Dir => Kind::Dir,
            Match::Dom => Kind::Dom,
            Match::End => Kind::End,
            Match::Reg => Kind::Reg,
            Match::Regm => Kind::Regm,
            Match::Ip => Kind::Ip,
            Match::Int => Kind::Int,
        }
    }

    /// The match method of a `map_<match>[_<out>]` converter name (`map` alone is `str`).
    pub fn of_converter(name: &str) -> Option<Match> {
        let m = name.strip_prefix("map").unwrap_or(name);
        let m = m.strip_prefix('_').unwrap_or(m);
        let m = m.split('_').next().unwrap_or("");
        Some(match m {
            "" | "str" => Match::Str,
            "beg" => Match::Beg,
            "sub" => Match::Sub,
            "dir" => Match::Dir,
            "dom" => Match::Dom,
            "end" => Match::End,
            "reg" => Match::Reg,
            "regm" => Match::Regm,
            "ip" => Match::Ip,
            "int" => Match::Int,
            _ => return None,
        })
    }
}

/// One map file's entries, indexed for one match method.
#[derive(Debug, Clone)]
pub struct Map {
    pub how: Match,
    index: Index,
}

impl Map {
    pub fn new(how: Match) -> Map {
        Map {
            how,
            index: Index::new(how.kind(), false),
        }
    }

    /// Parses a map file's text; `Err((line, message))` on the first bad line.
    pub fn parse(how: Match, text: &str) -> Result<Map, (usize, String)> {
        let mut m = Map::new(how);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = match line.split_once(|c: char| c.is_ascii_whitespace()) {
                Some((k, v)) => (k, v.trim()),
                None => (line, ""),
            };
            m.add(key, value).map_err(|e| (i + 1, e))?;
        }
        Ok(m)
    }

    /// Adds an entry after the others.
    pub fn add(&mut self, key: &str, value: &str) -> Result<(), String> {
        let uid = self.index.last_uid().map_or(1, |u| u + 1);
        self.insert(uid, key, value)
    }

    /// Adds entry `uid` (a reference's entry id: ids ascend in the reference's order).
    pub fn insert(&mut self, uid: Uid, key: &str, value: &str) -> Result<(), String> {
        self.index.insert(uid, key, value.as_bytes())
    }

    /// Removes entry `uid` (`del map REF #ID`, or one of several with a key).
    pub fn remove_uid(&mut self, uid: Uid) -> bool {
        self.index.remove(uid)
    }

    /// Removes every entry with this key (`del map`); whether any was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let uids = self.index.uids_of(key);
        for u in &uids {
            self.index.remove(*u);
        }
        !uids.is_empty()
    }

    /// Sets entry `uid`'s value; whether it was there.
    pub fn set_uid(&mut self, uid: Uid, value: &str) -> bool {
        self.index.set_value(uid, value.as_bytes())
    }

    /// Sets the value of every entry with this key (`set map`); whether any was there.
    pub fn set(&mut self, key: &str, value: &str) -> bool {
        let uids = self.index.uids_of(key);
        for u in &uids {
            self.index.set_value(*u, value.as_bytes());
        }
        !uids.is_empty()
    }

    pub fn clear(&mut self) {
        self.index.clear();
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// `(key, value)` pairs in order (`show map`).
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.index.entries().map(|(_, k, v)| (k.as_bytes(), v))
    }

    /// The key of the entry `v` matches, its value as written (`regm`'s `\\N` unreplaced),
    /// and whether HAProxy finds it in a tree (`get map`'s `idx=`).
    pub fn lookup_entry(&self, v: &Value) -> Option<(Vec<u8>, Vec<u8>, bool)> {
        let (uid, _) = self.found(v)?;
        let (key, value) = self.index.get(uid)?;
        Some((
            key.as_bytes().to_vec(),
            value.to_vec(),
            self.index.in_tree(uid),
        ))
    }

    /// The value for `v`, by this map's match method.
    pub fn lookup(&self, v: &Value) -> Option<Vec<u8>> {
        self.found(v).map(|(_, value)| value)
    }

    /// [`Map::lookup`] lent where the map holds the value as written (every match method but
    /// `regm`, whose value is built from the captures): no copy per request.
    pub fn find_value(&self, v: &Value) -> Option<std::borrow::Cow<'_, [u8]>> {
        if self.how == Match::Regm {
            return self.found(v).map(|(_, value)| value.into());
        }
        let uid = self.index.find(v)?;
        self.index.get(uid).map(|(_, value)| value.into())
    }

    fn found(&self, v: &Value) -> Option<(Uid, Vec<u8>)> {
        if self.how != Match::Regm {
            let uid = self.index.find(v)?;
            return Some((uid, crate::spare::copy(self.index.get(uid)?.1)));
        }
        // `regm`: `\N` in the value is the expression's capture N.
        let s = text(v);
        let (uid, caps) = self.index.find_captures(&s)?;
        let value = self.index.get(uid)?.1;
        let mut out = Vec::new();
        let mut i = 0;
        while i < value.len() {
            if value[i] == b'\\' && value.get(i + 1).is_some_and(u8::is_ascii_digit) {
                let g = usize::from(value[i + 1] - b'0');
                out.extend_from_slice(caps.get(g).map_or(&b""[..], |m| m.as_bytes()));
                i += 2;
            } else {
                out.push(value[i]);
                i += 1;
            }
        }
        Some((uid, out))
    }
}
