//! The nftables objects fulcrum owns, as plain data: tables holding chains (with their rules
//! as nft text) and maps (with their elements), and the minimal transaction turning one
//! ruleset into another.
//!
//! The diff works at the level of map elements and whole small chains: a reweighted or
//! removed real server changes only its slot elements (and the one-rule chain of its virtual
//! server when the slot count changes); the base chains and every other element stay put.
//! Dynamic maps (persistence, DR flows) are learned by the kernel and never rewritten here.
//! With conntrack NAT only a connection's first packet sees these rules, so no change here
//! ever moves or resets an established flow.

use std::collections::BTreeMap;
use std::fmt::Write;

/// `family name`, e.g. `inet fulcrum_lvs`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId {
    pub family: &'static str,
    pub name: String,
}

impl TableId {
    fn spec(&self) -> String {
        format!("{} {}", self.family, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    pub tables: BTreeMap<TableId, Table>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub chains: BTreeMap<String, Chain>,
    pub maps: BTreeMap<String, Map>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chain {
    /// `type nat hook prerouting priority dstnat; policy accept;` for a base chain.
    pub hook: Option<String>,
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Map {
    /// The body of the declaration: `type ... : ...; flags ...;`.
    pub decl: String,
    /// Learned by the kernel (persistence, flows): elements are not managed.
    pub dynamic: bool,
    /// key → value, as nft text (an empty value for a set's element).
    pub elems: BTreeMap<String, String>,
    /// A set (elements without values) rather than a map.
    pub is_set: bool,
}

impl Map {
    fn keyword(&self) -> &'static str {
        if self.is_set {
            "set"
        } else {
            "map"
        }
    }
}

impl Ruleset {
    /// Every element and rule of `self`, counted (for logs and the bench).
    pub fn element_count(&self) -> usize {
        self.tables
            .values()
            .flat_map(|t| t.maps.values())
            .map(|m| m.elems.len())
            .sum()
    }
}

/// The nft script (one atomic transaction under `nft -f -`) that turns `current` into
/// `desired`; empty when nothing changes. Order inside the transaction: new tables, chains and
/// maps; element deletions; element additions; chain rewrites; then removals of chains and
/// maps nothing refers to any more; then removed tables.
pub fn diff(current: &Ruleset, desired: &Ruleset) -> String {
    let empty = Table::default();
    let mut create = String::new();
    let mut del_elems = String::new();
    let mut add_elems = String::new();
    let mut rewrite = String::new();
    let mut remove = String::new();
    let mut drop_tables = String::new();
    for (id, want) in &desired.tables {
        let t = id.spec();
        let have = current.tables.get(id);
        if have.is_none() {
            let _ = writeln!(create, "add table {t}");
        }
        let have = have.unwrap_or(&empty);
        for (name, chain) in &want.chains {
            match have.chains.get(name) {
                None => {
                    match &chain.hook {
                        Some(h) => {
                            let _ = writeln!(create, "add chain {t} {name} {{ {h} }}");
                        }
                        None => {
                            let _ = writeln!(create, "add chain {t} {name}");
                        }
                    }
                    for r in &chain.rules {
                        let _ = writeln!(rewrite, "add rule {t} {name} {r}");
                    }
                }
                // Names encode the hook (and device), so only rules change under a name.
                Some(old) if old.rules != chain.rules => {
                    let _ = writeln!(rewrite, "flush chain {t} {name}");
                    for r in &chain.rules {
                        let _ = writeln!(rewrite, "add rule {t} {name} {r}");
                    }
                }
                Some(_) => {}
            }
        }
        for (name, map) in &want.maps {
            let old = have.maps.get(name);
            let recreate = old.is_some_and(|o| o.decl != map.decl);
            if old.is_none() || recreate {
                if recreate {
                    // Rare (a timeout or size changed): the map is replaced with its elements.
                    let _ = writeln!(create, "delete {} {t} {name}", map.keyword());
                }
                let _ = writeln!(
                    create,
                    "add {} {t} {name} {{ {} }}",
                    map.keyword(),
                    map.decl
                );
            }
            let none = BTreeMap::new();
            let old_elems = match old {
                Some(o) if !recreate => &o.elems,
                _ => &none,
            };
            if map.dynamic {
                continue;
            }
            for (k, v) in old_elems {
                if map.elems.get(k) != Some(v) {
                    let _ = writeln!(del_elems, "delete element {t} {name} {{ {k} }}");
                }
            }
            for (k, v) in &map.elems {
                if old_elems.get(k) != Some(v) {
                    if map.is_set {
                        let _ = writeln!(add_elems, "add element {t} {name} {{ {k} }}");
                    } else {
                        let _ = writeln!(add_elems, "add element {t} {name} {{ {k} : {v} }}");
                    }
                }
            }
        }
        // Chains first flushed (rules may refer to maps and chains), then deleted.
        let mut flushes = String::new();
        let mut deletes = String::new();
        for name in have.chains.keys() {
            if !want.chains.contains_key(name) {
                let _ = writeln!(flushes, "flush chain {t} {name}");
                let _ = writeln!(deletes, "delete chain {t} {name}");
            }
        }
        for (name, old) in &have.maps {
            if !want.maps.contains_key(name) {
                let _ = writeln!(deletes, "delete {} {t} {name}", old.keyword());
            }
        }
        remove.push_str(&flushes);
        remove.push_str(&deletes);
    }
    for id in current.tables.keys() {
        if !desired.tables.contains_key(id) {
            let _ = writeln!(drop_tables, "delete table {}", id.spec());
        }
    }
    [create, del_elems, add_elems, rewrite, remove, drop_tables].concat()
}
