//! HAProxy 2.6's stats CSV (`show stat`, `stats uri;csv`): the same 128 columns in the same
//! order, and the same columns left empty for each kind of line, so tools written for HAProxy
//! (prometheus haproxy_exporter, hatop, dashboards) read fulcrum's unchanged.
//!
//! [`field`] is the single place that maps a [`StatRow`] to a column's value; the JSON form
//! reuses it. Columns of HAProxy features fulcrum does not have (compression, caches, agents,
//! SSL, HTTP/2) are written as HAProxy writes them for a proxy that does not use the feature.

use super::snapshot::{RowKind, StatRow};
use std::fmt::Write;

/// HAProxy 2.6's columns, in order (the general ones, the `-` separator, then the SSL, HTTP/2
/// and HTTP/1 modules' ones).
pub const COLUMNS: &[&str] = &[
    "pxname",
    "svname",
    "qcur",
    "qmax",
    "scur",
    "smax",
    "slim",
    "stot",
    "bin",
    "bout",
    "dreq",
    "dresp",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "status",
    "weight",
    "act",
    "bck",
    "chkfail",
    "chkdown",
    "lastchg",
    "downtime",
    "qlimit",
    "pid",
    "iid",
    "sid",
    "throttle",
    "lbtot",
    "tracked",
    "type",
    "rate",
    "rate_lim",
    "rate_max",
    "check_status",
    "check_code",
    "check_duration",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
    "hanafail",
    "req_rate",
    "req_rate_max",
    "req_tot",
    "cli_abrt",
    "srv_abrt",
    "comp_in",
    "comp_out",
    "comp_byp",
    "comp_rsp",
    "lastsess",
    "last_chk",
    "last_agt",
    "qtime",
    "ctime",
    "rtime",
    "ttime",
    "agent_status",
    "agent_code",
    "agent_duration",
    "check_desc",
    "agent_desc",
    "check_rise",
    "check_fall",
    "check_health",
    "agent_rise",
    "agent_fall",
    "agent_health",
    "addr",
    "cookie",
    "mode",
    "algo",
    "conn_rate",
    "conn_rate_max",
    "conn_tot",
    "intercepted",
    "dcon",
    "dses",
    "wrew",
    "connect",
    "reuse",
    "cache_lookups",
    "cache_hits",
    "srv_icur",
    "src_ilim",
    "qtime_max",
    "ctime_max",
    "rtime_max",
    "ttime_max",
    "eint",
    "idle_conn_cur",
    "safe_conn_cur",
    "used_conn_cur",
    "need_conn_est",
    "uweight",
    "agg_server_status",
    "agg_server_check_status",
    "agg_check_status",
    "-",
    "ssl_sess",
    "ssl_reused_sess",
    "ssl_failed_handshake",
    "h2_headers_rcvd",
    "h2_data_rcvd",
    "h2_settings_rcvd",
    "h2_rst_stream_rcvd",
    "h2_goaway_rcvd",
    "h2_detected_conn_protocol_errors",
    "h2_detected_strm_protocol_errors",
    "h2_rst_stream_resp",
    "h2_goaway_resp",
    "h2_open_connections",
    "h2_backend_open_streams",
    "h2_total_connections",
    "h2_backend_total_streams",
    "h1_open_connections",
    "h1_open_streams",
    "h1_total_connections",
    "h1_total_streams",
    "h1_bytes_in",
    "h1_bytes_out",
    "h1_spliced_bytes_in",
    "h1_spliced_bytes_out",
];

/// One value as HAProxy types it.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Empty,
    Str(String),
    /// Unsigned; `wide` says HAProxy types it u64 (counters) rather than u32.
    U(u64, bool),
    S(i64),
}

fn u(v: u64) -> Field {
    Field::U(v, false)
}
fn u64f(v: u64) -> Field {
    Field::U(v, true)
}
fn opt(v: Option<u64>) -> Field {
    v.map_or(Field::Empty, u)
}
fn s(v: &str) -> Field {
    Field::Str(v.to_string())
}

/// The value of column `col` (an entry of [`COLUMNS`]) for `r`.
pub fn field(r: &StatRow, col: &str) -> Field {
    let fe = r.kind == RowKind::Frontend;
    let be = r.kind == RowKind::Backend;
    let sv = r.kind == RowKind::Server;
    let only = |on: bool, f: Field| if on { f } else { Field::Empty };
    let http_fe = fe && r.mode == fulcrum_config::model::Mode::Http;
    match col {
        "pxname" => s(&r.pxname),
        "svname" => s(&r.svname),
        "qcur" => opt(r.qcur),
        "qmax" => opt(r.qmax),
        "scur" => u(r.scur),
        "smax" => u(r.smax),
        "slim" => opt(r.slim),
        "stot" => u64f(r.stot),
        "bin" => u64f(r.bin),
        "bout" => u64f(r.bout),
        "dreq" => r.dreq.map_or(Field::Empty, u64f),
        "dresp" => u64f(r.dresp),
        "ereq" => r.ereq.map_or(Field::Empty, u64f),
        "econ" => r.econ.map_or(Field::Empty, u64f),
        "eresp" => r.eresp.map_or(Field::Empty, u64f),
        "wretr" => r.wretr.map_or(Field::Empty, u64f),
        "wredis" => r.wredis.map_or(Field::Empty, u64f),
        "status" => s(&r.status),
        "weight" => opt(r.weight.map(u64::from)),
        "act" => opt(r.act.map(u64::from)),
        "bck" => opt(r.bck.map(u64::from)),
        "chkfail" => r.chkfail.map_or(Field::Empty, u64f),
        "chkdown" => r.chkdown.map_or(Field::Empty, u64f),
        "lastchg" => opt(r.lastchg),
        "downtime" => opt(r.downtime),
        "pid" => u(1),
        "iid" => u(u64::from(r.iid)),
        "sid" => u(u64::from(r.sid)),
        "lbtot" => r.lbtot.map_or(Field::Empty, u64f),
        "type" => u(u64::from(r.kind.code())),
        "rate" => u(r.rate),
        "rate_lim" => only(fe, u(0)),
        "rate_max" => u(r.rate_max),
        "check_status" => r.check_status.as_deref().map_or(Field::Empty, s),
        "check_code" => opt(r.check_code.map(u64::from)),
        "check_duration" => r.check_duration_ms.map_or(Field::Empty, u64f),
        "hrsp_1xx" => u64f(r.hrsp[0]),
        "hrsp_2xx" => u64f(r.hrsp[1]),
        "hrsp_3xx" => u64f(r.hrsp[2]),
        "hrsp_4xx" => u64f(r.hrsp[3]),
        "hrsp_5xx" => u64f(r.hrsp[4]),
        "hrsp_other" => u64f(r.hrsp[5]),
        "req_rate" => opt(r.req_rate),
        "req_rate_max" => opt(r.req_rate_max),
        "req_tot" => u64f(r.req_tot),
        "cli_abrt" => r.cli_abrt.map_or(Field::Empty, u64f),
        "srv_abrt" => r.srv_abrt.map_or(Field::Empty, u64f),
        "comp_in" => only(!sv, u64f(r.comp[0])),
        "comp_out" => only(!sv, u64f(r.comp[1])),
        "comp_byp" => only(!sv, u64f(r.comp[2])),
        "comp_rsp" => only(!sv, u64f(r.comp[3])),
        "lastsess" => r.lastsess.map_or(Field::Empty, Field::S),
        "last_chk" => r.last_chk.as_deref().map_or(Field::Empty, s),
        "qtime" => opt(r.qtime_ms),
        "ctime" => opt(r.ctime_ms),
        "rtime" => opt(r.rtime_ms),
        "ttime" => opt(r.ttime_ms),
        "check_desc" => r.check_desc.as_deref().map_or(Field::Empty, s),
        "check_rise" => opt(r.check_rise.map(u64::from)),
        "check_fall" => opt(r.check_fall.map(u64::from)),
        "check_health" => opt(r.check_health.map(u64::from)),
        "agent_status" => r.agent.as_ref().map_or(Field::Empty, |a| s(&a.status)),
        "agent_code" => opt(r.agent.as_ref().and_then(|a| a.code).map(u64::from)),
        "agent_duration" => r
            .agent
            .as_ref()
            .map_or(Field::Empty, |a| u64f(a.duration_ms)),
        "agent_desc" => r.agent.as_ref().map_or(Field::Empty, |a| s(&a.desc)),
        "last_agt" => r.agent.as_ref().map_or(Field::Empty, |a| s(&a.last)),
        "agent_rise" => opt(r.agent.as_ref().map(|a| u64::from(a.rise))),
        "agent_fall" => opt(r.agent.as_ref().map(|a| u64::from(a.fall))),
        "agent_health" => opt(r.agent.as_ref().map(|a| u64::from(a.health))),
        // HAProxy fills `addr` only with `stats show-legends`; the caller clears it otherwise.
        "addr" => r.addr.as_deref().map_or(Field::Empty, s),
        "cookie" => r.cookie.as_deref().map_or(Field::Empty, s),
        "mode" => s(if r.mode == fulcrum_config::model::Mode::Http {
            "http"
        } else {
            "tcp"
        }),
        "algo" => r.algo.as_deref().map_or(Field::Empty, s),
        "conn_rate" => opt(r.conn_rate),
        "conn_rate_max" => opt(r.conn_rate_max),
        "conn_tot" => r.conn_tot.map_or(Field::Empty, u64f),
        "intercepted" => r.intercepted.map_or(Field::Empty, u64f),
        "dcon" | "dses" => only(fe, u64f(0)),
        "wrew" => u64f(0),
        "connect" => r.connect.map_or(Field::Empty, u64f),
        "reuse" => r.reuse.map_or(Field::Empty, u64f),
        "cache_lookups" => only(!sv, u64f(r.cache[0])),
        "cache_hits" => only(!sv, u64f(r.cache[1])),
        "srv_icur" | "idle_conn_cur" | "safe_conn_cur" | "used_conn_cur" | "need_conn_est" => {
            only(sv, u(0))
        }
        "qtime_max" | "ctime_max" | "rtime_max" | "ttime_max" => {
            let i = ["qtime_max", "ctime_max", "rtime_max", "ttime_max"]
                .iter()
                .position(|c| *c == col)
                .unwrap_or(0);
            r.time_max_ms.map_or(Field::Empty, |m| u(m[i]))
        }
        "eint" => u64f(0),
        "uweight" => opt(r.uweight.map(u64::from)),
        "agg_server_status" | "agg_server_check_status" | "agg_check_status" => only(be, u(0)),
        "-" => s("-"),
        "ssl_sess" => u64f(r.ssl[0]),
        "ssl_reused_sess" => u64f(r.ssl[1]),
        "ssl_failed_handshake" => u64f(r.ssl[2]),
        c if c.starts_with("h2_") => only(!sv, u64f(0)),
        "h1_open_connections" => only(!sv, u64f(if http_fe { r.scur } else { 0 })),
        "h1_open_streams" => only(!sv, u64f(if http_fe { r.scur } else { 0 })),
        "h1_total_connections" => only(!sv, u64f(if http_fe { r.stot } else { 0 })),
        "h1_total_streams" => only(!sv, u64f(if http_fe { r.req_tot } else { 0 })),
        "h1_bytes_in" => only(!sv, u64f(if http_fe { r.bin } else { 0 })),
        "h1_bytes_out" => only(!sv, u64f(if http_fe { r.bout } else { 0 })),
        "h1_spliced_bytes_in" | "h1_spliced_bytes_out" => only(!sv, u64f(0)),
        // qlimit throttle tracked hanafail last_agt agent_* src_ilim: features fulcrum lacks.
        _ => Field::Empty,
    }
}

/// The header line, as HAProxy prints it (`# ` then every column followed by a comma).
pub fn header() -> String {
    let mut out = String::from("# ");
    for c in COLUMNS {
        out.push_str(c);
        out.push(',');
    }
    out.push('\n');
    out
}

/// HAProxy quotes a CSV value only when it holds a comma, a quote or a line break.
fn push_csv(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

/// One line of values (every column followed by a comma, as HAProxy).
pub fn line(r: &StatRow) -> String {
    let mut out = String::with_capacity(512);
    for c in COLUMNS {
        match field(r, c) {
            Field::Empty => {}
            Field::Str(v) => push_csv(&mut out, &v),
            Field::U(v, _) => {
                let _ = write!(out, "{v}");
            }
            Field::S(v) => {
                let _ = write!(out, "{v}");
            }
        }
        out.push(',');
    }
    out.push('\n');
    out
}

/// The whole CSV document: header, then one line per row.
pub fn render(rows: &[StatRow]) -> String {
    let mut out = header();
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_haproxy_26s() {
        // As printed by HAProxy 2.6.12 for `stats uri /stats` + `/stats;csv`.
        let h = header();
        assert!(h.starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,"));
        assert!(
            h.ends_with(",h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,\n")
        );
        assert_eq!(COLUMNS.len(), 128);
        // The columns the Prometheus exporter reads by position.
        assert_eq!(COLUMNS[17], "status");
        assert_eq!(COLUMNS[39], "hrsp_1xx");
        assert_eq!(COLUMNS[32], "type");
    }

    #[test]
    fn values_with_commas_are_quoted() {
        let mut s = String::new();
        push_csv(&mut s, "a,b \"c\"");
        assert_eq!(s, "\"a,b \"\"c\"\"\"");
    }
}
