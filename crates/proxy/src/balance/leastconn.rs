//! `balance leastconn`: fewest requests in flight relative to weight.
//!
//! HAProxy keeps servers in a tree keyed by `served * 4096 / (weight * 16)`; among equal keys
//! the server whose load changed longest ago comes first (tree insertion order). The same
//! order is computed here by a scan, which is cheap for the server counts backends have.

use super::{Algorithm, Candidate, PickInput, WEIGHT_SCALE};

const EWGHT_MAX: u64 = 256 * WEIGHT_SCALE as u64;

pub struct Leastconn {
    group: Vec<Candidate>,
}

impl Leastconn {
    pub fn new(group: &[Candidate]) -> Self {
        Leastconn {
            group: group.to_vec(),
        }
    }
}

impl Algorithm for Leastconn {
    fn pick(&mut self, input: &PickInput<'_>) -> Option<usize> {
        let mut best: Option<((u64, u64), usize)> = None;
        let mut avoided: Option<((u64, u64), usize)> = None;
        for c in &self.group {
            if !(input.has_room)(c.index) {
                continue;
            }
            let ew = u64::from(c.weight.max(1) * c.scale);
            let key = (
                u64::from((input.served)(c.index)) * EWGHT_MAX / ew,
                (input.changed_at)(c.index),
            );
            let slot = if Some(c.index) == input.avoid {
                &mut avoided
            } else {
                &mut best
            };
            if !slot.is_some_and(|(k, _)| key >= k) {
                *slot = Some((key, c.index));
            }
        }
        best.or(avoided).map(|(_, i)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{group, Sim};
    use super::*;

    #[test]
    fn sequential_requests_rotate() {
        let mut alg = Leastconn::new(&group(&[1, 1, 1]));
        let sim = Sim::new(3);
        let mut got = Vec::new();
        for _ in 0..6 {
            let s = sim.pick(&mut alg, None, b"/", None).unwrap_or(99);
            sim.take(s);
            sim.release(s);
            got.push(s);
        }
        assert_eq!(got, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn busy_server_is_skipped() {
        let mut alg = Leastconn::new(&group(&[1, 1]));
        let sim = Sim::new(2);
        sim.take(0);
        assert_eq!(sim.pick(&mut alg, None, b"/", None), Some(1));
        sim.take(1);
        sim.take(1);
        assert_eq!(sim.pick(&mut alg, None, b"/", None), Some(0));
    }
}
