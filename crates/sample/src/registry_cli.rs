//! The runtime socket's map and ACL commands on a [`Registry`], answered as HAProxy 2.6
//! answers them: `show map|acl [REF]`, `get map|acl REF VALUE`, `add map REF KEY VALUE`,
//! `add map REF <<` with a payload, `add acl REF PATTERN`, `set map REF KEY|#ID VALUE`, `del map|acl REF KEY|#ID`,
//! `clear map|acl REF`. A change is applied to every compiled set of the reference, so live
//! traffic sees it at the next lookup. Pure (given the registry).

use crate::registry::{Consumer, Entry, Reference, Registry};
use crate::value::Value;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Map,
    Acl,
}

impl Kind {
    fn unknown(self) -> String {
        match self {
            Kind::Map => "Unknown map identifier. Please use #<id> or <file>.\n".into(),
            Kind::Acl => "Unknown ACL identifier. Please use #<id> or <file>.\n".into(),
        }
    }

    fn has(self, r: &Reference) -> bool {
        match self {
            Kind::Map => r.is_map,
            Kind::Acl => r.is_acl,
        }
    }
}

/// `#ID` or the file as the config names it.
pub(crate) fn find_ref<'a>(
    refs: &'a mut [Reference],
    map: bool,
    name: &str,
) -> Option<&'a mut Reference> {
    find(refs, if map { Kind::Map } else { Kind::Acl }, name)
}

fn find<'a>(refs: &'a mut [Reference], kind: Kind, name: &str) -> Option<&'a mut Reference> {
    let by_id = name.strip_prefix('#').map(|n| n.parse::<u32>().ok());
    refs.iter_mut()
        .filter(|r| kind.has(r))
        .find(|r| match by_id {
            Some(id) => id == Some(r.id),
            None => r.file.as_deref() == Some(name),
        })
}

/// Whether an entry is named by `key` (its key, or `#0x...` its id).
fn names(e: &Entry, key: &str) -> bool {
    match key.strip_prefix("#0x") {
        Some(hex) => u64::from_str_radix(hex, 16).is_ok_and(|u| u == e.uid),
        None => e.key == key,
    }
}

impl Registry {
    /// Answers `words` if they are a map or ACL command (`None`: not one).
    pub fn cli(&self, words: &[&str]) -> Option<String> {
        let kind = match words.get(1) {
            Some(&"map") => Kind::Map,
            Some(&"acl") => Kind::Acl,
            _ => return None,
        };
        let verb = *words.first()?;
        if ![
            "show", "get", "add", "del", "set", "clear", "prepare", "commit",
        ]
        .contains(&verb)
            || (verb == "set" && kind == Kind::Acl)
        {
            return None;
        }
        let args = &words[2..];
        let Ok(mut inner) = self.inner.lock() else {
            return Some("Internal error.\n".into());
        };
        // `prepare`, `commit` and `@VERSION` forms (`registry_versions.rs`)
        let (ver, args) = match args.first() {
            Some(a) if a.starts_with('@') && ["add", "show", "clear", "commit"].contains(&verb) => {
                (Some(&a[1..]), &args[1..])
            }
            _ => (None, args),
        };
        if let Some(answer) =
            crate::registry_versions::cli(&mut inner, verb, kind == Kind::Map, ver, args)
        {
            return Some(answer);
        }
        let out = match verb {
            "show" => match args.first() {
                None => list(&inner.refs, kind),
                Some(name) => match find(&mut inner.refs, kind, name) {
                    None => kind.unknown(),
                    Some(r) => show(r),
                },
            },
            "get" => {
                let (Some(name), Some(value)) = (args.first(), args.get(1)) else {
                    return Some(match kind {
                        Kind::Map => "Missing map identifier and/or key.\n".into(),
                        Kind::Acl => "Missing ACL identifier and/or key.\n".into(),
                    });
                };
                match find(&mut inner.refs, kind, name) {
                    None => kind.unknown(),
                    Some(r) => get(r, kind, value),
                }
            }
            // `add map REF <<` with a payload of `KEY VALUE` lines (the session passes it as
            // one last word after PAYLOAD): it wins over any KEY VALUE words, as in 2.6
            "add"
                if kind == Kind::Map
                    && args.len() >= 2
                    && args.last().is_some_and(|a| a.starts_with(PAYLOAD)) =>
            {
                let payload = args.last().map_or("", |a| &a[PAYLOAD.len()..]);
                let (lines, missing) = payload_lines(payload);
                let uids: Vec<u64> = lines.iter().map(|_| inner.uid()).collect();
                match find(&mut inner.refs, kind, args[0]) {
                    None => kind.unknown(),
                    Some(r) => {
                        let mut out = String::new();
                        for ((key, value), uid) in lines.iter().zip(uids) {
                            out = add(r, uid, key, Some(value));
                            if !out.is_empty() {
                                break;
                            }
                        }
                        match missing {
                            Some(key) if out.is_empty() => {
                                format!("Missing value for key '{key}'.\n")
                            }
                            _ => out,
                        }
                    }
                }
            }
            "add" => {
                let ok = match kind {
                    Kind::Map => args.len() == 3,
                    Kind::Acl => args.len() == 2,
                };
                if !ok {
                    return Some(match kind {
                        Kind::Map => "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n".into(),
                        Kind::Acl => "'add acl' expects two parameters: ACL identifier and pattern.\n".into(),
                    });
                }
                let uid = inner.uid();
                // `add acl` finds map references too (to refuse them, as HAProxy).
                let found = match kind {
                    Kind::Acl => find(&mut inner.refs, Kind::Acl, args[0])
                        .map(|r| r.id)
                        .or_else(|| find(&mut inner.refs, Kind::Map, args[0]).map(|r| r.id)),
                    Kind::Map => find(&mut inner.refs, kind, args[0]).map(|r| r.id),
                };
                match found.and_then(|id| inner.refs.iter_mut().find(|r| r.id == id)) {
                    None => kind.unknown(),
                    Some(r) if kind == Kind::Acl && r.is_map => "This ACL is shared with a map containing samples. You must use the command 'add map' to add values.\n".into(),
                    Some(r) => add(r, uid, args[1], args.get(2).copied()),
                }
            }
            "set" => {
                if args.len() != 3 {
                    return Some(
                        "'set map' expects three parameters: map identifier, key and value.\n"
                            .into(),
                    );
                }
                match find(&mut inner.refs, kind, args[0]) {
                    None => kind.unknown(),
                    Some(r) => set(r, args[1], args[2]),
                }
            }
            "del" => {
                if args.len() < 2 {
                    return Some(match kind {
                        Kind::Map => {
                            "This command expects two parameters: map identifier and key.\n".into()
                        }
                        Kind::Acl => {
                            "This command expects two parameters: ACL identifier and key.\n".into()
                        }
                    });
                }
                match find(&mut inner.refs, kind, args[0]) {
                    None => kind.unknown(),
                    Some(r) => del(r, args[1]),
                }
            }
            _ => match args.first() {
                None => match kind {
                    Kind::Map => "Missing map identifier.\n".into(),
                    Kind::Acl => "Missing ACL identifier.\n".into(),
                },
                Some(name) => match find(&mut inner.refs, kind, name) {
                    None => kind.unknown(),
                    Some(r) => {
                        clear(r);
                        String::new()
                    }
                },
            },
        };
        Some(out)
    }
}

/// Marks the word that carries an `add map REF <<` payload (no typed word starts with NUL).
pub const PAYLOAD: &str = "\0payload:";

/// HAProxy 2.6's reading of an `add map` payload (cli_parse_add_map): a key runs to the
/// first space or tab (a newline does not end it), the value from the next non-blank to the
/// end of the line. A key with nothing after it is "missing a value" (returned apart: the
/// lines before it are still added). haproxy's payload does not end with the last line's
/// newline, and an empty one reads as one newline.
pub(crate) fn payload_lines(payload: &str) -> (Vec<(String, String)>, Option<String>) {
    let payload = payload.strip_suffix('\n').unwrap_or(payload);
    let mut rest = if payload.is_empty() { "\n" } else { payload };
    let mut out = Vec::new();
    while !rest.is_empty() {
        let k = rest.find([' ', '\t']).unwrap_or(rest.len());
        let key = &rest[..k];
        if k == rest.len() {
            return (out, Some(key.to_string()));
        }
        rest = rest[k + 1..].trim_start_matches([' ', '\t']);
        let v = rest.find('\n').unwrap_or(rest.len());
        out.push((key.to_string(), rest[..v].to_string()));
        rest = rest.get(v + 1..).unwrap_or("");
    }
    (out, None)
}

fn list(refs: &[Reference], kind: Kind) -> String {
    let mut out = String::from("# id (file) description\n");
    let mut refs: Vec<&Reference> = refs.iter().filter(|r| kind.has(r)).collect();
    refs.sort_by_key(|r| r.id);
    for r in refs {
        let desc = match &r.file {
            Some(f) => {
                let by = if r.users.is_empty() {
                    String::new()
                } else {
                    format!(" used by {}", r.used_by())
                };
                format!("pattern loaded from file '{f}'{by}")
            }
            None => {
                let (f, l) =
                    r.at.as_ref()
                        .map_or((String::new(), 0), |(f, l)| (f.to_string(), *l));
                format!("acl '{}' file '{f}' line {l}", r.criterion)
            }
        };
        out.push_str(&format!(
            "{} ({}) {desc}. curr_ver={} next_ver={} entry_cnt={}\n",
            r.id,
            r.file.as_deref().unwrap_or(""),
            r.curr_ver,
            r.next_ver,
            r.entry_cnt
        ));
    }
    out
}

pub(crate) fn show(r: &Reference) -> String {
    let mut out = String::new();
    for e in &r.entries {
        match &e.value {
            Some(v) if r.is_map => out.push_str(&format!("0x{:x} {} {v}\n", e.uid, e.key)),
            _ => out.push_str(&format!("0x{:x} {}\n", e.uid, e.key)),
        }
    }
    out
}

/// HAProxy's `idx=`: whether the entry found is in a tree or a list.
fn idx(tree: bool) -> &'static str {
    if tree {
        "tree"
    } else {
        "list"
    }
}

fn get(r: &Reference, kind: Kind, value: &str) -> String {
    let v = Value::str(value);
    let mut out = String::new();
    // An ACL line compiled several times (a named ACL in several conditions) is one set to
    // HAProxy: answer for one of them.
    let mut order: Vec<usize> = (0..r.consumers.len()).collect();
    let at = |i: usize| r.consumer_at.get(i).cloned().flatten();
    // Maps are resolved after parsing, each line's put first (a line's own in the order they
    // are written: measured with `map_reg` and `map_regm` of one file on one line); ACLs are
    // kept in file order.
    if kind == Kind::Map {
        order.sort_by_key(|&i| std::cmp::Reverse(at(i)));
    } else {
        order.sort_by_key(|&i| at(i));
    }
    if r.file.is_none() {
        order.truncate(1);
    }
    for c in order.iter().map(|&i| &r.consumers[i]) {
        match c {
            Consumer::Map(m) if kind == Kind::Map => {
                let Ok(m) = m.read() else { continue };
                let how = m.how.name();
                match m.lookup_entry(&v) {
                    Some((k, val, tree)) => out.push_str(&format!(
                        "type={how}, case=sensitive, found=yes, idx={}, key=\"{}\", value=\"{}\", type=\"str\"\n",
                        idx(tree),
                        String::from_utf8_lossy(&k),
                        String::from_utf8_lossy(&val)
                    )),
                    None => out.push_str(&format!("type={how}, case=sensitive, found=no\n")),
                }
            }
            Consumer::Acl(s) if kind == Kind::Acl => {
                let Ok(s) = s.read() else { continue };
                let how = s.method.name();
                let case = if s.icase { "insensitive" } else { "sensitive" };
                match s.find_entry(&v) {
                    Some((p, tree)) => out.push_str(&format!(
                        "type={how}, case={case}, match=yes, idx={}, pattern=\"{p}\"\n",
                        idx(tree)
                    )),
                    None => out.push_str(&format!("type={how}, case={case}, match=no\n")),
                }
            }
            _ => {}
        }
    }
    out
}

pub(crate) fn add(r: &mut Reference, uid: u64, key: &str, value: Option<&str>) -> String {
    if let Some(e) = refused(r, key, value) {
        return e;
    }
    for c in &r.consumers {
        match c {
            Consumer::Map(m) => {
                if let Ok(mut m) = m.write() {
                    let _ = m.insert(uid, key, value.unwrap_or(""));
                }
            }
            Consumer::Acl(s) => {
                if let Ok(mut s) = s.write() {
                    let _ = s.insert(uid, key);
                }
            }
        }
    }
    r.entries.push(Entry {
        uid,
        key: key.to_string(),
        value: value.map(str::to_string),
    });
    // Once per compiled set HAProxy would have (an ACL line compiled twice here is one).
    r.entry_cnt += match r.file {
        None => 1,
        Some(_) => r.consumers.len().max(1) as i64,
    };
    String::new()
}

/// The message when a compiled set of `r` refuses `key` (checked against every set first:
/// nothing changes when one refuses it).
pub(crate) fn refused(r: &mut Reference, key: &str, value: Option<&str>) -> Option<String> {
    for c in &r.consumers {
        let ip = match c {
            Consumer::Map(m) => m.read().is_ok_and(|m| m.how == crate::map::Match::Ip),
            Consumer::Acl(s) => s
                .read()
                .is_ok_and(|s| s.method == crate::pattern::Method::Ip),
        };
        let err = match c {
            Consumer::Map(m) => m.read().ok().and_then(|m| {
                let mut probe = crate::map::Map::new(m.how);
                probe.add(key, value.unwrap_or("")).err()
            }),
            Consumer::Acl(s) => s.read().ok().and_then(|s| {
                let mut probe = crate::pattern::Patterns::new(s.method, s.icase);
                probe.add(key).err()
            }),
        };
        if let Some(e) = err {
            // HAProxy 2.6 counts the refused entry's removal (its `entry_cnt` goes down).
            r.entry_cnt -= 1;
            return Some(if ip {
                format!("'{key}' is not a valid IPv4 or IPv6 address.\n")
            } else {
                format!("{e}.\n")
            });
        }
    }
    None
}

pub(crate) fn set(r: &mut Reference, key: &str, value: &str) -> String {
    let mut uids = Vec::new();
    for e in r.entries.iter_mut().filter(|e| names(e, key)) {
        e.value = Some(value.to_string());
        uids.push(e.uid);
    }
    if uids.is_empty() {
        return "entry not found.\n".into();
    }
    for c in &r.consumers {
        if let Consumer::Map(m) = c {
            if let Ok(mut m) = m.write() {
                for u in &uids {
                    m.set_uid(*u, value);
                }
            }
        }
    }
    String::new()
}

pub(crate) fn del(r: &mut Reference, key: &str) -> String {
    let gone: Vec<u64> = r
        .entries
        .iter()
        .filter(|e| names(e, key))
        .map(|e| e.uid)
        .collect();
    if gone.is_empty() {
        return "Key not found.\n".into();
    }
    r.entries.retain(|e| !names(e, key));
    r.entry_cnt -= gone.len() as i64;
    // Each compiled set loses those entries alone (no rebuild: a big map stays cheap to edit).
    for c in &r.consumers {
        match c {
            Consumer::Map(m) => {
                if let Ok(mut m) = m.write() {
                    for u in &gone {
                        m.remove_uid(*u);
                    }
                }
            }
            Consumer::Acl(s) => {
                if let Ok(mut s) = s.write() {
                    for u in &gone {
                        s.remove_uid(*u);
                    }
                }
            }
        }
    }
    String::new()
}

pub(crate) fn clear(r: &mut Reference) {
    r.entry_cnt -= r.entries.len() as i64;
    r.entries.clear();
    rebuild(r);
}

/// Refills every compiled set from the entries (they were valid when added). Each new set
/// is built aside and swapped in, so lookups wait only for the swap.
pub(crate) fn rebuild(r: &Reference) {
    for c in &r.consumers {
        match c {
            Consumer::Map(m) => {
                let Some(how) = m.read().ok().map(|m| m.how) else {
                    continue;
                };
                let mut fresh = crate::map::Map::new(how);
                for e in &r.entries {
                    let _ = fresh.insert(e.uid, &e.key, e.value.as_deref().unwrap_or(""));
                }
                if let Ok(mut m) = m.write() {
                    *m = fresh;
                }
            }
            Consumer::Acl(s) => {
                let Some((method, icase)) = s.read().ok().map(|s| (s.method, s.icase)) else {
                    continue;
                };
                let mut fresh = crate::pattern::Patterns::new(method, icase);
                for e in &r.entries {
                    let _ = fresh.insert(e.uid, &e.key);
                }
                if let Ok(mut s) = s.write() {
                    *s = fresh;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
