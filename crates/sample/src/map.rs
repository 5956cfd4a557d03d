//! Map files (`map_*` converters): `key value` lines, `#` comments, matched as the converter's
//! name says (`str beg sub dir dom end reg regm ip int`). Shared behind a lock so the runtime
//! socket's `add map`/`del map`/`set map`/`clear map` change what live traffic sees at once.

use crate::value::Value;
use regex::bytes::Regex;
use std::net::IpAddr;

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

#[derive(Debug, Clone)]
struct Entry {
    key: Vec<u8>,
    value: Vec<u8>,
    regex: Option<Regex>,
    net: Option<(IpAddr, u8)>,
}

/// One map file's entries, in file order.
#[derive(Debug, Clone)]
pub struct Map {
    pub how: Match,
    entries: Vec<Entry>,
}

impl Map {
    pub fn new(how: Match) -> Map {
        Map {
            how,
            entries: Vec::new(),
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

    /// Adds an entry (the runtime socket's `add map`).
    pub fn add(&mut self, key: &str, value: &str) -> Result<(), String> {
        let regex = match self.how {
            Match::Reg | Match::Regm => Some(
                Regex::new(key).map_err(|e| format!("invalid regular expression '{key}': {e}"))?,
            ),
            _ => None,
        };
        let net = match self.how {
            Match::Ip => Some(
                parse_net(key).ok_or_else(|| format!("'{key}' is not an address or network"))?,
            ),
            _ => None,
        };
        if self.how == Match::Int && key.parse::<i64>().is_err() {
            return Err(format!("'{key}' is not an integer"));
        }
        self.entries.push(Entry {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            regex,
            net,
        });
        Ok(())
    }

    /// Removes every entry with this key (`del map`); whether any was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.key != key.as_bytes());
        before != self.entries.len()
    }

    /// Sets the value of every entry with this key (`set map`); whether any was there.
    pub fn set(&mut self, key: &str, value: &str) -> bool {
        let mut found = false;
        for e in self.entries.iter_mut().filter(|e| e.key == key.as_bytes()) {
            e.value = value.as_bytes().to_vec();
            found = true;
        }
        found
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// `(key, value)` pairs in order (`show map`).
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries.iter().map(|e| (&e.key[..], &e.value[..]))
    }

    /// The key of the entry `v` matches and the value it gives (`get map`).
    pub fn lookup_entry(&self, v: &Value) -> Option<(Vec<u8>, Vec<u8>)> {
        let value = self.lookup(v)?;
        let key = match self.how {
            Match::Ip => {
                let ip: IpAddr = match v {
                    Value::Ipv4(a) => IpAddr::V4(*a),
                    Value::Ipv6(a) => IpAddr::V6(*a),
                    other => std::str::from_utf8(&other.to_bytes()).ok()?.parse().ok()?,
                };
                self.entries
                    .iter()
                    .filter(|e| e.net.is_some_and(|(n, len)| in_net(ip, n, len)))
                    .max_by_key(|e| e.net.map_or(0, |(_, l)| l))?
                    .key
                    .clone()
            }
            Match::Int => v.to_bytes(),
            Match::Regm => {
                let s = text(v);
                self.entries
                    .iter()
                    .find(|e| e.regex.as_ref().is_some_and(|r| r.is_match(&s)))?
                    .key
                    .clone()
            }
            how => {
                let s = text(v);
                self.entries
                    .iter()
                    .find(|e| matches(how, &s, e))?
                    .key
                    .clone()
            }
        };
        Some((key, value))
    }

    /// The value for `v`, by this map's match method.
    pub fn lookup(&self, v: &Value) -> Option<Vec<u8>> {
        match self.how {
            Match::Ip => {
                let ip = match v {
                    Value::Ipv4(a) => IpAddr::V4(*a),
                    Value::Ipv6(a) => IpAddr::V6(*a),
                    other => std::str::from_utf8(&other.to_bytes()).ok()?.parse().ok()?,
                };
                // Longest prefix wins, as HAProxy's tree lookup.
                self.entries
                    .iter()
                    .filter(|e| e.net.is_some_and(|(n, len)| in_net(ip, n, len)))
                    .max_by_key(|e| e.net.map_or(0, |(_, l)| l))
                    .map(|e| e.value.clone())
            }
            Match::Int => {
                let n = match v {
                    Value::Sint(n) => *n,
                    other => std::str::from_utf8(&other.to_bytes()).ok()?.parse().ok()?,
                };
                let key = n.to_string().into_bytes();
                self.entries
                    .iter()
                    .find(|e| e.key == key)
                    .map(|e| e.value.clone())
            }
            Match::Regm => {
                let s = text(v);
                self.entries.iter().find_map(|e| {
                    let caps = e.regex.as_ref()?.captures(&s)?;
                    let mut out = Vec::new();
                    let mut i = 0;
                    while i < e.value.len() {
                        if e.value[i] == b'\\' && e.value.get(i + 1).is_some_and(u8::is_ascii_digit)
                        {
                            let g = usize::from(e.value[i + 1] - b'0');
                            out.extend_from_slice(caps.get(g).map_or(&b""[..], |m| m.as_bytes()));
                            i += 2;
                        } else {
                            out.push(e.value[i]);
                            i += 1;
                        }
                    }
                    Some(out)
                })
            }
            how => {
                let s = text(v);
                self.entries
                    .iter()
                    .find(|e| matches(how, &s, e))
                    .map(|e| e.value.clone())
            }
        }
    }
}

/// The sample as the bytes its keys are matched against: strings as they are (no copy per
/// lookup), everything else by its string cast.
fn text(v: &Value) -> std::borrow::Cow<'_, [u8]> {
    match v {
        Value::Str(b) | Value::Bin(b) | Value::Meth(b) => std::borrow::Cow::Borrowed(b),
        other => std::borrow::Cow::Owned(other.to_bytes()),
    }
}

fn matches(how: Match, s: &[u8], e: &Entry) -> bool {
    let k = &e.key[..];
    match how {
        Match::Str => s == k,
        Match::Beg => s.starts_with(k),
        Match::End => s.ends_with(k),
        Match::Sub => k.is_empty() || s.windows(k.len()).any(|w| w == k),
        Match::Dir => s.split(|&b| b == b'/').any(|p| p == k),
        Match::Dom => s.split(|&b| b == b'.' || b == b'/').any(|p| p == k) || delimited(s, k, b'.'),
        Match::Reg => e.regex.as_ref().is_some_and(|r| r.is_match(s)),
        Match::Regm | Match::Ip | Match::Int => false,
    }
}

/// Whether `k` (which may itself contain dots) stands in `s` between dots or the ends.
fn delimited(s: &[u8], k: &[u8], d: u8) -> bool {
    if k.is_empty() || k.len() > s.len() {
        return false;
    }
    (0..=s.len() - k.len()).any(|i| {
        &s[i..i + k.len()] == k
            && (i == 0 || s[i - 1] == d)
            && (i + k.len() == s.len() || s[i + k.len()] == d)
    })
}

pub(crate) fn parse_net(s: &str) -> Option<(IpAddr, u8)> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = a.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max => n,
            Ok(_) => return None,
            Err(_) => {
                let m: std::net::Ipv4Addr = l.parse().ok()?;
                u32::from(m).count_ones() as u8
            }
        },
    };
    Some((ip, len))
}

pub(crate) fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(a) & m == u32::from(n) & m
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(a) & m == u128::from(n) & m
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|a| in_net(IpAddr::V4(a), net, len)),
        (IpAddr::V4(a), IpAddr::V6(_)) => in_net(IpAddr::V6(a.to_ipv6_mapped()), net, len),
    }
}
