//! The runtime socket's stick-table commands, answered as HAProxy 2.6 answers them:
//! `show table [NAME [data.TYPE OP VALUE ... | key KEY]]`, `clear table NAME [key KEY]`
//! (entries no stream tracks), `set table NAME key KEY data.TYPE VALUE ...`. Entries print
//! as `0xID: key=K use=N exp=MS TYPE=V ...` with the stored types in HAProxy's order and
//! rates as `TYPE(PERIOD_MS)=V`. The level checks are the caller's (`set table` and `show
//! table NAME key K` need `operator`).

use crate::persist::track::Data;
use crate::track::Table;
use fulcrum_config::model::StickKeyType;
use fulcrum_sample::Value;
use std::sync::Arc;
use std::time::Instant;

const CLEAR_USAGE: &str = "Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>\n";

fn type_name(t: StickKeyType) -> &'static str {
    match t {
        StickKeyType::Ip => "ip",
        StickKeyType::Ipv6 => "ipv6",
        StickKeyType::Integer => "integer",
        StickKeyType::String => "string",
        StickKeyType::Binary => "binary",
    }
}

fn header(t: &Table, used: usize) -> String {
    format!(
        "# table: {}, type: {}, size:{}, used:{used}\n",
        t.name,
        type_name(t.key_type()),
        t.size()
    )
}

/// A stable id per key, printed where HAProxy prints the entry's address.
fn entry_id(key: &[u8]) -> u64 {
    let h = key.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    0x5600_0000_0000 | (h & 0xff_ffff_fff0)
}

/// The table's key for the text `k` (`None`: not a key of this type).
fn parse_key(t: &Table, k: &str) -> Option<Vec<u8>> {
    let v = match t.key_type() {
        StickKeyType::Ip => Value::Ipv4(k.parse().ok()?),
        StickKeyType::Ipv6 => Value::Ipv6(k.parse().ok()?),
        StickKeyType::Integer => Value::Sint(k.parse().ok()?),
        StickKeyType::String | StickKeyType::Binary => Value::str(k),
    };
    t.key(v)
}

/// Keys in the order HAProxy's tree walks them.
fn sort_keys(t: &Table, keys: &mut [Vec<u8>]) {
    let text = |k: &Vec<u8>| String::from_utf8_lossy(k).into_owned();
    match t.key_type() {
        StickKeyType::Ip => keys.sort_by_key(|k| text(k).parse::<std::net::Ipv4Addr>().ok()),
        StickKeyType::Ipv6 => keys.sort_by_key(|k| text(k).parse::<std::net::Ipv6Addr>().ok()),
        StickKeyType::Integer => keys.sort_by_key(|k| text(k).parse::<i64>().ok()),
        _ => keys.sort(),
    }
}

fn line(t: &Table, now: Instant, key: &[u8]) -> Option<String> {
    let (used, exp) = t.usage(now, key)?;
    let mut out = format!(
        "0x{:x}: key={} use={used} exp={exp}",
        entry_id(key),
        String::from_utf8_lossy(key)
    );
    let mut store = t.store();
    store.sort_by_key(|(d, _)| d.order());
    // HAProxy 2.6's `server_key` is its data type 19: after `gpc1_rate`, before `http_fail_cnt`
    let server_key = t.server_key(now, key);
    let mut key_done = server_key.is_none();
    for (d, period) in store {
        if !key_done && d.order().0 > 19 {
            out.push_str(&format!(
                " server_key={}",
                server_key.as_deref().unwrap_or("")
            ));
            key_done = true;
        }
        let v = t.read_at(now, key, d).unwrap_or(0);
        if d.is_rate() {
            out.push_str(&format!(" {}({})={v}", d.label(), period.as_millis()));
        } else {
            out.push_str(&format!(" {}={v}", d.label()));
        }
    }
    if let (false, Some(name)) = (key_done, server_key) {
        out.push_str(&format!(" server_key={name}"));
    }
    out.push('\n');
    Some(out)
}

/// `data.TYPE` of a table: the type, or HAProxy's message (an unknown name, or a type the
/// table does not store; an array's name is its first element, as HAProxy 2.6 reads it).
fn data_of(t: &Table, word: &str) -> Result<Data, &'static str> {
    let name = word.strip_prefix("data.").ok_or("Unknown data type\n")?;
    match Data::runtime(name) {
        Some(d) if t.stores(d) => Ok(d),
        Some(_) => Err("Data type not stored in this table\n"),
        None => Err("Unknown data type\n"),
    }
}

/// The live keys (in HAProxy's order) passing every `data.TYPE OP VALUE` filter, or HAProxy's
/// message for a bad filter.
fn matching(t: &Table, now: Instant, filters: &[&str]) -> Result<Vec<Vec<u8>>, String> {
    let mut conds = Vec::new();
    for (n, f) in filters.chunks(3).enumerate() {
        let d = data_of(t, f[0]).map_err(|e| format!("Filter entry #{}: {e}", n + 1))?;
        let op = f.get(1).copied().unwrap_or("");
        if !["eq", "ne", "le", "ge", "lt", "gt"].contains(&op) {
            return Err(format!("Filter entry #{}: Require and operator among \"eq\", \"ne\", \"le\", \"ge\", \"lt\", \"gt\"\n", n + 1));
        }
        let v = f
            .get(2)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| {
                format!(
                    "Filter entry #{}: Require a valid integer value to compare against\n",
                    n + 1
                )
            })?;
        conds.push((d, op, v));
    }
    let mut keys = t.keys(now);
    sort_keys(t, &mut keys);
    keys.retain(|k| {
        conds.iter().all(|(d, op, v)| {
            let x = t.read_at(now, k, *d).unwrap_or(0);
            match *op {
                "eq" => x == *v,
                "ne" => x != *v,
                "le" => x <= *v,
                "ge" => x >= *v,
                "lt" => x < *v,
                _ => x > *v,
            }
        })
    });
    Ok(keys)
}

/// Answers a `show|clear|set table` command (`None`: not one). `tables` in config order;
/// `dump`: the session may see entries (operator level and above).
pub fn answer(tables: &[Arc<Table>], words: &[&str], dump: bool) -> Option<String> {
    let (verb, args) = match words {
        [v @ ("show" | "clear" | "set"), "table", rest @ ..] => (*v, rest),
        _ => return None,
    };
    let now = Instant::now();
    let find = |name: &str| tables.iter().find(|t| t.name == name);
    Some(match verb {
        "show" => {
            let Some(name) = args.first() else {
                // HAProxy lists its proxies last declared first.
                return Some(
                    tables
                        .iter()
                        .rev()
                        .map(|t| header(t, t.live_len(now)))
                        .collect(),
                );
            };
            let Some(t) = find(name) else {
                return Some("No such table\n".into());
            };
            match &args[1..] {
                ["key"] => "Key value expected\n".into(),
                ["key", k, ..] => match parse_key(t, k) {
                    None => String::new(),
                    // An unknown key: nothing at all, not even the header (as HAProxy).
                    Some(key) => match line(t, now, &key) {
                        Some(l) => header(t, t.live_len(now)) + &l,
                        None => String::new(),
                    },
                },
                filters => {
                    let keys = match matching(t, now, filters) {
                        Ok(k) => k,
                        Err(e) => return Some(e),
                    };
                    let mut out = header(t, t.live_len(now));
                    if !dump && !keys.is_empty() {
                        out.push_str("# contents not dumped due to insufficient privileges\n");
                        return Some(out);
                    }
                    for k in keys {
                        out.push_str(&line(t, now, &k).unwrap_or_default());
                    }
                    out
                }
            }
        }
        "clear" => {
            let Some(name) = args.first() else {
                return Some(CLEAR_USAGE.into());
            };
            let Some(t) = find(name) else {
                return Some("No such table\n".into());
            };
            match &args[1..] {
                ["key"] => return Some("Key value expected\n".into()),
                ["key", k, ..] => {
                    if let Some(key) = parse_key(t, k) {
                        t.clear(Some(&key));
                    }
                }
                filters => match matching(t, now, filters) {
                    Ok(keys) => {
                        for k in keys {
                            t.clear(Some(&k));
                        }
                    }
                    Err(e) => return Some(e),
                },
            }
            String::new()
        }
        _ => {
            let Some(name) = args.first() else {
                return Some(String::new());
            };
            let Some(t) = find(name) else {
                return Some("No such table\n".into());
            };
            let (Some(&"key"), Some(k)) = (args.get(1), args.get(2)) else {
                return Some(String::new());
            };
            let Some(key) = parse_key(t, k) else {
                return Some("Invalid key\n".into());
            };
            let mut sets = Vec::new();
            for pair in args[3..].chunks(2) {
                let d = match data_of(t, pair[0]) {
                    Ok(d) => d,
                    Err(e) => return Some(e.into()),
                };
                let Some(v) = pair.get(1).and_then(|v| v.parse::<u64>().ok()) else {
                    return Some("Require a valid integer value to store\n".into());
                };
                sets.push((d, v));
            }
            t.set(now, &key, &sets);
            String::new()
        }
    })
}
