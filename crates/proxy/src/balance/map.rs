//! HAProxy's weighted server map: `static-rr`, and the lookup table of map-based hashing.
//!
//! The map has one slot per unit of effective weight (user weights divided by their greatest
//! common divisor, times 16). Slots are filled so that servers interleave smoothly and, on
//! equal weights, in declaration order — the same table HAProxy's `recalc_server_map` builds,
//! so `static-rr` walks servers in HAProxy's order and a hash lands on HAProxy's server.

use super::hash::{self, Key};
use super::{Algorithm, Candidate, PickInput, WEIGHT_SCALE};

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// The slot table: backend indices, `tot_weight` long.
pub fn build_map(group: &[Candidate]) -> Vec<usize> {
    let weighted: Vec<&Candidate> = group.iter().filter(|c| c.weight > 0).collect();
    if weighted.is_empty() {
        // Every server has weight 0: HAProxy would not use them; keep one slot per server so
        // the backend still answers (a weight-0 group is only built when nothing else is up).
        return group.iter().map(|c| c.index).collect();
    }
    let div = weighted.iter().fold(0u32, |g, c| gcd(g, c.weight)).max(1);
    let eweights: Vec<i64> = weighted
        .iter()
        .map(|c| i64::from((c.weight * WEIGHT_SCALE).div_ceil(div)))
        .collect();
    let tot: i64 = eweights.iter().sum();
    if weighted.len() == 1 {
        return vec![weighted[0].index; 1];
    }
    let mut score = vec![0i64; weighted.len()];
    let mut map = Vec::with_capacity(usize::try_from(tot).unwrap_or(0));
    for _ in 0..tot {
        let mut best: Option<usize> = None;
        let mut max = 0i64;
        for (i, w) in eweights.iter().enumerate() {
            score[i] += w;
            let v = (score[i] + tot) / tot;
            if best.is_none() || v > max {
                max = v;
                best = Some(i);
            }
        }
        if let Some(b) = best {
            score[b] -= tot;
            map.push(weighted[b].index);
        }
    }
    map
}

/// `balance static-rr`: walks the map, skipping full servers, avoiding `avoid` if possible.
pub struct StaticRr {
    map: Vec<usize>,
    next: usize,
}

impl StaticRr {
    pub fn new(group: &[Candidate]) -> Self {
        StaticRr {
            map: build_map(group),
            next: 0,
        }
    }
}

impl Algorithm for StaticRr {
    fn pick(&mut self, input: &PickInput<'_>) -> Option<usize> {
        let n = self.map.len();
        if n == 0 {
            return None;
        }
        let start = self.next % n;
        let mut idx = start;
        let mut avoided: Option<(usize, usize)> = None;
        loop {
            let srv = self.map[idx];
            idx = (idx + 1) % n;
            if (input.has_room)(srv) {
                if Some(srv) != input.avoid {
                    self.next = idx;
                    return Some(srv);
                }
                avoided = Some((srv, idx));
            }
            if idx == start {
                break;
            }
        }
        let (srv, next) = avoided?;
        self.next = next;
        Some(srv)
    }
}

/// `balance source|uri|hdr` with map-based hashing; no hashed value → static round robin.
pub struct Hashed {
    key: Key,
    rr: StaticRr,
    single: bool,
}

impl Hashed {
    pub fn new(group: &[Candidate], key: Key) -> Self {
        Hashed {
            key,
            rr: StaticRr::new(group),
            single: group.len() == 1,
        }
    }
}

impl Algorithm for Hashed {
    fn pick(&mut self, input: &PickInput<'_>) -> Option<usize> {
        if self.rr.map.is_empty() {
            return None;
        }
        // A redispatch after a failure must move on: HAProxy then balances by round robin.
        if input.avoid.is_some() {
            return self.rr.pick(input);
        }
        let h = if self.single {
            Some(0)
        } else {
            hash::hash_of(&self.key, input)
        };
        match h {
            Some(h) => Some(self.rr.map[h as usize % self.rr.map.len()]),
            None => self.rr.pick(input),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{group, Sim};
    use super::*;

    #[test]
    fn equal_weights_interleave_in_declaration_order() {
        let map = build_map(&group(&[1, 1, 1]));
        assert_eq!(map.len(), 48);
        assert_eq!(&map[..6], &[0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn weights_3_1_give_three_to_one() {
        let map = build_map(&group(&[3, 1]));
        assert_eq!(map.len(), 64);
        assert_eq!(map.iter().filter(|&&i| i == 0).count(), 48);
        assert_eq!(&map[..4], &[0, 0, 0, 1]);
    }

    #[test]
    fn static_rr_skips_full_servers_and_avoids() {
        let mut alg = StaticRr::new(&group(&[1, 1]));
        let mut sim = Sim::new(2);
        sim.maxconn = vec![Some(1), None];
        assert_eq!(sim.pick(&mut alg, None, b"/", None), Some(0));
        sim.take(0);
        assert_eq!(sim.pick(&mut alg, None, b"/", None), Some(1));
        assert_eq!(sim.pick(&mut alg, None, b"/", None), Some(1));
        sim.release(0);
        assert_eq!(sim.pick(&mut alg, None, b"/", Some(0)), Some(1));
    }

    #[test]
    fn source_hash_is_stable_across_rebuilds() {
        let g = group(&[1, 1, 1]);
        let sim = Sim::new(3);
        let ip = "10.1.2.3".parse().ok();
        let a = sim.pick(&mut Hashed::new(&g, Key::Source), ip, b"/", None);
        let b = sim.pick(&mut Hashed::new(&g, Key::Source), ip, b"/", None);
        assert_eq!(a, b);
    }
}
