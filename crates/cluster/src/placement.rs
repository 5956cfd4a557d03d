//! Where each VIP should run: membership, VIPs, node health and constraints in; the desired
//! assignment out. Pure (no clock, no etcd): the elected leader calls `place` each round with
//! what it sees, and the same inputs always give the same answer.
//!
//! Rules, in order of strength:
//! 1. Hard filters: a node is eligible for a VIP only when it is online, not in standby, serves
//!    the VIP (colocation: its frontends on that address have a server UP) and holds no other
//!    VIP of the VIP's anti-affinity groups.
//! 2. A time-limited move (`fulcrum cluster move`) puts a VIP on its node when eligible.
//! 3. Stickiness: a VIP stays where it is while its node is eligible (no flapping back).
//! 4. A VIP without an eligible node goes to its `prefer` node (if eligible and under the cap),
//!    else to the least loaded eligible node, ties broken by rendezvous hashing (stable,
//!    deterministic, and spread differently per VIP).
//! 5. Bounded rebalancing: once nothing has changed for `rebalance_after` and a node has been
//!    online that long, VIPs (but never one a move by hand holds) move to it
//!    from nodes above the cap ceil(VIPs / eligible nodes), and to their `prefer` node; only
//!    as many moves as bring every node to the cap.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// One VIP as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    pub name: String,
    pub prefer: Option<String>,
}

/// One node as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    /// Holds a live lease.
    pub online: bool,
    pub standby: bool,
    /// VIPs this node can serve (colocation); `None`: every VIP.
    pub serves: Option<BTreeSet<String>>,
    /// How long it has been online without interruption, as far as the leader knows.
    pub online_for: Duration,
}

/// Everything `place` reads.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub vips: Vec<Vip>,
    pub nodes: Vec<Node>,
    /// VIP → node where it is now (assigned or held).
    pub current: BTreeMap<String, String>,
    /// VIP → node it is being moved to by hand.
    pub moves: BTreeMap<String, String>,
    /// Groups of VIPs never placed together on one node.
    pub anti_affinity: Vec<Vec<String>>,
    /// Zero disables rebalancing.
    pub rebalance_after: Duration,
    /// How long membership and eligibility have not changed: rebalancing waits for
    /// `rebalance_after` of quiet, so a failover never moves the survivors' VIPs too.
    pub quiet_for: Duration,
}

/// VIP → node; a VIP missing from the map runs nowhere (no eligible node).
pub type Assignment = BTreeMap<String, String>;

/// The rendezvous (highest random weight) score of `node` for `vip`: FNV-1a over both names,
/// then a 64-bit mix so that similar names spread.
pub fn score(vip: &str, node: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in vip.bytes().chain([0u8]).chain(node.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // splitmix64 finalizer
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

struct State<'a> {
    input: &'a Input,
    out: Assignment,
    load: BTreeMap<&'a str, usize>,
}

impl<'a> State<'a> {
    fn node(&self, name: &str) -> Option<&'a Node> {
        self.input.nodes.iter().find(|n| n.name == name)
    }

    /// The node may run `vip` (ignoring where `vip` itself is now).
    fn eligible(&self, vip: &str, node: &Node) -> bool {
        if !node.online || node.standby {
            return false;
        }
        if node.serves.as_ref().is_some_and(|s| !s.contains(vip)) {
            return false;
        }
        // Anti-affinity: no other VIP of a group of `vip` already on this node.
        !self.input.anti_affinity.iter().any(|g| {
            g.iter().any(|v| v == vip)
                && g.iter().any(|other| {
                    other != vip && self.out.get(other).is_some_and(|n| n == &node.name)
                })
        })
    }

    fn assign(&mut self, vip: &str, node: &'a str) {
        if let Some(prev) = self.out.insert(vip.to_string(), node.to_string()) {
            if let Some(l) = self.load.get_mut(prev.as_str()) {
                *l = l.saturating_sub(1);
            }
        }
        *self.load.entry(node).or_insert(0) += 1;
    }

    fn unassign(&mut self, vip: &str) {
        if let Some(prev) = self.out.remove(vip) {
            if let Some(l) = self.load.get_mut(prev.as_str()) {
                *l = l.saturating_sub(1);
            }
        }
    }

    fn load(&self, node: &str) -> usize {
        self.load.get(node).copied().unwrap_or(0)
    }
}

/// The desired assignment.
pub fn place(input: &Input) -> Assignment {
    let mut st = State {
        input,
        out: Assignment::new(),
        load: BTreeMap::new(),
    };
    let usable = input
        .nodes
        .iter()
        .filter(|n| n.online && !n.standby)
        .count();
    let cap = if usable == 0 {
        0
    } else {
        input.vips.len().div_ceil(usable)
    };
    // VIPs in a fixed order: placement never depends on the order the caller listed them in.
    let mut vips: Vec<&Vip> = input.vips.iter().collect();
    vips.sort_by(|a, b| a.name.cmp(&b.name));
    vips.dedup_by(|a, b| a.name == b.name);

    // 2 and 3: moves by hand, then stickiness.
    for v in &vips {
        if let Some(n) = input.moves.get(&v.name).and_then(|n| st.node(n)) {
            if st.eligible(&v.name, n) {
                st.assign(&v.name, &n.name);
            }
        }
    }
    for v in &vips {
        if st.out.contains_key(&v.name) {
            continue;
        }
        if let Some(n) = input.current.get(&v.name).and_then(|n| st.node(n)) {
            if st.eligible(&v.name, n) {
                st.assign(&v.name, &n.name);
            }
        }
    }
    // 4: the rest.
    place_rest(&mut st, &vips, cap);
    // 5: bounded rebalancing (a move may free room for a VIP anti-affinity kept out).
    // Repeated until nothing moves: a VIP placed after a move can take a node over the cap
    // again (the only node its constraints allow), and the next round must not find more to do.
    // Each pass only moves VIPs off nodes above the cap, so it ends; the bound guards that.
    if !input.rebalance_after.is_zero() && input.quiet_for >= input.rebalance_after {
        for _ in 0..=vips.len() {
            let before = st.out.clone();
            rebalance(&mut st, &vips, cap);
            place_rest(&mut st, &vips, cap);
            if st.out == before {
                break;
            }
        }
    }
    st.out
}

fn place_rest(st: &mut State<'_>, vips: &[&Vip], cap: usize) {
    for v in vips {
        if !st.out.contains_key(&v.name) {
            if let Some(n) = choose(st, v, cap) {
                st.assign(&v.name, n);
            }
        }
    }
}

/// The node for `v` among the eligible ones: its preferred node when under the cap, else the
/// least loaded, ties by rendezvous score.
fn choose<'a>(st: &State<'a>, v: &Vip, cap: usize) -> Option<&'a str> {
    let ok = |n: &Node| st.eligible(&v.name, n);
    if let Some(p) = v.prefer.as_deref().and_then(|p| st.node(p)) {
        if ok(p) && st.load(&p.name) < cap {
            return Some(p.name.as_str());
        }
    }
    st.input
        .nodes
        .iter()
        .filter(|n| ok(n))
        .min_by(|a, b| {
            st.load(&a.name)
                .cmp(&st.load(&b.name))
                .then_with(|| score(&v.name, &b.name).cmp(&score(&v.name, &a.name)))
                .then_with(|| a.name.cmp(&b.name))
        })
        .map(|n| n.name.as_str())
}

/// `vip` sits where a move by hand put it: rebalancing (weaker, rule 5) leaves it there, or the
/// next round would put it back and displace what rebalancing placed meanwhile.
fn held_by_move(st: &State<'_>, vip: &str) -> bool {
    st.input
        .moves
        .get(vip)
        .is_some_and(|to| st.out.get(vip) == Some(to))
}

fn rebalance(st: &mut State<'_>, vips: &[&Vip], cap: usize) {
    let after = st.input.rebalance_after;
    let stable = |n: &Node| n.online_for >= after;
    // Preferred nodes first: a VIP goes back to its `prefer` node once that node is stable.
    for v in vips {
        let Some(p) = v.prefer.as_deref().and_then(|p| st.node(p)) else {
            continue;
        };
        if st.out.get(&v.name).map(String::as_str) == Some(p.name.as_str())
            || !stable(p)
            || held_by_move(st, &v.name)
        {
            continue;
        }
        let from = st.out.get(&v.name).cloned();
        st.unassign(&v.name);
        if st.eligible(&v.name, p) && st.load(&p.name) < cap {
            st.assign(&v.name, &p.name);
        } else if let Some(f) = from.as_deref().and_then(|f| st.node(f)) {
            st.assign(&v.name, &f.name);
        }
    }
    // Then the spread: move from nodes above the cap to stable nodes below it. Each move
    // lowers the excess by one, so the loop ends; the bound guards the invariant anyway.
    for _ in 0..vips.len() {
        let Some(over) = st
            .input
            .nodes
            .iter()
            .filter(|n| st.load(&n.name) > cap)
            .max_by(|a, b| {
                st.load(&a.name)
                    .cmp(&st.load(&b.name))
                    .then_with(|| b.name.cmp(&a.name))
            })
        else {
            break;
        };
        // Among the VIPs of the loaded node, the one a stable under-cap node wants most.
        let mut best: Option<(u64, String, &str)> = None;
        for v in vips {
            if st.out.get(&v.name) != Some(&over.name) {
                continue;
            }
            if v.prefer.as_deref() == Some(over.name.as_str()) || held_by_move(st, &v.name) {
                continue;
            }
            for n in &st.input.nodes {
                if n.name == over.name || !stable(n) || st.load(&n.name) + 1 > cap {
                    continue;
                }
                if !st.eligible(&v.name, n) {
                    continue;
                }
                let s = score(&v.name, &n.name);
                if best.as_ref().is_none_or(|(bs, _, _)| s > *bs) {
                    best = Some((s, v.name.clone(), n.name.as_str()));
                }
            }
        }
        let Some((_, vip, to)) = best else { break };
        st.assign(&vip, to);
    }
}

#[cfg(test)]
#[path = "placement_tests.rs"]
mod tests;
