//! Server selection: one small type per `balance` algorithm, behind one trait.
//!
//! An algorithm is built from the backend's *usable group* (the active servers that are up, or
//! the backup servers when none is, as HAProxy does) and is rebuilt when that group changes.
//! `pick` yields one server; calling it again with the previous choice in `avoid` yields the
//! next candidate, which is how retries and `option redispatch` move on. Algorithms are pure:
//! no clock, no sockets; counters come in through `PickInput`. Each file keeps HAProxy's exact
//! arithmetic for its algorithm, so the observable order of chosen servers is HAProxy's.

mod first;
pub mod hash;
mod leastconn;
mod map;
mod random;
mod roundrobin;

use fulcrum_config::model::Balance;
use std::net::IpAddr;

/// A usable server as the algorithm sees it: its index in the backend and its `weight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub index: usize,
    pub weight: u32,
    /// HAProxy's `w` (effective weight = weight × scale): [`WEIGHT_SCALE`], less during a
    /// server's slow start (the dynamic algorithms use it; the static map ones do not).
    pub scale: u32,
}

/// What a request offers to the hashing algorithms, and the servers' current load.
pub struct PickInput<'a> {
    pub src: Option<IpAddr>,
    /// Request target as written on the request line (path and query).
    pub uri: &'a [u8],
    /// Value of the header named by `balance hdr(NAME)`, when present.
    pub header: Option<&'a [u8]>,
    /// A server to avoid if another one can be used (the one that just failed).
    pub avoid: Option<usize>,
    /// Whether a server (by backend index) may take one more request (`maxconn`).
    pub has_room: &'a dyn Fn(usize) -> bool,
    /// Requests in flight per server (by backend index), for leastconn/random/first.
    pub served: &'a dyn Fn(usize) -> u32,
    /// When each server's load last changed (a global sequence), for leastconn's tie order.
    pub changed_at: &'a dyn Fn(usize) -> u64,
}

pub trait Algorithm: Send {
    /// The next server to use, or `None` when every usable server is full.
    fn pick(&mut self, input: &PickInput<'_>) -> Option<usize>;
}

/// Builds the algorithm named by `balance` over `group` (never empty).
pub fn build(balance: &Balance, group: &[Candidate]) -> Box<dyn Algorithm> {
    match balance {
        Balance::Roundrobin => Box::new(roundrobin::Fwrr::new(group)),
        Balance::StaticRr => Box::new(map::StaticRr::new(group)),
        Balance::Leastconn => Box::new(leastconn::Leastconn::new(group)),
        Balance::First => Box::new(first::First::new(group)),
        Balance::Source => Box::new(map::Hashed::new(group, hash::Key::Source)),
        Balance::Uri { whole, len, depth } => Box::new(map::Hashed::new(
            group,
            hash::Key::Uri {
                whole: *whole,
                len: *len,
                depth: *depth,
            },
        )),
        Balance::Hdr {
            use_domain_only, ..
        } => Box::new(map::Hashed::new(
            group,
            hash::Key::Header {
                use_domain_only: *use_domain_only,
            },
        )),
        Balance::UrlParam { param } => Box::new(map::Hashed::new(
            group,
            hash::Key::UrlParam(param.as_bytes().to_vec().into_boxed_slice()),
        )),
        Balance::RdpCookie { .. } => {
            // The RDP cookie is not extracted yet: HAProxy falls back to round robin on the map
            // when the hashed value is absent, which is what this does for every connection.
            Box::new(map::StaticRr::new(group))
        }
        Balance::Random { draws } => Box::new(random::Random::new(group, *draws)),
    }
}

/// HAProxy scales user weights by 16 (`BE_WEIGHT_SCALE`) into effective weights.
pub const WEIGHT_SCALE: u32 = 16;

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use std::cell::RefCell;

    /// Simulates sequential requests: each picked server is busy while `busy` says so.
    pub struct Sim {
        pub served: RefCell<Vec<u32>>,
        pub changed: RefCell<Vec<u64>>,
        pub seq: RefCell<u64>,
        pub maxconn: Vec<Option<u32>>,
    }
    impl Sim {
        pub fn new(n: usize) -> Self {
            Sim {
                served: RefCell::new(vec![0; n]),
                changed: RefCell::new((0..n as u64).collect()),
                seq: RefCell::new(n as u64),
                maxconn: vec![None; n],
            }
        }
        pub fn pick(
            &self,
            alg: &mut dyn Algorithm,
            src: Option<IpAddr>,
            uri: &[u8],
            avoid: Option<usize>,
        ) -> Option<usize> {
            let served = self.served.borrow().clone();
            let changed = self.changed.borrow().clone();
            let room = |i: usize| self.maxconn[i].is_none_or(|m| served[i] < m);
            let s = |i: usize| served[i];
            let c = |i: usize| changed[i];
            let input = PickInput {
                src,
                uri,
                header: None,
                avoid,
                has_room: &room,
                served: &s,
                changed_at: &c,
            };
            alg.pick(&input)
        }
        pub fn take(&self, i: usize) {
            self.served.borrow_mut()[i] += 1;
            self.touch(i);
        }
        pub fn release(&self, i: usize) {
            self.served.borrow_mut()[i] -= 1;
            self.touch(i);
        }
        fn touch(&self, i: usize) {
            let mut s = self.seq.borrow_mut();
            *s += 1;
            self.changed.borrow_mut()[i] = *s;
        }
    }

    pub fn group(weights: &[u32]) -> Vec<Candidate> {
        weights
            .iter()
            .enumerate()
            .map(|(index, &weight)| Candidate {
                index,
                weight,
                scale: WEIGHT_SCALE,
            })
            .collect()
    }
}
