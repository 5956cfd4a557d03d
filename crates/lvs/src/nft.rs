//! The thin adapter: runs `nft`. Each plan's script goes to `nft -f -` as ONE transaction (the
//! kernel applies all of it or none); the kernel's state is read back with `nft -j list`.
//!
//! Why nft's text grammar for writing and JSON only for reading: nftables 1.0.6 (Debian 12)
//! cannot express in JSON what the data plane needs — map updates from the packet path
//! (`update @m { ip saddr : ... }`) have no JSON form ("stmt ops map have no json callback")
//! and `dnat` to a concatenated map loses its port — and the `nftables` crate only wraps that
//! JSON. Reading back is JSON, which nft prints completely for sets, maps and counters.

use crate::core::Purge;
use crate::names::TABLE;
use crate::ruleset::TableId;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("cannot run nft: {0} (is the nftables package installed?)")]
    Spawn(std::io::Error),
    #[error("nft refused the transaction: {0}")]
    Refused(String),
    #[error("nft printed JSON fulcrum cannot read: {0}")]
    Json(String),
}

/// The `nft` binary (overridable for tests and unusual layouts with FULCRUM_NFT).
fn nft() -> Command {
    let bin = std::env::var("FULCRUM_NFT").unwrap_or_else(|_| "nft".into());
    Command::new(bin)
}

/// Applies `script` as one transaction.
pub fn apply(script: &str) -> Result<(), NftError> {
    if script.is_empty() {
        return Ok(());
    }
    let mut child = nft()
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NftError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(NftError::Spawn)?;
    }
    let out = child.wait_with_output().map_err(NftError::Spawn)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NftError::Refused(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// Removes fulcrum's tables (both families) and nothing else; fine when they do not exist.
pub fn remove_tables() -> Result<(), NftError> {
    apply(&format!(
        "add table inet {TABLE}\ndelete table inet {TABLE}\nadd table netdev {TABLE}\ndelete table netdev {TABLE}\n"
    ))
}

fn list(args: &[&str]) -> Result<Option<Value>, NftError> {
    let out = nft()
        .arg("-j")
        .args(args)
        .output()
        .map_err(NftError::Spawn)?;
    if !out.status.success() {
        // "No such file or directory": the object does not exist.
        return Ok(None);
    }
    serde_json::from_slice(&out.stdout)
        .map(Some)
        .map_err(|e| NftError::Json(e.to_string()))
}

fn objects(v: &Value) -> impl Iterator<Item = &Value> {
    v.get("nftables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// What the kernel holds in one of fulcrum's tables: chain names, map elements (static maps:
/// key → value as text) and the counter of each chain's rules.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Held {
    pub chains: Vec<String>,
    pub elements: HashMap<String, usize>,
    /// chain → (packets, bytes) summed over its rules' counters.
    pub counters: HashMap<String, (u64, u64)>,
}

pub fn read_table(id: &TableId) -> Result<Option<Held>, NftError> {
    let Some(v) = list(&["list", "table", id.family, &id.name])? else {
        return Ok(None);
    };
    let mut held = Held::default();
    for o in objects(&v) {
        if let Some(c) = o.get("chain") {
            if let Some(n) = c.get("name").and_then(Value::as_str) {
                held.chains.push(n.to_string());
            }
        }
        if let Some(m) = o.get("map").or_else(|| o.get("set")) {
            if let Some(n) = m.get("name").and_then(Value::as_str) {
                let count = m.get("elem").and_then(Value::as_array).map_or(0, Vec::len);
                held.elements.insert(n.to_string(), count);
            }
        }
        if let Some(r) = o.get("rule") {
            let chain = r.get("chain").and_then(Value::as_str).unwrap_or_default();
            for e in r
                .get("expr")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(c) = e.get("counter") {
                    let p = c.get("packets").and_then(Value::as_u64).unwrap_or(0);
                    let b = c.get("bytes").and_then(Value::as_u64).unwrap_or(0);
                    let entry = held.counters.entry(chain.to_string()).or_default();
                    entry.0 += p;
                    entry.1 += b;
                }
            }
        }
    }
    Ok(Some(held))
}

/// The keys (as nft text) of a dynamic map's elements whose value is `address[ . port]`.
fn keys_pointing_at(map: &Value, address: IpAddr, port: Option<u16>) -> Vec<String> {
    let mut out = Vec::new();
    for e in map
        .get("elem")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some([key, value]) = e.as_array().map(Vec::as_slice) else {
            continue;
        };
        let hit = match (value, port) {
            (Value::String(a), None) => a.parse::<IpAddr>().ok() == Some(address),
            (Value::Object(o), Some(p)) => {
                o.get("concat").and_then(Value::as_array).is_some_and(|c| {
                    c.first()
                        .and_then(Value::as_str)
                        .and_then(|a| a.parse::<IpAddr>().ok())
                        == Some(address)
                        && c.get(1).and_then(Value::as_u64) == Some(u64::from(p))
                })
            }
            _ => false,
        };
        if !hit {
            continue;
        }
        let key = key.get("elem").and_then(|e| e.get("val")).unwrap_or(key);
        if let Some(k) = nft_text(key) {
            out.push(k);
        }
    }
    out
}

/// A key as nft text: `1.2.3.4`, or `1.2.3.4 . 40000` for a concatenation.
fn nft_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => {
            let parts: Option<Vec<String>> =
                o.get("concat")?.as_array()?.iter().map(nft_text).collect();
            parts.map(|p| p.join(" . "))
        }
        _ => None,
    }
}

/// Deletes the persistence entries that point at real servers which left; returns how many.
pub fn purge(purges: &[Purge]) -> Result<usize, NftError> {
    let mut script = String::new();
    let mut n = 0;
    for p in purges {
        if p.whole {
            n += 1;
            script.push_str(&format!(
                "flush set {} {} {}\n",
                p.table.family, p.table.name, p.map
            ));
            continue;
        }
        let Some(v) = list(&["list", "map", p.table.family, &p.table.name, &p.map])? else {
            continue;
        };
        for o in objects(&v) {
            if let Some(m) = o.get("map") {
                for k in keys_pointing_at(m, p.address, p.port) {
                    n += 1;
                    script.push_str(&format!(
                        "delete element {} {} {} {{ {k} }}\n",
                        p.table.family, p.table.name, p.map
                    ));
                }
            }
        }
    }
    // Entries may expire between the listing and the deletion: best effort, one by one then.
    if apply(&script).is_err() {
        for line in script.lines() {
            let _ = apply(line);
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_persistence_entries_by_value() {
        let m: Value = serde_json::from_str(r#"{"name":"p","elem":[[{"elem":{"val":"1.2.3.4","expires":49}},{"concat":["10.0.0.5",80]}],[{"elem":{"val":"1.2.3.5","timeout":20,"expires":19}},{"concat":["10.0.0.6",80]}],["1.2.3.6",{"concat":["10.0.0.5",80]}]]}"#).unwrap();
        let a: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(
            keys_pointing_at(&m, a, Some(80)),
            vec!["1.2.3.4", "1.2.3.6"]
        );
        assert!(keys_pointing_at(&m, a, Some(81)).is_empty());
        let m: Value = serde_json::from_str(r#"{"elem":[["1.2.3.4","10.0.0.5"]]}"#).unwrap();
        assert_eq!(keys_pointing_at(&m, a, None), vec!["1.2.3.4"]);
        // DR flows: concatenated keys.
        let m: Value = serde_json::from_str(r#"{"elem":[[{"elem":{"val":{"concat":["10.99.0.1",40000]},"expires":800}},"10.0.0.5"]]}"#).unwrap();
        assert_eq!(keys_pointing_at(&m, a, None), vec!["10.99.0.1 . 40000"]);
    }
}
