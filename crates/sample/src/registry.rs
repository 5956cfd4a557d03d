//! The pattern references of one configuration generation (HAProxy's "references"): each map
//! file, each `-f` ACL file and each ACL line's inline patterns is one table, shared by every
//! `map_*` converter and every ACL that names it, so a runtime socket change (`add map`, `del
//! acl`, ...) reaches every rule using it at once.
//!
//! A reference keeps its entries as written (what `show map` prints) and the compiled sets
//! made from them ([`Map`]s per match method, [`Patterns`] per method and `-i`); a change is
//! applied to the entries and to every compiled set under their locks.
//!
//! Compiling registers into the registry of the current scope ([`scope`]): the proxy builds a
//! generation inside one scope, so everything it compiles shares one registry; a compile
//! outside any scope (`fulcrum check`, tests) gets a registry of its own. [`at`] tells the
//! registry which config line is being compiled (HAProxy's "used by map at file 'F' line N").

use crate::map::{Map, Match};
use crate::pattern::{Method, Patterns};
use std::cell::RefCell;
use std::sync::{Arc, Mutex, RwLock};

/// A compiled set made from a reference.
#[derive(Debug, Clone)]
pub enum Consumer {
    Map(Arc<RwLock<Map>>),
    Acl(Arc<RwLock<Patterns>>),
}

/// One entry as written: a map's key and value, or an ACL pattern.
#[derive(Debug, Clone)]
pub struct Entry {
    /// A unique id, printed as HAProxy prints the entry's address (`del map REF #0x...`).
    pub uid: u64,
    pub key: String,
    pub value: Option<String>,
}

/// One reference: a file, or one ACL line's inline patterns.
#[derive(Debug)]
pub struct Reference {
    /// HAProxy's unique id (`#ID`), given by [`Registry::number`].
    pub id: u32,
    /// The file as the config names it; `None`: inline ACL patterns.
    pub file: Option<String>,
    pub is_map: bool,
    pub is_acl: bool,
    /// Inline: the ACL's criterion keyword (`src`, `path_beg`).
    pub criterion: String,
    /// Where it was first used (config file, line).
    pub at: Option<(Arc<str>, u32)>,
    /// The config lines using it (HAProxy's "used by" list; see [`Reference::used_by`]).
    pub users: Vec<(Arc<str>, u32, &'static str)>,
    pub entries: Vec<Entry>,
    /// HAProxy 2.6's `entry_cnt` (counts an entry once per compiled set it was loaded into).
    pub entry_cnt: i64,
    pub consumers: Vec<Consumer>,
    /// Where each consumer was first compiled (HAProxy lists the last created first).
    pub consumer_at: Vec<Option<(Arc<str>, u32)>>,
    seq: u64,
    /// `prepare map|acl`: the version lookups see (`curr_ver`) and the last one prepared
    /// (`next_ver`); entries added to another version wait in `staged` until `commit`.
    pub curr_ver: u32,
    pub next_ver: u32,
    pub staged: Vec<(u32, Entry)>,
}

/// Every reference of one generation.
#[derive(Debug, Default)]
pub struct Registry {
    pub(crate) inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub refs: Vec<Reference>,
    next_uid: u64,
    next_seq: u64,
}

impl Inner {
    pub(crate) fn uid(&mut self) -> u64 {
        self.next_uid += 1;
        // Looks like the addresses HAProxy prints, and never repeats within a generation.
        0x5600_0000_0000 + self.next_uid * 0x50
    }
}

thread_local! {
    static SCOPE: RefCell<Option<Arc<Registry>>> = const { RefCell::new(None) };
    static AT: RefCell<Option<(Arc<str>, u32)>> = const { RefCell::new(None) };
}

/// Runs `f` with `reg` as the registry every compile registers into.
pub fn scope<R>(reg: &Arc<Registry>, f: impl FnOnce() -> R) -> R {
    let prev = SCOPE.with(|s| s.replace(Some(reg.clone())));
    struct Restore(Option<Arc<Registry>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            SCOPE.with(|s| *s.borrow_mut() = prev);
        }
    }
    let _restore = Restore(prev);
    f()
}

/// The registry of the current scope, or a new one outside any scope.
pub fn current() -> Arc<Registry> {
    SCOPE
        .with(|s| s.borrow().clone())
        .unwrap_or_else(|| Arc::new(Registry::default()))
}

/// While alive, compiles register as used at `file:line`.
pub struct At(Option<(Arc<str>, u32)>);

impl Drop for At {
    fn drop(&mut self) {
        let prev = self.0.take();
        AT.with(|a| *a.borrow_mut() = prev);
    }
}

/// Sets the config line being compiled (restored when the guard drops).
pub fn at(file: &Arc<str>, line: u32) -> At {
    At(AT.with(|a| a.replace(Some((file.clone(), line)))))
}

/// Compiles under this guard belong to no config line (predefined ACLs): no inline reference.
pub fn nowhere() -> At {
    At(AT.with(|a| a.replace(None)))
}

fn location() -> Option<(Arc<str>, u32)> {
    AT.with(|a| a.borrow().clone())
}

impl Reference {
    fn use_at(&mut self, at: Option<(Arc<str>, u32)>, kind: &'static str) {
        if let Some((f, l)) = at {
            let user = (f, l, kind);
            if !self.users.contains(&user) {
                self.users.push(user);
            }
        }
    }

    /// HAProxy 2.6's "used by" text: map users (resolved after parsing, each put first) in
    /// reverse config order, then ACL users (parsed) in config order.
    pub fn used_by(&self) -> String {
        let mut maps: Vec<_> = self.users.iter().filter(|u| u.2 == "map").collect();
        let mut acls: Vec<_> = self.users.iter().filter(|u| u.2 == "acl").collect();
        maps.sort();
        maps.reverse();
        acls.sort();
        maps.iter()
            .chain(acls.iter())
            .map(|(f, l, kind)| format!("{kind} at file '{f}' line {l}"))
            .collect::<Vec<_>>()
            .join(", by ")
    }
}

/// Map file lines: `key value` (comments and blank lines skipped).
pub(crate) fn lines(text: &str, with_value: bool) -> Vec<(String, Option<String>)> {
    numbered_lines(text, with_value)
        .map(|(_, k, v)| (k, v))
        .collect()
}

/// The entries of a map or pattern file with their line numbers (from 1). As HAProxy 2.6, a
/// line is a comment only when `#` is its first byte (an indented `# x` is an entry whose key
/// is `#`), and blank lines are skipped.
pub(crate) fn numbered_lines(
    text: &str,
    with_value: bool,
) -> impl Iterator<Item = (usize, String, Option<String>)> + '_ {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#'))
        .map(|(n, l)| (n + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .map(move |(n, l)| {
            if !with_value {
                return (n, l.to_string(), None);
            }
            match l.split_once(|c: char| c.is_ascii_whitespace()) {
                Some((k, v)) => (n, k.to_string(), Some(v.trim().to_string())),
                None => (n, l.to_string(), Some(String::new())),
            }
        })
}

impl Registry {
    fn new_ref(inner: &mut Inner, file: Option<String>, criterion: &str) -> usize {
        inner.next_seq += 1;
        inner.refs.push(Reference {
            id: 0,
            file,
            is_map: false,
            is_acl: false,
            criterion: criterion.to_string(),
            at: location(),
            users: Vec::new(),
            entries: Vec::new(),
            entry_cnt: 0,
            consumers: Vec::new(),
            consumer_at: Vec::new(),
            seq: inner.next_seq,
            curr_ver: 0,
            next_ver: 0,
            staged: Vec::new(),
        });
        inner.refs.len() - 1
    }

    /// The file reference `file` (as the config writes it), read by `read` the first time.
    pub(crate) fn file_ref(
        inner: &mut Inner,
        file: &str,
        with_value: bool,
        read: impl FnOnce() -> Result<String, String>,
    ) -> Result<usize, String> {
        if let Some(i) = inner
            .refs
            .iter()
            .position(|r| r.file.as_deref() == Some(file))
        {
            return Ok(i);
        }
        let text = read()?;
        let i = Registry::new_ref(inner, Some(file.to_string()), "");
        for (key, value) in lines(&text, with_value) {
            let uid = inner.uid();
            inner.refs[i].entries.push(Entry { uid, key, value });
        }
        Ok(i)
    }

    /// The map made from `file` for match `how` (one per file and match, shared).
    pub fn map(
        &self,
        file: &str,
        how: Match,
        read: impl FnOnce() -> Result<String, String>,
    ) -> Result<Arc<RwLock<Map>>, String> {
        let mut inner = self.inner.lock().map_err(|_| "registry poisoned")?;
        let i = Registry::file_ref(&mut inner, file, true, read)?;
        let r = &mut inner.refs[i];
        r.is_map = true;
        r.use_at(location(), "map");
        for c in &r.consumers {
            if let Consumer::Map(m) = c {
                if m.read().is_ok_and(|m| m.how == how) {
                    return Ok(m.clone());
                }
            }
        }
        let mut map = Map::new(how);
        for (n, e) in r.entries.iter().enumerate() {
            map.insert(e.uid, &e.key, e.value.as_deref().unwrap_or(""))
                .map_err(|e| format!("map file '{file}' entry {}: {e}", n + 1))?;
        }
        r.entry_cnt += r.entries.len() as i64;
        let map = Arc::new(RwLock::new(map));
        r.consumers.push(Consumer::Map(map.clone()));
        r.consumer_at.push(location());
        Ok(map)
    }

    /// The pattern set made from `file` for `method`/`icase` (`-M`: the file is a map, its
    /// keys are the patterns).
    pub fn acl_file(
        &self,
        file: &str,
        method: Method,
        icase: bool,
        as_map: bool,
        read: impl FnOnce() -> Result<String, String>,
    ) -> Result<Arc<RwLock<Patterns>>, String> {
        let mut inner = self.inner.lock().map_err(|_| "registry poisoned")?;
        let i = Registry::file_ref(&mut inner, file, as_map, read)?;
        let r = &mut inner.refs[i];
        r.is_acl = true;
        r.use_at(location(), "acl");
        for c in &r.consumers {
            if let Consumer::Acl(s) = c {
                if s.read()
                    .is_ok_and(|s| s.method == method && s.icase == icase)
                {
                    return Ok(s.clone());
                }
            }
        }
        let mut set = Patterns::new(method, icase);
        for (n, e) in r.entries.iter().enumerate() {
            set.insert(e.uid, &e.key)
                .map_err(|e| format!("pattern file '{file}' entry {}: {e}", n + 1))?;
        }
        r.entry_cnt += r.entries.len() as i64;
        let set = Arc::new(RwLock::new(set));
        r.consumers.push(Consumer::Acl(set.clone()));
        r.consumer_at.push(location());
        Ok(set)
    }

    /// Registers an ACL line's inline patterns (`set`, compiled from `texts`) at the current
    /// config line; the same line compiled again (a named ACL used by several conditions)
    /// joins the same reference.
    pub fn acl_inline(&self, criterion: &str, texts: &[String], set: &Arc<RwLock<Patterns>>) {
        let Some(at) = location() else { return };
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let same = |r: &Reference| {
            r.file.is_none()
                && r.criterion == criterion
                && r.at.as_ref() == Some(&at)
                && r.entries.iter().map(|e| &e.key).eq(texts.iter())
        };
        let i = match inner.refs.iter().position(same) {
            Some(i) => i,
            None => {
                let i = Registry::new_ref(&mut inner, None, criterion);
                for t in texts {
                    let uid = inner.uid();
                    inner.refs[i].entries.push(Entry {
                        uid,
                        key: t.clone(),
                        value: None,
                    });
                }
                inner.refs[i].is_acl = true;
                inner.refs[i].entry_cnt = texts.len() as i64;
                i
            }
        };
        let r = &mut inner.refs[i];
        // The set numbers its patterns as the reference does (to change one by its id).
        if let Ok(mut s) = set.write() {
            s.clear();
            for e in &r.entries {
                let _ = s.insert(e.uid, &e.key);
            }
        }
        r.consumers.push(Consumer::Acl(set.clone()));
        r.consumer_at.push(Some(at));
    }

    /// Gives the unique ids as HAProxy 2.6 does: ACL references first in the order of their
    /// config lines, then map references (resolved after parsing) in the order of their
    /// first use.
    pub fn number(&self) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let key = |r: &Reference| {
            let (f, l) =
                r.at.as_ref()
                    .map_or((String::new(), 0), |(f, l)| (f.to_string(), *l));
            (!r.is_acl, f, l, r.seq)
        };
        inner.refs.sort_by_key(key);
        for (n, r) in inner.refs.iter_mut().enumerate() {
            r.id = n as u32;
        }
    }

    /// How many references there are.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.refs.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
