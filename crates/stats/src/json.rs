//! The stats page's `;json` form: HAProxy's typed output, an array with one array per line,
//! each holding one object per non-empty column (`objType`, `proxyId`, `id`, `field` with
//! position and name, `processNum`, `tags`, `value` with HAProxy's type name).
//! Values come from [`super::csv::field`], so CSV and JSON always agree.

use super::csv::{field, Field, COLUMNS};
use super::snapshot::{RowKind, StatRow};
use std::fmt::Write;

/// JSON string escaping (RFC 8259).
pub fn escape(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// HAProxy's tags for a column, close enough for consumers that read them (origin, nature).
fn tags(col: &str) -> (&'static str, &'static str, &'static str) {
    match col {
        "pxname" | "svname" => ("Key", "Name", "Service"),
        "iid" | "sid" | "pid" => ("Key", "Gauge", "Service"),
        "status" | "check_status" | "last_chk" | "check_desc" => ("Status", "Output", "Process"),
        "mode" | "type" | "algo" | "addr" | "cookie" => ("Config", "Output", "Service"),
        "slim" | "rate_lim" | "qlimit" => ("Config", "Limit", "Process"),
        "smax" | "qmax" | "rate_max" | "req_rate_max" | "conn_rate_max" => {
            ("Metric", "Max", "Process")
        }
        "lastchg" | "lastsess" => ("Metric", "Age", "Process"),
        "rate" | "req_rate" | "conn_rate" => ("Metric", "Rate", "Process"),
        "weight" | "uweight" | "qtime" | "ctime" | "rtime" | "ttime" => {
            ("Metric", "Avg", "Process")
        }
        "check_duration" => ("Metric", "Duration", "Process"),
        "qcur" | "scur" | "act" | "bck" => ("Metric", "Gauge", "Process"),
        _ => ("Metric", "Counter", "Process"),
    }
}

/// The JSON document for `rows`.
pub fn render(rows: &[StatRow]) -> String {
    let mut out = String::from("[");
    for (ri, r) in rows.iter().enumerate() {
        if ri > 0 {
            out.push(',');
        }
        out.push('[');
        let obj = match r.kind {
            RowKind::Frontend => "Frontend",
            RowKind::Backend => "Backend",
            RowKind::Server => "Server",
        };
        let mut first = true;
        for (pos, col) in COLUMNS.iter().enumerate() {
            let (ty, val) = match field(r, col) {
                Field::Empty => continue,
                Field::Str(s) => {
                    let mut v = String::new();
                    escape(&mut v, &s);
                    ("str", v)
                }
                Field::U(v, wide) => (if wide { "u64" } else { "u32" }, v.to_string()),
                Field::S(v) => ("s32", v.to_string()),
            };
            if !first {
                out.push(',');
            }
            first = false;
            let (origin, nature, scope) = tags(col);
            let _ = write!(
                out,
                "{{\"objType\":\"{obj}\",\"proxyId\":{},\"id\":{},\"field\":{{\"pos\":{pos},\"name\":",
                r.iid, r.sid
            );
            escape(&mut out, col);
            let _ = write!(
                out,
                "}},\"processNum\":1,\"tags\":{{\"origin\":\"{origin}\",\"nature\":\"{nature}\",\"scope\":\"{scope}\"}},\"value\":{{\"type\":\"{ty}\",\"value\":{val}}}}}"
            );
        }
        out.push(']');
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters() {
        let mut s = String::new();
        escape(&mut s, "a\"b\\c\nd\u{1}");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}
