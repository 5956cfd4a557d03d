//! Proxy and server ids as HAProxy 2.6 numbers them (`fe_id`, `be_id`, `srv_id`, the
//! stats' `iid`/`sid`, a stick table's `server_id`): an explicit `id N` keeps N; the others
//! take, in configuration order, the lowest free id from a counter that steps past every
//! proxy or server, numbered or not (cfgparse.c's `get_next_id` loop). With a `stats socket`
//! HAProxy's own CLI proxy ("GLOBAL") comes first and takes id 1 when free.

use crate::model::{Config, Proxy};

/// `explicit[i]`: the id item `i` was given, if any. Returns every item's id.
fn number(explicit: &[Option<u32>], reserved_first: bool) -> Vec<u32> {
    let used: Vec<u32> = explicit.iter().flatten().copied().collect();
    let mut taken = used.clone();
    let mut next = 1u32;
    let next_free = |next: u32, taken: &[u32]| {
        let mut n = next;
        while taken.contains(&n) {
            n += 1;
        }
        n
    };
    if reserved_first {
        let id = next_free(next, &taken);
        taken.push(id);
        next = id + 1;
    }
    let mut out = Vec::with_capacity(explicit.len());
    for e in explicit {
        let id = match e {
            Some(id) => *id,
            None => {
                let id = next_free(next, &taken);
                taken.push(id);
                next = id;
                id
            }
        };
        out.push(id);
        next += 1;
    }
    out
}

impl Config {
    /// Every proxy's id, in `self.proxies` order.
    pub fn proxy_ids(&self) -> Vec<u32> {
        let explicit: Vec<Option<u32>> =
            self.proxies.iter().map(|p| p.options.keywords.id).collect();
        number(&explicit, !self.global.stats_sockets.is_empty())
    }

    /// The id of proxy `p` (one of `self.proxies`).
    pub fn proxy_id(&self, p: &Proxy) -> u32 {
        let i = self.proxies.iter().position(|x| std::ptr::eq(x, p));
        i.and_then(|i| self.proxy_ids().get(i).copied())
            .unwrap_or(0)
    }
}

impl Proxy {
    /// Every server's id, in `self.servers` order.
    pub fn server_ids(&self) -> Vec<u32> {
        let explicit: Vec<Option<u32>> = self.servers.iter().map(|s| s.id).collect();
        number(&explicit, false)
    }
}

impl Proxy {
    /// Server `index`'s id and whether it was given (`id N`).
    pub fn server_id_of(&self, index: usize) -> (u32, bool) {
        let id = self.server_ids().get(index).copied();
        let forced = self.servers.get(index).is_some_and(|s| s.id.is_some());
        (id.unwrap_or(index as u32 + 1), forced)
    }
}

/// The first id two items share (HAProxy refuses the configuration).
pub fn duplicate(ids: &[Option<u32>]) -> Option<(usize, usize)> {
    for (i, a) in ids.iter().enumerate() {
        let Some(a) = a else { continue };
        if let Some(j) = ids[..i].iter().position(|b| b == &Some(*a)) {
            return Some((j, i));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbering_as_haproxy() {
        // measured with haproxy 2.6: servers a, b (id 1), c -> 2, 1, 4; x (id 4), y -> 4, 2
        assert_eq!(number(&[None, Some(1), None], false), vec![2, 1, 4]);
        assert_eq!(number(&[Some(4), None], false), vec![4, 2]);
        // proxies fe, st (id 2), web, other (id 3) with a stats socket -> 4, 2, 6, 3
        assert_eq!(
            number(&[None, Some(2), None, Some(3)], true),
            vec![4, 2, 6, 3]
        );
        // ... without one -> 1, 2, 4, 3; without ids -> 1, 2, 3, 4 (2, 3, 4, 5 with a socket)
        assert_eq!(
            number(&[None, Some(2), None, Some(3)], false),
            vec![1, 2, 4, 3]
        );
        assert_eq!(number(&[None; 4], true), vec![2, 3, 4, 5]);
    }
}
