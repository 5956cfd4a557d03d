//! The HTML stats page: HAProxy's layout (one table per proxy: its `FRONTEND` line, its
//! servers, its `BACKEND` line; columns Queue, Session rate, Sessions, Bytes, Denied, Errors,
//! Warnings, Responses, Server), one colour per state, compact CSS, no script. The page
//! updates itself through the `Refresh` header the caller sends (`stats refresh`). With
//! `stats admin` allowed, each backend gets HAProxy's form (server checkboxes and an action)
//! posting to the same URI. Every number cell carries `data-col` (the CSV column name) and
//! every line `data-px`/`data-sv`, so scripts and tests can read the page as reliably as CSV.

use super::admin::Outcome;
use super::snapshot::{RowKind, StatRow};
use std::fmt::Write;

/// What the page shows besides the rows.
pub struct PageOpts<'a> {
    pub uri: &'a str,
    pub refresh: Option<u64>,
    pub admin: bool,
    pub hide_version: bool,
    pub show_legends: bool,
    /// `;up`: hide servers that are not UP.
    pub up_only: bool,
    /// `;st=CODE` of a previous admin action.
    pub status: Option<&'a str>,
    /// Seconds since the process started.
    pub uptime: u64,
    pub pid: u32,
    /// keepalived's virtual servers (LVS), shown in a table after the proxies'.
    pub lvs: &'a [super::lvs::LvsVirtualServer],
}

const CSS: &str = "\
body{font-family:Arial,Helvetica,sans-serif;font-size:12px;margin:8px;background:#fff;color:#000}\
h1{font-size:20px;margin:0 0 2px;color:#1a4d80}h1 span{font-size:12px;color:#777;font-weight:normal}\
h2{font-size:14px;margin:4px 0 8px;background:#20508a;color:#fff;padding:3px 6px}\
a{color:#20508a;text-decoration:none}a:hover{text-decoration:underline}\
.top{display:flex;gap:24px;align-items:flex-start;margin-bottom:10px}\
.top table{border-collapse:collapse}.top td{padding:1px 6px}\
.legend td.sw{width:14px;border:1px solid #999}\
.links a{display:block}\
.msg{padding:4px 8px;margin:6px 0;border:1px solid}.ok{background:#c0ffc0;border-color:#40a040}.ko{background:#ffd0d0;border-color:#c04040}\
table.tbl{border-collapse:collapse;margin:0 0 10px;font-size:11px;white-space:nowrap}\
.tbl th,.tbl td{border:1px solid #bbb;padding:1px 4px}\
.tbl td{text-align:right}.tbl td.name,.tbl td.st,.tbl td.chk{text-align:left}\
.tbl th.px{background:#20508a;color:#fff;text-align:left;font-size:13px;padding:3px 6px}\
.tbl th.px a{color:#fff}\
.tbl tr.t th{background:#e8e8f0;font-weight:normal}\
tr.fe{background:#e0f0ff}tr.be{background:#d0e4ff;font-weight:bold}\
tr.up{background:#c0ffc0}tr.bup{background:#b0d0ff}tr.down{background:#ff9090}\
tr.maint{background:#c0c0ff}tr.drain{background:#ffd0ff}tr.nochk{background:#e0e0e0}\
tr.be.down{background:#ff9090}\
.adm{margin:-6px 0 12px;font-size:11px}\
";

pub(crate) fn esc(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// HAProxy's short durations: `12s`, `3m4s`, `1h2m`, `5d3h`.
pub fn human_secs(s: u64) -> String {
    let (d, h, m, sec) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    }
}

fn row_class(r: &StatRow) -> &'static str {
    match r.kind {
        RowKind::Frontend => "fe",
        RowKind::Backend => {
            if r.status == "UP" {
                "be"
            } else {
                "be down"
            }
        }
        RowKind::Server => match r.status.as_str() {
            "UP" if r.bck == Some(1) => "bup",
            "UP" => "up",
            "DOWN" => "down",
            "MAINT" => "maint",
            "DRAIN" => "drain",
            _ => "nochk",
        },
    }
}

fn num(out: &mut String, col: &str, v: Option<u64>) {
    match v {
        Some(v) => {
            let _ = write!(out, "<td data-col=\"{col}\">{v}</td>");
        }
        None => {
            let _ = write!(out, "<td data-col=\"{col}\"></td>");
        }
    }
}

fn line(out: &mut String, r: &StatRow, o: &PageOpts<'_>) {
    let _ = write!(out, "<tr class=\"{}\" data-px=\"", row_class(r));
    esc(out, &r.pxname);
    out.push_str("\" data-sv=\"");
    esc(out, &r.svname);
    out.push_str("\">");
    if o.admin {
        if r.kind == RowKind::Server {
            out.push_str("<td><input type=\"checkbox\" name=\"s\" value=\"");
            esc(out, &r.svname);
            out.push_str("\"></td>");
        } else {
            out.push_str("<td></td>");
        }
    }
    out.push_str("<td class=\"name\">");
    match r.kind {
        RowKind::Frontend => out.push_str("Frontend"),
        RowKind::Backend => out.push_str("Backend"),
        RowKind::Server => {
            esc(out, &r.svname);
            if o.show_legends {
                if let Some(a) = &r.addr {
                    out.push_str(" <small>");
                    esc(out, a);
                    out.push_str("</small>");
                }
            }
        }
    }
    out.push_str("</td>");
    let sv = r.kind == RowKind::Server;
    num(out, "qcur", r.qcur);
    num(out, "qmax", r.qmax);
    num(out, "qlimit", None);
    num(out, "rate", Some(r.rate));
    num(out, "rate_max", Some(r.rate_max));
    num(out, "rate_lim", None);
    num(out, "scur", Some(r.scur));
    num(out, "smax", Some(r.smax));
    num(out, "slim", r.slim);
    num(out, "stot", Some(r.stot));
    num(out, "lbtot", r.lbtot);
    let last = match r.lastsess {
        Some(s) if s >= 0 => Some(human_secs(s as u64)),
        Some(_) => Some("never".to_string()),
        None => None,
    };
    let _ = write!(
        out,
        "<td data-col=\"lastsess\">{}</td>",
        last.unwrap_or_default()
    );
    num(out, "bin", Some(r.bin));
    num(out, "bout", Some(r.bout));
    num(out, "dreq", r.dreq);
    num(out, "dresp", Some(r.dresp));
    num(out, "ereq", r.ereq);
    num(out, "econ", r.econ);
    num(out, "eresp", r.eresp);
    num(out, "wretr", r.wretr);
    num(out, "wredis", r.wredis);
    for (i, c) in [
        "hrsp_1xx",
        "hrsp_2xx",
        "hrsp_3xx",
        "hrsp_4xx",
        "hrsp_5xx",
        "hrsp_other",
    ]
    .iter()
    .enumerate()
    {
        num(out, c, Some(r.hrsp[i]));
    }
    // Server columns.
    out.push_str("<td class=\"st\" data-col=\"status\">");
    esc(out, &r.status);
    if r.kind != RowKind::Frontend {
        if let Some(c) = r.lastchg {
            let _ = write!(out, " {}", human_secs(c));
        }
    }
    out.push_str("</td><td class=\"chk\" data-col=\"check_status\">");
    if let Some(cs) = &r.check_status {
        esc(out, cs);
        if let Some(code) = r.check_code {
            let _ = write!(out, "/{code}");
        }
        if let Some(d) = r.check_duration_ms {
            let _ = write!(out, " in {d}ms");
        }
        if let Some(desc) = &r.check_desc {
            out.push_str(" <small>");
            esc(out, desc);
            if let Some(i) = &r.last_chk {
                out.push_str(": ");
                esc(out, i);
            }
            out.push_str("</small>");
        }
    }
    out.push_str("</td>");
    num(out, "weight", r.weight.map(u64::from));
    num(
        out,
        "act",
        if sv {
            r.act.map(|a| u64::from(a == 1))
        } else {
            r.act.map(u64::from)
        },
    );
    num(out, "bck", r.bck.map(u64::from));
    num(out, "chkfail", r.chkfail);
    num(out, "chkdown", r.chkdown);
    let _ = write!(
        out,
        "<td data-col=\"downtime\">{}</td>",
        r.downtime.map(human_secs).unwrap_or_default()
    );
    out.push_str("</tr>");
}

const HEAD1: &str = "<th colspan=\"3\">Queue</th><th colspan=\"3\">Session rate</th><th colspan=\"6\">Sessions</th>\
<th colspan=\"2\">Bytes</th><th colspan=\"2\">Denied</th><th colspan=\"3\">Errors</th><th colspan=\"2\">Warnings</th>\
<th colspan=\"6\">Responses</th><th colspan=\"8\">Server</th>";
const HEAD2: &str = "<th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th>\
<th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th>\
<th>Req</th><th>Resp</th><th>Req</th><th>Conn</th><th>Resp</th><th>Retr</th><th>Redis</th>\
<th>1xx</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th>other</th>\
<th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th>";

fn link(out: &mut String, uri: &str, opts: &str, text: &str) {
    out.push_str("<a href=\"");
    esc(out, uri);
    esc(out, opts);
    out.push_str("\">");
    out.push_str(text);
    out.push_str("</a>");
}

/// The whole page.
pub fn render(rows: &[StatRow], o: &PageOpts<'_>) -> String {
    let mut out = String::with_capacity(4096 + rows.len() * 900);
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Statistics Report for fulcrum</title><link rel=\"icon\" href=\"data:,\"><style>");
    out.push_str(CSS);
    out.push_str("</style></head><body>\n<h1>fulcrum");
    if !o.hide_version {
        let _ = write!(out, " <span>version {}</span>", env!("CARGO_PKG_VERSION"));
    }
    let _ = write!(
        out,
        "</h1><h2>Statistics Report for pid {}</h2>\n<div class=\"top\"><table>",
        o.pid
    );
    let _ = write!(
        out,
        "<tr><td>pid</td><td data-col=\"pid\">{}</td></tr>",
        o.pid
    );
    let _ = write!(
        out,
        "<tr><td>uptime</td><td data-col=\"uptime\">{}</td></tr>",
        human_secs(o.uptime)
    );
    let cur: u64 = rows
        .iter()
        .filter(|r| r.kind == RowKind::Frontend)
        .map(|r| r.scur)
        .sum();
    let _ = write!(out, "<tr><td>current sessions</td><td>{cur}</td></tr>");
    match o.refresh {
        Some(s) => {
            let _ = write!(out, "<tr><td>refresh</td><td>every {s}s</td></tr>");
        }
        None => out.push_str("<tr><td>refresh</td><td>off</td></tr>"),
    }
    out.push_str("</table><table class=\"legend\">");
    for (class, text) in [
        ("up", "active UP"),
        ("bup", "backup UP"),
        ("down", "DOWN"),
        ("drain", "DRAIN (no new sessions)"),
        ("maint", "MAINT (maintenance)"),
        ("nochk", "not checked"),
    ] {
        let _ = write!(
            out,
            "<tr class=\"{class}\"><td class=\"sw\"></td><td>{text}</td></tr>"
        );
    }
    out.push_str("</table><div class=\"links\">");
    let mut keep = String::new();
    if o.refresh.is_none() {
        keep.push_str(";norefresh");
    }
    if o.up_only {
        link(&mut out, o.uri, &keep, "Show all servers");
        keep.push_str(";up");
    } else {
        link(
            &mut out,
            o.uri,
            &format!("{keep};up"),
            "Hide servers that are not UP",
        );
    }
    link(&mut out, o.uri, &keep, "Refresh now");
    if o.refresh.is_some() {
        link(
            &mut out,
            o.uri,
            &format!("{keep};norefresh"),
            "Disable refresh",
        );
    } else {
        link(
            &mut out,
            o.uri,
            &keep.replace(";norefresh", ""),
            "Enable refresh",
        );
    }
    link(&mut out, o.uri, ";csv", "CSV export");
    link(&mut out, o.uri, ";json", "JSON export");
    out.push_str("</div></div>\n");
    if let Some((text, ok)) = o.status.and_then(Outcome::message) {
        let _ = writeln!(
            out,
            "<div class=\"msg {}\">{text}</div>",
            if ok { "ok" } else { "ko" }
        );
    }
    let mut i = 0;
    while i < rows.len() {
        let iid = rows[i].iid;
        let j = rows[i..]
            .iter()
            .position(|r| r.iid != iid)
            .map_or(rows.len(), |k| i + k);
        let group = &rows[i..j];
        i = j;
        let name = &group[0].pxname;
        let has_servers = group.iter().any(|r| r.kind == RowKind::Server);
        let form = o.admin && has_servers;
        if form {
            out.push_str("<form method=\"post\" action=\"");
            esc(&mut out, o.uri);
            out.push_str("\">");
        }
        out.push_str("<table class=\"tbl\" id=\"px-");
        esc(&mut out, name);
        let cols = 36 + usize::from(o.admin);
        let _ = write!(out, "\"><tr><th class=\"px\" colspan=\"{cols}\"><a name=\"");
        esc(&mut out, name);
        out.push_str("\">");
        esc(&mut out, name);
        out.push_str("</a></th></tr><tr class=\"t\">");
        if o.admin {
            out.push_str("<th rowspan=\"2\"></th>");
        }
        out.push_str("<th rowspan=\"2\"></th>");
        out.push_str(HEAD1);
        out.push_str("</tr><tr class=\"t\">");
        out.push_str(HEAD2);
        out.push_str("</tr>\n");
        for r in group {
            if o.up_only && r.kind == RowKind::Server && !r.is_up() {
                continue;
            }
            line(&mut out, r, o);
            out.push('\n');
        }
        out.push_str("</table>\n");
        if form {
            out.push_str("<div class=\"adm\">Choose the action to perform on the checked servers: <select name=\"action\">\
<option value=\"\"></option><option value=\"ready\">Set state to READY</option>\
<option value=\"drain\">Set state to DRAIN</option><option value=\"maint\">Set state to MAINT</option></select>");
            let _ = writeln!(out, "<input type=\"hidden\" name=\"b\" value=\"#{iid}\"><input type=\"submit\" value=\"Apply\"></div></form>");
        }
    }
    super::lvs::render(&mut out, o.lvs);
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_haproxys() {
        assert_eq!(human_secs(12), "12s");
        assert_eq!(human_secs(184), "3m4s");
        assert_eq!(human_secs(3720), "1h2m");
        assert_eq!(human_secs(86400 * 5 + 3 * 3600), "5d3h");
    }

    #[test]
    fn names_are_escaped() {
        let mut s = String::new();
        esc(&mut s, "<a&\"b'>");
        assert_eq!(s, "&lt;a&amp;&quot;b&#39;&gt;");
    }
}
