//! `balance roundrobin`: HAProxy's fast weighted round robin (FWRR), position for position.
//!
//! Each server holds a next position `npos`; the "current" tree is ordered by position (then
//! weight), the "init" tree holds servers not yet placed in this round (heaviest first) and the
//! "next" tree those pushed past the window. Ties keep insertion order, as HAProxy's ebtrees do,
//! hence the `(key, seq)` keys. Reproducing this arithmetic is what makes the sequence of chosen
//! servers identical to HAProxy's for any weights (e.g. 3/1 gives A A B A ... in HAProxy's order).

use super::{Algorithm, Candidate, PickInput, WEIGHT_SCALE};
use std::collections::BTreeMap;

const EWGHT_MAX: i64 = 256 * WEIGHT_SCALE as i64;
const UWGHT_RANGE: i64 = 256;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tree {
    None,
    Curr,
    T(usize),
}

struct Srv {
    index: usize,
    eweight: i64,
    npos: i64,
    rweight: i64,
    tree: Tree,
    key: (u32, u64),
}

pub struct Fwrr {
    srvs: Vec<Srv>,
    curr: BTreeMap<(u32, u64), usize>,
    trees: [BTreeMap<(u32, u64), usize>; 2],
    init: usize,
    curr_pos: i64,
    curr_weight: i64,
    next_weight: i64,
    seq: u64,
}

impl Fwrr {
    pub fn new(group: &[Candidate]) -> Self {
        let srvs: Vec<Srv> = group
            .iter()
            .filter(|c| c.weight > 0)
            .map(|c| Srv {
                index: c.index,
                eweight: i64::from(c.weight * c.scale),
                npos: 0,
                rweight: 0,
                tree: Tree::None,
                key: (0, 0),
            })
            .collect();
        let total: i64 = srvs.iter().map(|s| s.eweight).sum();
        let mut f = Fwrr {
            srvs,
            curr: BTreeMap::new(),
            trees: [BTreeMap::new(), BTreeMap::new()],
            init: 0,
            curr_pos: total,
            curr_weight: total,
            next_weight: total,
            seq: 0,
        };
        for s in 0..f.srvs.len() {
            f.queue_by_weight(f.init, s);
        }
        f
    }

    fn insert(&mut self, tree: Tree, s: usize, key: u32) {
        self.seq += 1;
        let k = (key, self.seq);
        match tree {
            Tree::Curr => self.curr.insert(k, s),
            Tree::T(t) => self.trees[t].insert(k, s),
            Tree::None => None,
        };
        self.srvs[s].tree = tree;
        self.srvs[s].key = k;
    }

    fn dequeue(&mut self, s: usize) {
        let k = self.srvs[s].key;
        match self.srvs[s].tree {
            Tree::Curr => {
                self.curr.remove(&k);
            }
            Tree::T(t) => {
                self.trees[t].remove(&k);
            }
            Tree::None => {}
        }
        self.srvs[s].tree = Tree::None;
    }

    fn queue_by_weight(&mut self, t: usize, s: usize) {
        let key = EWGHT_MAX - self.srvs[s].eweight;
        self.insert(Tree::T(t), s, u32::try_from(key).unwrap_or(0));
    }

    fn queue_srv(&mut self, s: usize) {
        let (npos, ew, rw) = (
            self.srvs[s].npos,
            self.srvs[s].eweight,
            self.srvs[s].rweight,
        );
        if npos >= 2 * self.curr_weight || npos >= self.curr_weight + self.next_weight {
            self.srvs[s].npos -= self.curr_weight;
            self.queue_by_weight(1 - self.init, s);
        } else {
            let key = UWGHT_RANGE * npos + (EWGHT_MAX + rw - ew) / i64::from(WEIGHT_SCALE);
            self.insert(Tree::Curr, s, u32::try_from(key.max(0)).unwrap_or(u32::MAX));
        }
    }

    fn switch_trees(&mut self) {
        self.init = 1 - self.init;
        self.curr_weight = self.next_weight;
        self.curr_pos = self.curr_weight;
    }

    fn first_in_group(&mut self) -> Option<usize> {
        let first = self.curr.first_key_value().map(|(_, &s)| s);
        if first.is_none_or(|s| self.srvs[s].npos > self.curr_pos) {
            if let Some((_, &s)) = self.trees[self.init].first_key_value() {
                self.srvs[s].npos = 0;
                self.srvs[s].rweight = 0;
                return Some(s);
            }
        }
        first
    }

    fn update_position(&mut self, s: usize) {
        let (nw, curr_pos) = (self.next_weight, self.curr_pos);
        let srv = &mut self.srvs[s];
        if srv.npos == 0 {
            srv.npos = curr_pos + nw / srv.eweight;
        } else {
            srv.npos += nw / srv.eweight;
        }
        srv.rweight += nw % srv.eweight;
        if srv.rweight >= srv.eweight {
            srv.rweight -= srv.eweight;
            srv.npos += 1;
        }
    }
}

impl Algorithm for Fwrr {
    fn pick(&mut self, input: &PickInput<'_>) -> Option<usize> {
        // One server: every pick is it while it has room (a retry's `avoid` has no other
        // to go to). Its positions only order it against others, and the algorithm is
        // rebuilt when the group or a weight changes: no tree to walk.
        if let [only] = &self.srvs[..] {
            return (input.has_room)(only.index).then_some(only.index);
        }
        if self.srvs.is_empty() {
            return None;
        }
        let mut switched = false;
        let mut avoided: Option<usize> = None;
        let mut full: Vec<usize> = Vec::new();
        let mut chosen: Option<usize> = None;
        // Bounded: each pass dequeues one server, and a server comes back only via `avoided`.
        for _ in 0..(2 * self.srvs.len() + 2) {
            if self.curr_weight == 0 {
                self.curr_weight = self.next_weight;
                self.curr_pos = self.next_weight;
            }
            let srv = loop {
                if let Some(s) = self.first_in_group() {
                    break Some(s);
                }
                if switched {
                    break avoided;
                }
                switched = true;
                self.switch_trees();
            };
            let Some(s) = srv else { break };
            self.update_position(s);
            self.dequeue(s);
            self.curr_pos += 1;
            let index = self.srvs[s].index;
            if (input.has_room)(index) {
                if Some(index) != input.avoid || avoided.is_some() {
                    chosen = Some(s);
                    break;
                }
                avoided = Some(s);
            }
            full.push(s);
        }
        if let Some(s) = chosen {
            self.queue_srv(s);
        }
        for f in full {
            if Some(f) == chosen {
                continue;
            }
            if switched {
                self.queue_by_weight(self.init, f);
            } else {
                self.queue_srv(f);
            }
        }
        chosen.map(|s| self.srvs[s].index)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{group, Sim};
    use super::*;

    fn sequence(weights: &[u32], n: usize) -> Vec<usize> {
        let mut alg = Fwrr::new(&group(weights));
        let sim = Sim::new(weights.len());
        (0..n)
            .map(|_| sim.pick(&mut alg, None, b"/", None).unwrap_or(99))
            .collect()
    }

    #[test]
    fn equal_weights_rotate_in_order() {
        assert_eq!(sequence(&[1, 1, 1], 7), vec![0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn weights_3_1_keep_the_ratio_in_every_window() {
        let seq = sequence(&[3, 1], 400);
        for w in seq.chunks(4) {
            assert_eq!(w.iter().filter(|&&s| s == 0).count(), 3, "{seq:?}");
        }
    }

    #[test]
    fn one_server_is_every_pick_while_it_has_room() {
        let mut alg = Fwrr::new(&group(&[3]));
        let mut sim = Sim::new(1);
        sim.maxconn = vec![Some(2)];
        assert_eq!(sim.pick(&mut alg, None, b"/", None), Some(0));
        // a retry avoiding it has nowhere else to go
        assert_eq!(sim.pick(&mut alg, None, b"/", Some(0)), Some(0));
        sim.take(0);
        sim.take(0);
        assert_eq!(sim.pick(&mut alg, None, b"/", None), None);
        sim.release(0);
        assert_eq!(sim.pick(&mut alg, None, b"/", None), Some(0));
    }

    #[test]
    fn avoided_server_is_skipped_once() {
        let mut alg = Fwrr::new(&group(&[1, 1]));
        let sim = Sim::new(2);
        assert_eq!(sim.pick(&mut alg, None, b"/", None), Some(0));
        assert_eq!(sim.pick(&mut alg, None, b"/", Some(1)), Some(0));
    }

    #[test]
    fn full_servers_are_skipped_and_none_when_all_full() {
        let mut alg = Fwrr::new(&group(&[1, 1]));
        let mut sim = Sim::new(2);
        sim.maxconn = vec![Some(1), Some(1)];
        sim.take(0);
        assert_eq!(sim.pick(&mut alg, None, b"/", None), Some(1));
        sim.take(1);
        assert_eq!(sim.pick(&mut alg, None, b"/", None), None);
    }
}
