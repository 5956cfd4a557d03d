//! HAProxy 2.6's pattern versions on the runtime socket: `prepare map|acl REF` opens a new
//! version ("New version created: N"), `add map|acl @N REF ...` (a payload too) fills it
//! without touching what traffic sees, `show|clear map|acl @N REF` read or empty it, and
//! `commit map|acl @N REF` makes it the current one at once (older versions' entries go,
//! newer prepared ones stay). The answers are haproxy 2.6.12's, measured side by side.
//! Pure (given the registry's lock).

use crate::registry::{Entry, Inner, Reference};
use crate::registry_cli::{find_ref, payload_lines, rebuild, refused, PAYLOAD};

/// The answer when `verb` is `prepare` or `commit`, or carries a version other than the
/// current one (`None`: the ordinary command, on the current version, answers).
pub(crate) fn cli(
    inner: &mut Inner,
    verb: &str,
    map: bool,
    ver: Option<&str>,
    args: &[&str],
) -> Option<String> {
    let unknown = || {
        if map {
            "Unknown map identifier. Please use #<id> or <file>.\n".to_string()
        } else {
            "Unknown ACL identifier. Please use #<id> or <file>.\n".to_string()
        }
    };
    let what = if map { "map" } else { "acl" };
    if verb == "prepare" {
        let r = args
            .first()
            .and_then(|name| find_ref(&mut inner.refs, map, name));
        return Some(match r {
            None => unknown(),
            Some(r) => {
                r.next_ver = r.next_ver.wrapping_add(1);
                format!("New version created: {}\n", r.next_ver)
            }
        });
    }
    if verb == "commit" && ver.is_none() {
        return Some("Missing version number.\n".into());
    }
    let Ok(v) = ver?.parse::<u32>() else {
        return Some(unknown());
    };
    // what an `add` would add, read before the reference is borrowed (uids come from `inner`)
    let mut lines: Vec<(String, Option<String>)> = Vec::new();
    let mut missing = None;
    if verb == "add" {
        match (map, args) {
            (true, [_, p]) if p.starts_with(PAYLOAD) => {
                let (l, m) = payload_lines(&p[PAYLOAD.len()..]);
                lines = l.into_iter().map(|(k, v)| (k, Some(v))).collect();
                missing = m;
            }
            (true, [_, k, val]) => lines.push((k.to_string(), Some(val.to_string()))),
            (false, [_, k]) => lines.push((k.to_string(), None)),
            (true, _) => return Some("'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n".into()),
            (false, _) => return Some("'add acl' expects two parameters: ACL identifier and pattern.\n".into()),
        }
    }
    let uids: Vec<u64> = lines.iter().map(|_| inner.uid()).collect();
    let Some(r) = args
        .first()
        .and_then(|name| find_ref(&mut inner.refs, map, name))
    else {
        return Some(unknown());
    };
    // versions after the current one, up to the last prepared, are open
    let beyond = v.wrapping_sub(r.curr_ver) > r.next_ver.wrapping_sub(r.curr_ver);
    match verb {
        "commit" if beyond => Some("Version number out of range.\n".into()),
        "commit" => {
            commit(r, v);
            Some(String::new())
        }
        _ if v == r.curr_ver => None,
        "add" if beyond => Some(format!(
            "Version number in the future, please use 'prepare {what}' before.\n"
        )),
        "add" => {
            for ((key, value), uid) in lines.into_iter().zip(uids) {
                if let Some(e) = refused(r, &key, value.as_deref()) {
                    return Some(e);
                }
                r.staged.push((v, Entry { uid, key, value }));
                r.entry_cnt += 1;
            }
            Some(match missing {
                Some(key) => format!("Missing value for key '{key}'.\n"),
                None => String::new(),
            })
        }
        "show" => Some(show_version(r, v)),
        "clear" => {
            let before = r.staged.len();
            r.staged.retain(|(g, _)| *g != v);
            r.entry_cnt -= (before - r.staged.len()) as i64;
            Some(String::new())
        }
        _ => None,
    }
}

/// Version `v` becomes the current one: the current entries and those of versions between
/// go, `v`'s are what traffic sees from now on.
fn commit(r: &mut Reference, v: u32) {
    let old = r.curr_ver;
    if v == old {
        return;
    }
    let span = v.wrapping_sub(old);
    let mut dropped = r.entries.len();
    r.entries.clear();
    let mut kept = Vec::new();
    for (g, e) in std::mem::take(&mut r.staged) {
        if g == v {
            r.entries.push(e);
        } else if g.wrapping_sub(old) > span {
            kept.push((g, e));
        } else {
            dropped += 1;
        }
    }
    r.staged = kept;
    r.entry_cnt -= dropped as i64;
    r.curr_ver = v;
    rebuild(r);
}

fn show_version(r: &Reference, v: u32) -> String {
    let mut out = String::new();
    for (_, e) in r.staged.iter().filter(|(g, _)| *g == v) {
        match &e.value {
            Some(val) if r.is_map => out.push_str(&format!("0x{:x} {} {val}\n", e.uid, e.key)),
            _ => out.push_str(&format!("0x{:x} {}\n", e.uid, e.key)),
        }
    }
    out
}
