//! Which certificate answers a ClientHello, as HAProxy chooses: the exact name first, then a
//! wildcard (`*.example.com` covers one label), else the default certificate (`default-crt`,
//! or the first one of the bind line) unless `strict-sni` refuses the handshake. Among
//! certificates for one name (RSA and ECDSA), the first the client can verify wins. Pure.

use std::collections::HashMap;

#[derive(Default)]
pub struct SniIndex {
    exact: HashMap<String, Vec<usize>>,
    /// Wildcards by the suffix after `*.`.
    wild: HashMap<String, Vec<usize>>,
    default: Option<usize>,
    strict: bool,
}

fn clean(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl SniIndex {
    pub fn new(strict: bool) -> Self {
        SniIndex {
            strict,
            ..Default::default()
        }
    }

    /// Entry `idx` answers for `names` except `excluded` (crt-list `!name` filters). The
    /// first entry added is the default until [`set_default`](Self::set_default).
    pub fn add(&mut self, idx: usize, names: &[String], excluded: &[String]) {
        for n in names {
            let n = clean(n);
            if excluded.iter().any(|e| clean(e) == n) {
                continue;
            }
            let (map, key) = match n.strip_prefix("*.") {
                Some(rest) => (&mut self.wild, rest.to_string()),
                None => (&mut self.exact, n),
            };
            let v = map.entry(key).or_default();
            if !v.contains(&idx) {
                v.push(idx);
            }
        }
        if self.default.is_none() {
            self.default = Some(idx);
        }
    }

    pub fn set_default(&mut self, idx: usize) {
        self.default = Some(idx);
    }

    /// The entry for `sni`; `usable(idx)` tells whether the client can use that entry's key.
    pub fn select(&self, sni: Option<&str>, usable: impl Fn(usize) -> bool) -> Option<usize> {
        let pick = |v: &Vec<usize>| {
            v.iter()
                .copied()
                .find(|i| usable(*i))
                .or(v.first().copied())
        };
        if let Some(name) = sni.map(clean) {
            if let Some(v) = self.exact.get(&name) {
                return pick(v);
            }
            if let Some((_, parent)) = name.split_once('.') {
                if let Some(v) = self.wild.get(parent) {
                    return pick(v);
                }
            }
        }
        if self.strict {
            return None;
        }
        self.default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn exact_then_wildcard_then_default() {
        let mut ix = SniIndex::new(false);
        ix.add(0, &s(&["default.test"]), &[]);
        ix.add(1, &s(&["*.example.com"]), &[]);
        ix.add(2, &s(&["a.example.com", "B.test"]), &[]);
        assert_eq!(ix.select(Some("a.example.com"), |_| true), Some(2));
        assert_eq!(ix.select(Some("b.test."), |_| true), Some(2));
        assert_eq!(ix.select(Some("x.example.com"), |_| true), Some(1));
        assert_eq!(ix.select(Some("x.y.example.com"), |_| true), Some(0));
        assert_eq!(ix.select(None, |_| true), Some(0));
        ix.set_default(1);
        assert_eq!(ix.select(Some("other"), |_| true), Some(1));
    }

    #[test]
    fn strict_sni_refuses_unknown_and_missing_names() {
        let mut ix = SniIndex::new(true);
        ix.add(0, &s(&["a.test"]), &[]);
        assert_eq!(ix.select(Some("a.test"), |_| true), Some(0));
        assert_eq!(ix.select(Some("b.test"), |_| true), None);
        assert_eq!(ix.select(None, |_| true), None);
    }

    #[test]
    fn usable_key_wins_and_exclusions_apply() {
        let mut ix = SniIndex::new(false);
        ix.add(0, &s(&["a.test"]), &[]);
        ix.add(1, &s(&["a.test", "c.test"]), &s(&["c.test"]));
        assert_eq!(ix.select(Some("a.test"), |i| i == 1), Some(1));
        assert_eq!(ix.select(Some("a.test"), |_| false), Some(0));
        assert_eq!(ix.select(Some("c.test"), |_| true), Some(0)); // default
    }
}
