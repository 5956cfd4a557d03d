//! The entries under one key of an index, in the order they were added.

use super::HashMap;
use super::{Listed, Uid};
use std::collections::hash_map::Entry as HashEntry;

/// The entries under one key, in order (duplicate keys are rare: one id, unboxed).
#[derive(Debug, Clone)]
pub(super) enum Ids {
    One(Uid),
    Many(Vec<Uid>),
}

impl Ids {
    pub(super) fn first(&self) -> Uid {
        match self {
            Ids::One(u) => *u,
            Ids::Many(v) => v.first().copied().unwrap_or(Uid::MAX),
        }
    }

    pub(super) fn push(&mut self, u: Uid) {
        match self {
            Ids::One(a) => {
                let a = *a;
                *self = Ids::Many(if a < u { vec![a, u] } else { vec![u, a] });
            }
            Ids::Many(v) => {
                let at = v.partition_point(|x| *x < u);
                v.insert(at, u);
            }
        }
    }

    /// Removes `u`; whether none is left.
    pub(super) fn remove(&mut self, u: Uid) -> bool {
        match self {
            Ids::One(a) => *a == u,
            Ids::Many(v) => {
                v.retain(|x| *x != u);
                let empty = v.is_empty();
                if let [only] = v[..] {
                    *self = Ids::One(only);
                }
                empty
            }
        }
    }
}

pub(super) fn put<K: std::hash::Hash + Eq>(m: &mut HashMap<K, Ids>, k: K, u: Uid) {
    match m.entry(k) {
        HashEntry::Occupied(mut e) => e.get_mut().push(u),
        HashEntry::Vacant(e) => {
            e.insert(Ids::One(u));
        }
    }
}

pub(super) fn take<K: std::hash::Hash + Eq>(m: &mut HashMap<K, Ids>, k: &K, u: Uid) {
    if m.get_mut(k).is_some_and(|ids| ids.remove(u)) {
        m.remove(k);
    }
}

pub(super) fn earliest(best: &mut Option<Uid>, u: Uid) {
    if best.is_none_or(|b| u < b) {
        *best = Some(u);
    }
}

/// What HAProxy keeps in a list: in order of the ids (a vector: scanned fast, and entries
/// come in order, so adding is a push).
#[derive(Debug, Clone, Default)]
pub(super) struct List(Vec<(Uid, Listed)>);

impl List {
    pub(super) fn insert(&mut self, u: Uid, l: Listed) {
        match self.0.last() {
            Some((last, _)) if *last > u => {
                let at = self.0.partition_point(|(x, _)| *x < u);
                self.0.insert(at, (u, l));
            }
            _ => self.0.push((u, l)),
        }
    }

    pub(super) fn remove(&mut self, u: Uid) {
        if let Ok(at) = self.0.binary_search_by_key(&u, |(x, _)| *x) {
            self.0.remove(at);
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&Uid, &Listed)> {
        self.0.iter().map(|(u, l)| (u, l))
    }
}
