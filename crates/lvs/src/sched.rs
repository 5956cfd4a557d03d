//! LVS schedulers as slot tables: which member each of T slots sends a new flow to.
//!
//! `rr`: every member with a weight once. `wrr`: LVS's interleaved weighted sequence (the
//! current weight steps down by the gcd from the maximum; each round takes every member at
//! least that heavy), so 3:1 gives a,a,a,b and 2:4 gives b,a,b. `lc`/`wlc`/`sed`/`nq` are
//! `wrr` over weights divided by (1 + active connections) (see build::least_conn).
//! `sh`/`dh`/`mh` hash into the same weighted table. Weight 0 takes no slot.

use crate::build::Member;

/// Slot tables are capped (weights are scaled down above this).
pub const MAX_SLOTS: usize = 65536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    RoundRobin,
    Weighted,
    SourceHash,
    DestinationHash,
    Maglev,
}

impl Algo {
    pub fn parse(lb_algo: &str) -> Algo {
        match lb_algo {
            "rr" => Algo::RoundRobin,
            "sh" => Algo::SourceHash,
            "dh" => Algo::DestinationHash,
            "mh" => Algo::Maglev,
            _ => Algo::Weighted,
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Indices into `members`, one per slot.
pub fn slots(members: &[Member], algo: Algo) -> Vec<usize> {
    let mut weights: Vec<u64> = members
        .iter()
        .map(|m| match (algo, m.weight) {
            (_, 0) => 0,
            (Algo::RoundRobin, _) => 1,
            (_, w) => u64::from(w),
        })
        .collect();
    let g = weights.iter().copied().fold(0, gcd);
    if g == 0 {
        return Vec::new();
    }
    for w in &mut weights {
        *w /= g;
    }
    let total: u64 = weights.iter().sum();
    if total > MAX_SLOTS as u64 {
        let scale = total.div_ceil(MAX_SLOTS as u64);
        for w in &mut weights {
            if *w > 0 {
                *w = (*w / scale).max(1);
            }
        }
    }
    let max = weights.iter().copied().max().unwrap_or(0);
    let mut out = Vec::new();
    let mut cw = max;
    while cw > 0 {
        for (i, w) in weights.iter().enumerate() {
            if *w >= cw {
                out.push(i);
            }
        }
        cw -= 1;
    }
    out
}

/// Like `slots`, but starting from the previous assignment (`prev[slot]` = the member now at
/// that index, None if it left): a member keeps the slots it had as far as its new count
/// allows, and only freed or new slots are (re)assigned — so removing one of 1,000 real
/// servers rewrites two elements, not a thousand. Each member still holds exactly its count
/// of the T slots, so `numgen inc mod T` keeps the weights exact over every T flows.
pub fn slots_stable(members: &[Member], algo: Algo, prev: &[Option<usize>]) -> Vec<usize> {
    let ideal = slots(members, algo);
    if prev.is_empty() {
        return ideal;
    }
    let total = ideal.len();
    let mut want = vec![0usize; members.len()];
    for &m in &ideal {
        want[m] += 1;
    }
    let mut have = vec![0usize; members.len()];
    let mut out: Vec<Option<usize>> = (0..total).map(|i| prev.get(i).copied().flatten()).collect();
    for s in &mut out {
        if let Some(m) = *s {
            if m < want.len() && have[m] < want[m] {
                have[m] += 1;
            } else {
                *s = None;
            }
        }
    }
    // Holes are filled in the ideal (interleaved) order by members still short of slots.
    let mut holes = out
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| i)
        .collect::<Vec<_>>()
        .into_iter();
    for &m in &ideal {
        if have[m] < want[m] {
            have[m] += 1;
            if let Some(h) = holes.next() {
                out[h] = Some(m);
            }
        }
    }
    out.into_iter().map(|s| s.unwrap_or(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn m(w: &[u32]) -> Vec<Member> {
        w.iter()
            .enumerate()
            .map(|(i, &weight)| Member {
                ip: IpAddr::from([10, 99, 0, i as u8 + 1]),
                port: 80,
                weight,
                sorry: false,
            })
            .collect()
    }

    #[test]
    fn wrr_interleaves_by_weight() {
        assert_eq!(slots(&m(&[3, 1]), Algo::Weighted), vec![0, 0, 0, 1]);
        assert_eq!(slots(&m(&[2, 4, 0]), Algo::Weighted), vec![1, 0, 1]);
        let s = slots(&m(&[5, 3, 2]), Algo::Weighted);
        assert_eq!(s.len(), 10);
        assert_eq!(s.iter().filter(|&&i| i == 0).count(), 5);
        assert_eq!(s.iter().filter(|&&i| i == 2).count(), 2);
    }

    #[test]
    fn rr_ignores_weights_but_not_zero() {
        assert_eq!(slots(&m(&[3, 1, 0]), Algo::RoundRobin), vec![0, 1]);
        assert!(slots(&m(&[0, 0]), Algo::Weighted).is_empty());
    }

    #[test]
    fn stable_slots_move_only_what_must_move() {
        let ms = m(&[1; 10]);
        let first = slots_stable(&ms, Algo::Weighted, &[]);
        assert_eq!(first, (0..10).collect::<Vec<_>>());
        // Member 3 leaves: its slot is taken by the member of the last slot, which goes.
        let mut gone = ms.clone();
        gone.remove(3);
        // Member indices shift in `gone`: prev maps old slot -> new member index.
        let prev: Vec<Option<usize>> = first
            .iter()
            .map(|&i| match i {
                3 => None,
                i if i > 3 => Some(i - 1),
                i => Some(i),
            })
            .collect();
        let next = slots_stable(&gone, Algo::Weighted, &prev);
        assert_eq!(next.len(), 9);
        let changed = (0..9).filter(|&i| Some(next[i]) != prev[i]).count();
        assert_eq!(changed, 1, "{next:?}");
        // A weight raised: one slot appended, nothing else moves.
        let mut heavier = ms.clone();
        heavier[5].weight = 2;
        let prev: Vec<Option<usize>> = first.iter().map(|&i| Some(i)).collect();
        let next = slots_stable(&heavier, Algo::Weighted, &prev);
        assert_eq!(&next[..10], &first[..]);
        assert_eq!(next[10], 5);
    }

    #[test]
    fn huge_weights_are_capped() {
        let s = slots(&m(&[65535, 65534, 1]), Algo::Weighted);
        assert!(s.len() <= MAX_SLOTS + 3, "{}", s.len());
        assert!(s.contains(&2));
    }
}
