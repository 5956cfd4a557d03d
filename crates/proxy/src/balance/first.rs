//! `balance first`: the first server (declaration order) that still has room under `maxconn`.

use super::{Algorithm, Candidate, PickInput};

pub struct First {
    order: Vec<usize>,
}

impl First {
    pub fn new(group: &[Candidate]) -> Self {
        First {
            order: group.iter().map(|c| c.index).collect(),
        }
    }
}

impl Algorithm for First {
    fn pick(&mut self, input: &PickInput<'_>) -> Option<usize> {
        let mut avoided = None;
        for &i in &self.order {
            if (input.has_room)(i) {
                if Some(i) == input.avoid {
                    avoided = Some(i);
                    continue;
                }
                return Some(i);
            }
        }
        avoided
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{group, Sim};
    use super::*;

    #[test]
    fn fills_servers_in_order() {
        let mut alg = First::new(&group(&[1, 1]));
        let mut sim = Sim::new(2);
        sim.maxconn = vec![Some(2), Some(2)];
        let mut got = Vec::new();
        for _ in 0..4 {
            let s = sim.pick(&mut alg, None, b"/", None).unwrap_or(99);
            sim.take(s);
            got.push(s);
        }
        assert_eq!(got, vec![0, 0, 1, 1]);
        assert_eq!(sim.pick(&mut alg, None, b"/", None), None);
    }
}
