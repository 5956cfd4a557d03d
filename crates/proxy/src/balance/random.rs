//! `balance random[(draws)]`: weighted random draws, keeping the least loaded one.
//!
//! HAProxy draws on its consistent-hash ring; only the distribution is observable, so a
//! weighted draw with a small xorshift generator (seeded per process) is equivalent here.

use super::{Algorithm, Candidate, PickInput};
use std::hash::{BuildHasher, Hasher};

pub struct Random {
    group: Vec<Candidate>,
    total: u64,
    draws: u32,
    state: u64,
}

impl Random {
    pub fn new(group: &[Candidate], draws: u32) -> Self {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(group.len());
        let total = group
            .iter()
            .map(|c| u64::from((c.weight * c.scale).max(1)))
            .sum();
        Random {
            group: group.to_vec(),
            total,
            draws: draws.max(1),
            state: h.finish() | 1,
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn draw(&mut self) -> usize {
        let mut r = self.next() % self.total.max(1);
        for c in &self.group {
            let w = u64::from((c.weight * c.scale).max(1));
            if r < w {
                return c.index;
            }
            r -= w;
        }
        self.group[0].index
    }
}

impl Algorithm for Random {
    fn pick(&mut self, input: &PickInput<'_>) -> Option<usize> {
        let mut best: Option<usize> = None;
        for _ in 0..self.draws {
            let s = self.draw();
            if !(input.has_room)(s) || Some(s) == input.avoid {
                continue;
            }
            if best.is_none_or(|b| (input.served)(s) < (input.served)(b)) {
                best = Some(s);
            }
        }
        if best.is_some() {
            return best;
        }
        // Every draw hit a full or avoided server: take any server with room, else the avoided.
        let usable = |i: usize| (input.has_room)(i);
        self.group
            .iter()
            .map(|c| c.index)
            .find(|&i| usable(i) && Some(i) != input.avoid)
            .or_else(|| input.avoid.filter(|&a| usable(a)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{group, Sim};
    use super::*;

    #[test]
    fn spreads_by_weight() {
        let mut alg = Random::new(&group(&[3, 1]), 1);
        let sim = Sim::new(2);
        let mut counts = [0u32; 2];
        for _ in 0..4000 {
            if let Some(s) = sim.pick(&mut alg, None, b"/", None) {
                counts[s] += 1;
            }
        }
        assert!(counts[0] > 2600 && counts[0] < 3400, "{counts:?}");
    }
}
