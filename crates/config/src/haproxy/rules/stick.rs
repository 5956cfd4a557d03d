//! Stick tables and stick rules: `stick-table type ... size ... expire ... store ...`, and
//! `stick on|match|store-request|store-response SAMPLE [table T] [if|unless COND]`.

use super::super::acl::parse_fetch;
use super::super::line::{number, time, Line};
use super::*;
use crate::model::{Reference, StickKeyType, StickRule, StickRuleKind, StickTable};
use crate::units;
use fulcrum_sample::expr::{compile_with, Compiler};
use fulcrum_sample::fetch::Needs;

/// `stick-table type T [len N] size N [expire T] [nopurge] [peers P] [store D,...]`
pub fn stick_table(line: &Line<'_>) -> Result<StickTable, String> {
    let mut key_type = None;
    let mut len = None;
    let mut size = None;
    let mut expire = None;
    let mut nopurge = false;
    let mut store = Vec::new();
    let mut peers = None;
    let mut i = 1;
    while let Some(w) = line.arg(i) {
        match w {
            "type" => {
                key_type = Some(match line.need(i + 1, "ip, ipv6, integer, string or binary")? {
                    "ip" => StickKeyType::Ip,
                    "ipv6" => StickKeyType::Ipv6,
                    "integer" => StickKeyType::Integer,
                    "string" => StickKeyType::String,
                    "binary" => StickKeyType::Binary,
                    other => return Err(format!("stick-table type must be ip, ipv6, integer, string or binary, found '{other}'")),
                });
                i += 2;
            }
            "len" => {
                len = Some(number(line.need(i + 1, "a length")?, "len")?);
                i += 2;
            }
            "size" => {
                size = Some(units::parse_size(line.need(i + 1, "a size such as 200k")?)?);
                i += 2;
            }
            "expire" => {
                expire = Some(time(line.need(i + 1, "a time")?, "expire")?);
                i += 2;
            }
            "nopurge" => {
                nopurge = true;
                i += 1;
            }
            "peers" => {
                peers = Some(line.need(i + 1, "the name of a 'peers' section")?.to_string());
                i += 2;
            }
            "srvkey" | "write-to" | "recv-only" => i += if w == "recv-only" { 1 } else { 2 },
            "store" => {
                for item in split_items(line.need(i + 1, "data types")?) {
                    let name = item.split('(').next().unwrap_or(item);
                    if !STORE_TYPES.contains(&name) {
                        return Err(format!("stick-table store: data type '{name}' is not kept by fulcrum yet (it keeps {})", STORE_TYPES.join(", ")));
                    }
                    store.push(item.to_string());
                }
                i += 2;
            }
            other => return Err(format!("unknown stick-table option '{other}' (expected type, len, size, expire, nopurge, peers or store)")),
        }
    }
    let key_type =
        key_type.ok_or("stick-table needs 'type' (ip, ipv6, integer, string or binary)")?;
    let size = size.ok_or("stick-table needs 'size'")?;
    Ok(StickTable {
        span: line.span.clone(),
        key_type,
        len,
        size,
        expire,
        nopurge,
        store,
        peers,
    })
}

/// The `stick-table ... store` data types fulcrum keeps (the proxy's `persist::track_data`,
/// which checks their arguments): HAProxy 2.6's list but `server_key` (written by stick
/// rules, not stored by name).
pub const STORE_TYPES: &[&str] = &[
    "conn_cnt",
    "conn_cur",
    "conn_rate",
    "sess_cnt",
    "sess_rate",
    "http_req_cnt",
    "http_req_rate",
    "http_err_cnt",
    "http_err_rate",
    "http_fail_cnt",
    "http_fail_rate",
    "gpc0",
    "gpc0_rate",
    "gpc1",
    "gpc1_rate",
    "gpt0",
    "gpt",
    "gpc",
    "gpc_rate",
    "bytes_in_cnt",
    "bytes_out_cnt",
    "bytes_in_rate",
    "bytes_out_rate",
    "server_id",
];

/// A `store` list split on the commas outside parentheses (`gpc_rate(2,10s),conn_cnt`).
fn split_items(list: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in list.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&list[start..]);
    out
}

/// `stick on|match|store-request|store-response PATTERN [table T] [if|unless COND]`
pub fn stick_rule(line: &Line<'_>) -> Result<StickRule, String> {
    let kind = match line.need(1, "on, match, store-request or store-response")? {
        "on" => StickRuleKind::On,
        "match" => StickRuleKind::Match,
        "store-request" => StickRuleKind::StoreRequest,
        "store-response" => StickRuleKind::StoreResponse,
        other => {
            return Err(format!(
                "'stick' expects on, match, store-request or store-response, found '{other}'"
            ))
        }
    };
    let sample = line.need(2, "a sample such as src")?;
    // The pattern is a sample expression: compiled here for its errors (with the column);
    // a response's for `store-response`, the request's otherwise.
    let available = if kind == StickRuleKind::StoreResponse {
        Needs::Response
    } else {
        Needs::Request
    };
    let mut c = Compiler::default().with_available(available);
    let e = compile_with(sample, &mut c)
        .map_err(|e| format!("stick pattern '{sample}': column {}: {}", e.col, e.msg))?;
    super::super::logformat::check_answered(e.fetch.kw.name)
        .map_err(|e| format!("stick pattern '{sample}': {e}"))?;
    let fetch = match parse_fetch(sample.split(',').next().unwrap_or(sample)) {
        Ok(f) => f,
        Err(_) => crate::model::Fetch {
            name: e.fetch.kw.name.to_string(),
            arg: None,
        },
    };
    let mut i = 3;
    let mut table = None;
    if line.arg(i) == Some("table") {
        table = Some(Reference {
            name: line.need(i + 1, "a table name")?.to_string(),
            span: line.span.clone(),
        });
        i += 2;
    }
    let condition = cond_at(line, i)?;
    Ok(StickRule {
        span: line.span.clone(),
        kind,
        fetch,
        expr: sample.to_string(),
        table,
        condition,
    })
}
