//! HAProxy's pattern indexes (pattern.c's `pat_idx_*` and `pat_match_*`), shared by map files
//! and ACL pattern sets: how the entries are stored decides which entry a lookup returns, so
//! each match method keeps HAProxy's rule, measured against haproxy 2.6:
//!
//! - `str`, `bin`: a hash of the exact key; of duplicate keys the first added wins (HAProxy:
//!   a string tree, or with `-i` a list: the same answer).
//! - `beg`: the keys hashed, with the set of key lengths (`edges`): the longest key that begins the
//!   sample wins (HAProxy's prefix tree), tried from the longest length present down; with
//!   `-i` HAProxy keeps a list, so the first in order wins.
//! - `ip`: IPv4 networks with a contiguous mask and IPv6 networks, hashed per prefix length:
//!   the longest prefix wins; an IPv4 sample tries the IPv4 networks, then the IPv6 ones as
//!   `::ffff:a.b.c.d`, then the non-contiguous masks in order; an IPv6 sample tries the IPv6
//!   networks, then (as `::ffff:a.b.c.d`, `::a.b.c.d` or 6to4 `2002:AABB:CCDD::`) the IPv4
//!   ones and the list.
//! - `int`, `len`: single values hashed, ranges listed; the first in order wins.
//! - `end`, `dom`, `dir` (keys stripped of delimiters): hashed, with the set of key lengths:
//!   HAProxy scans a list, so the first in order wins; the index finds the same entry by
//!   looking up only the sample's pieces that have a key's length, without the scan.
//! - `sub`, `reg`, `regm`: a list in order, the first match wins (as HAProxy).
//!
//! Entries are named by the reference's entry ids ([`Uid`]), ascending in the order they were
//! added, so the runtime socket can remove or change one entry without a rebuild.

use crate::cast::cast;
use crate::value::{Type, Value};
use regex::bytes::{Captures, Regex, RegexBuilder};
use std::borrow::Cow;
use std::collections::BTreeSet;

/// The indexes' hash maps: foldhash, seeded per process (std's SipHash costs more than the
/// rest of a lookup for the short keys of maps and ACLs).
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::net::IpAddr;

mod class_re;
mod edges;
mod ids;
mod net;

use class_re::ClassRe;
use edges::Edges;
use ids::{earliest, put, take, Ids, List};

/// The match methods that take patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
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
    Bin,
    Len,
}

/// An entry's id: ascending in the order entries were added.
pub type Uid = u64;

/// Where an entry is indexed (to remove it).
#[derive(Debug, Clone)]
enum Slot {
    Key(Box<[u8]>),
    Int(i64),
    V4(u8, u32),
    V6(u8, u128),
    List,
}

/// What the in-order list holds.
#[derive(Debug, Clone)]
enum Listed {
    Range(i64, i64),
    /// A non-contiguous IPv4 mask: address and mask.
    Net4(u32, u32),
    Bytes(Box<[u8]>),
    Re(Regex),
    /// A `reg` pattern of one anchored class (`^[a-z0-9.:]+$`), matched without the engine.
    Class(ClassRe),
}

#[derive(Debug, Clone)]
struct Stored {
    text: Box<str>,
    value: Box<[u8]>,
    slot: Slot,
}

/// One set of patterns (or map keys) indexed for one match method.
#[derive(Debug, Clone)]
pub struct Index {
    pub kind: Kind,
    pub icase: bool,
    /// The entries by id (hashed: a map lookup reads its entry's value per request, and a
    /// tree of a hundred entries cost ~190 instructions to search), with their ids in order.
    entries: HashMap<Uid, Stored>,
    order: BTreeSet<Uid>,
    /// `str`, `bin`, `beg`, `end`, `dom`, `dir`.
    keys: HashMap<Box<[u8]>, Ids>,
    /// `beg`, `end`, `dom`, `dir`: the key lengths, and the bytes keys start and end with.
    edges: Edges,
    /// `int`, `len`: single values.
    ints: HashMap<i64, Ids>,
    /// `ip`: networks by prefix length (33 and 129 maps once the first address is added).
    v4: Vec<HashMap<u32, Ids>>,
    v6: Vec<HashMap<u128, Ids>>,
    /// What HAProxy keeps in a list, in order.
    list: List,
}

fn delims(kind: Kind) -> &'static [u8] {
    match kind {
        Kind::Dom => b"/?.:",
        _ => b"/?",
    }
}

/// `N`, `N:M`, `:M`, `N:`, or an operator and a value (`ge N`, an ACL line's two words).
fn range(s: &str) -> Result<(i64, i64), String> {
    let int = |t: &str| {
        t.trim()
            .parse::<i64>()
            .map_err(|_| format!("'{s}' is not an integer (expected N, N:M, :M or N:)"))
    };
    if let Some((op, v)) = s.split_once(' ') {
        let n = int(v)?;
        return Ok(match op {
            "eq" => (n, n),
            "ge" => (n, i64::MAX),
            "gt" => (n.saturating_add(1), i64::MAX),
            "le" => (i64::MIN, n),
            "lt" => (i64::MIN, n.saturating_sub(1)),
            _ => {
                return Err(format!(
                    "'{s}' is not an integer (expected N, N:M, :M or N:)"
                ))
            }
        });
    }
    match s.split_once(':') {
        Some((a, b)) => Ok((
            if a.is_empty() { i64::MIN } else { int(a)? },
            if b.is_empty() { i64::MAX } else { int(b)? },
        )),
        None => int(s).map(|n| (n, n)),
    }
}

/// The sample as the bytes its keys are matched against: strings as they are (no copy per
/// lookup), everything else by its string cast.
pub(crate) fn text(v: &Value) -> Cow<'_, [u8]> {
    match v {
        Value::Str(b) | Value::Bin(b) | Value::Meth(b) => Cow::Borrowed(b),
        other => Cow::Owned(other.to_bytes()),
    }
}

impl Index {
    pub fn new(kind: Kind, icase: bool) -> Index {
        Index {
            kind,
            icase,
            entries: HashMap::default(),
            order: BTreeSet::new(),
            keys: HashMap::default(),
            edges: Edges::default(),
            ints: HashMap::default(),
            v4: Vec::new(),
            v6: Vec::new(),
            list: List::default(),
        }
    }

    fn folded(&self, text: &str) -> Vec<u8> {
        if self.icase {
            text.to_ascii_lowercase().into_bytes()
        } else {
            text.as_bytes().to_vec()
        }
    }

    /// Adds entry `uid` (its key or pattern `text`, a map's `value`); an error says why the
    /// text is not a pattern of this method (nothing is added then).
    pub fn insert(&mut self, uid: Uid, text: &str, value: &[u8]) -> Result<(), String> {
        let kind = self.kind;
        let slot = match kind {
            Kind::Str | Kind::Bin | Kind::Beg | Kind::End | Kind::Dom | Kind::Dir => {
                let key = match kind {
                    Kind::Bin => crate::conv::unhex(text.as_bytes())
                        .ok_or_else(|| format!("'{text}' is not a hexadecimal string"))?,
                    Kind::Dom | Kind::Dir => {
                        let d = delims(kind);
                        let k = self.folded(text);
                        let start = k.iter().position(|c| !d.contains(c)).unwrap_or(k.len());
                        let end = k
                            .iter()
                            .rposition(|c| !d.contains(c))
                            .map_or(start, |e| e + 1);
                        k[start..end].to_vec()
                    }
                    _ => self.folded(text),
                };
                if !matches!(kind, Kind::Str | Kind::Bin) {
                    self.edges.add(&key);
                }
                let key: Box<[u8]> = key.into();
                put(&mut self.keys, key.clone(), uid);
                Slot::Key(key)
            }
            Kind::Sub => {
                self.list
                    .insert(uid, Listed::Bytes(self.folded(text).into()));
                Slot::List
            }
            Kind::Reg | Kind::Regm => {
                // (`regm` needs the engine's captures; `-i` its case folding)
                let class = (kind == Kind::Reg && !self.icase)
                    .then(|| ClassRe::parse(text))
                    .flatten();
                let listed = match class {
                    Some(c) => Listed::Class(c),
                    None => Listed::Re(
                        RegexBuilder::new(text)
                            .case_insensitive(self.icase)
                            .build()
                            .map_err(|e| format!("invalid regular expression '{text}': {e}"))?,
                    ),
                };
                self.list.insert(uid, listed);
                Slot::List
            }
            Kind::Ip => self.insert_net(uid, text)?,
            Kind::Int | Kind::Len => match range(text)? {
                (a, b) if a == b => {
                    put(&mut self.ints, a, uid);
                    Slot::Int(a)
                }
                (a, b) => {
                    self.list.insert(uid, Listed::Range(a, b));
                    Slot::List
                }
            },
        };
        self.order.insert(uid);
        self.entries.insert(
            uid,
            Stored {
                text: text.into(),
                value: value.into(),
                slot,
            },
        );
        Ok(())
    }

    /// Removes entry `uid`; whether it was there.
    pub fn remove(&mut self, uid: Uid) -> bool {
        let Some(st) = self.entries.remove(&uid) else {
            return false;
        };
        self.order.remove(&uid);
        match st.slot {
            Slot::Key(k) => {
                if !matches!(self.kind, Kind::Str | Kind::Bin) {
                    self.edges.remove(&k);
                }
                take(&mut self.keys, &k, uid);
            }
            Slot::Int(n) => take(&mut self.ints, &n, uid),
            Slot::V4(len, a) => take(&mut self.v4[usize::from(len)], &a, uid),
            Slot::V6(len, a) => take(&mut self.v6[usize::from(len)], &a, uid),
            Slot::List => {
                self.list.remove(uid);
            }
        }
        true
    }

    /// Changes entry `uid`'s value; whether it was there.
    pub fn set_value(&mut self, uid: Uid, value: &[u8]) -> bool {
        match self.entries.get_mut(&uid) {
            Some(st) => {
                st.value = value.into();
                true
            }
            None => false,
        }
    }

    pub fn clear(&mut self) {
        *self = Index::new(self.kind, self.icase);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The last id added (a standalone set numbers its entries after it).
    pub fn last_uid(&self) -> Option<Uid> {
        self.order.last().copied()
    }

    /// `(id, text, value)` of every entry, in order.
    pub fn entries(&self) -> impl Iterator<Item = (Uid, &str, &[u8])> {
        self.order
            .iter()
            .filter_map(|u| self.entries.get(u).map(|s| (*u, &*s.text, &*s.value)))
    }

    /// The ids of the entries written `text`.
    pub fn uids_of(&self, text: &str) -> Vec<Uid> {
        self.entries()
            .filter(|(_, t, _)| *t == text)
            .map(|(u, ..)| u)
            .collect()
    }

    /// Whether HAProxy keeps entry `uid` in a tree (`get map|acl`'s `idx=tree`): `str` and
    /// `beg` without `-i`, networks but IPv4 ones with a non-contiguous mask.
    pub fn in_tree(&self, uid: Uid) -> bool {
        match self.kind {
            Kind::Str | Kind::Beg => !self.icase,
            Kind::Ip => self
                .entries
                .get(&uid)
                .is_some_and(|s| !matches!(s.slot, Slot::List)),
            _ => false,
        }
    }

    /// Entry `uid`'s text and value.
    pub fn get(&self, uid: Uid) -> Option<(&str, &[u8])> {
        self.entries.get(&uid).map(|s| (&*s.text, &*s.value))
    }

    /// The entry the sample `v` matches, by HAProxy's rule for this method.
    pub fn find(&self, v: &Value) -> Option<Uid> {
        if self.entries.is_empty() {
            return None;
        }
        match self.kind {
            Kind::Int | Kind::Ip => self.find_typed(v),
            _ => self.find_text(text(v)),
        }
    }

    /// [`Index::find`] of a string sample lent by its owner (an ACL on a request's header
    /// value or path copies nothing).
    pub fn find_str(&self, s: &[u8]) -> Option<Uid> {
        if self.entries.is_empty() {
            return None;
        }
        match self.kind {
            Kind::Int | Kind::Ip => self.find_typed(&Value::Str(s.to_vec())),
            _ => self.find_text(Cow::Borrowed(s)),
        }
    }

    /// `int` and `ip`: the sample cast to the patterns' type.
    fn find_typed(&self, v: &Value) -> Option<Uid> {
        match self.kind {
            Kind::Int => {
                let n = match v {
                    Value::Sint(n) => *n,
                    other => match cast(other.clone(), Type::Sint)? {
                        Value::Sint(n) => n,
                        _ => return None,
                    },
                };
                self.find_int(n)
            }
            Kind::Ip => self.find_ip(match v {
                Value::Ipv4(a) => IpAddr::V4(*a),
                Value::Ipv6(a) => IpAddr::V6(*a),
                other => match cast(other.clone(), Type::Addr)? {
                    Value::Ipv4(a) => IpAddr::V4(a),
                    Value::Ipv6(a) => IpAddr::V6(a),
                    _ => return None,
                },
            }),
            _ => self.find_text(text(v)),
        }
    }

    /// Every kind but `int` and `ip`: the sample's text.
    fn find_text(&self, mut s: Cow<'_, [u8]>) -> Option<Uid> {
        match self.kind {
            Kind::Len => self.find_int(s.len() as i64),
            Kind::Bin => self.keys.get(&s[..]).map(Ids::first),
            Kind::Reg | Kind::Regm => self
                .list
                .iter()
                .find(|(_, l)| match l {
                    Listed::Class(c) => c.is_match(&s),
                    Listed::Re(r) => r.is_match(&s),
                    _ => false,
                })
                .map(|(u, _)| *u),
            kind => {
                if self.icase {
                    s.to_mut().make_ascii_lowercase();
                }
                match kind {
                    Kind::Str => self.keys.get(&s[..]).map(Ids::first),
                    Kind::Beg => {
                        // the longest first: without `-i` the first found is the answer
                        let mut best = None;
                        for len in self.edges.lens(0, s.len()).rev() {
                            if !self.edges.may_be(&s[..len]) {
                                continue;
                            }
                            if let Some(ids) = self.keys.get(&s[..len]) {
                                earliest(&mut best, ids.first());
                                if !self.icase {
                                    break;
                                }
                            }
                        }
                        best
                    }
                    Kind::End => {
                        let mut best = None;
                        for len in self.edges.lens(0, s.len()) {
                            let piece = &s[s.len() - len..];
                            if !self.edges.may_be(piece) {
                                continue;
                            }
                            if let Some(ids) = self.keys.get(piece) {
                                earliest(&mut best, ids.first());
                            }
                        }
                        best
                    }
                    Kind::Dom | Kind::Dir => self.find_word(&s, delims(kind)),
                    _ => self
                        .list
                        .iter()
                        .find(|(_, l)| match l {
                            Listed::Bytes(k) => match k.first() {
                                None => true,
                                Some(c) => s.windows(k.len()).any(|w| w[0] == *c && w == &k[..]),
                            },
                            _ => false,
                        })
                        .map(|(u, _)| *u),
                }
            }
        }
    }

    /// `regm`: the first regular expression that matches, with its captures.
    pub fn find_captures<'h>(&self, s: &'h [u8]) -> Option<(Uid, Captures<'h>)> {
        self.list.iter().find_map(|(u, l)| match l {
            Listed::Re(r) => r.captures(s).map(|c| (*u, c)),
            _ => None,
        })
    }

    fn find_int(&self, n: i64) -> Option<Uid> {
        let exact = self.ints.get(&n).map(Ids::first);
        self.list
            .iter()
            .take_while(|(u, _)| exact.is_none_or(|e| **u < e))
            .find(|(_, l)| matches!(l, Listed::Range(a, b) if *a <= n && n <= *b))
            .map(|(u, _)| *u)
            .or(exact)
    }

    /// `dom`/`dir`: a key standing in the sample between delimiters (or its ends). Words start
    /// at the beginning or after a delimiter; each length a key has is tried there.
    fn find_word(&self, s: &[u8], d: &[u8]) -> Option<Uid> {
        let mut best = None;
        let mut may_start = true;
        for c in 0..s.len() {
            if d.contains(&s[c]) {
                may_start = true;
                continue;
            }
            if !std::mem::replace(&mut may_start, false) {
                continue;
            }
            for len in self.edges.lens(1, s.len() - c) {
                let e = c + len;
                if (e == s.len() || d.contains(&s[e]))
                    && !d.contains(&s[e - 1])
                    && self.edges.may_be(&s[c..e])
                {
                    if let Some(ids) = self.keys.get(&s[c..e]) {
                        earliest(&mut best, ids.first());
                    }
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests;
