//! The runtime API's text formats, from plain views of the process: `show info` (plain and
//! typed, HAProxy 2.6's fields in its order), `show servers state` (format version 1),
//! `show backend`, and fulcrum's `show sess` summary. Pure.

use std::fmt::Write;
use std::time::Duration;

/// What `show info` reports.
#[derive(Debug, Clone, Default)]
pub struct InfoView {
    pub version: String,
    pub release_date: String,
    pub pid: u32,
    pub nbthread: u32,
    pub uptime: Duration,
    pub start_time_sec: u64,
    pub ulimit_n: u64,
    /// The descriptors the configuration may hold (HAProxy's `maxsock`, see `fd_limit.rs`).
    pub maxsock: u64,
    pub maxconn: u64,
    /// Pipes for splicing (HAProxy's `maxpipes`).
    pub maxpipes: u64,
    pub curr_conns: u64,
    pub cum_conns: u64,
    pub cum_req: u64,
    pub listeners: u64,
    pub jobs: u64,
    pub node: String,
    pub stopping: bool,
    /// The process's TLS figures (`CurrSslConns`, `SslRate`, ...).
    pub ssl: fulcrum_proxy::tls::totals::Figures,
}

/// HAProxy 2.6's `show info` fields in order, with their `typed` tags.
const INFO_FIELDS: &[(&str, &str)] = &[
    ("Name", "POS:str"),
    ("Version", "POS:str"),
    ("Release_date", "POS:str"),
    ("Nbthread", "CGS:u32"),
    ("Nbproc", "CGS:u32"),
    ("Process_num", "KGP:u32"),
    ("Pid", "SGP:u32"),
    ("Uptime", "MDP:str"),
    ("Uptime_sec", "MDP:u32"),
    ("Memmax_MB", "CLP:u32"),
    ("PoolAlloc_MB", "MGP:u32"),
    ("PoolUsed_MB", "MGP:u32"),
    ("PoolFailed", "MCP:u32"),
    ("Ulimit-n", "CLP:u32"),
    ("Maxsock", "CLP:u32"),
    ("Maxconn", "CLP:u32"),
    ("Hard_maxconn", "CLP:u32"),
    ("CurrConns", "MGP:u32"),
    ("CumConns", "MCP:u32"),
    ("CumReq", "MCP:u32"),
    ("MaxSslConns", "MMP:u32"),
    ("CurrSslConns", "MGP:u32"),
    ("CumSslConns", "MCP:u32"),
    ("Maxpipes", "CLP:u32"),
    ("PipesUsed", "MGP:u32"),
    ("PipesFree", "MGP:u32"),
    ("ConnRate", "MRP:u32"),
    ("ConnRateLimit", "CLP:u32"),
    ("MaxConnRate", "MMP:u32"),
    ("SessRate", "MRP:u32"),
    ("SessRateLimit", "CLP:u32"),
    ("MaxSessRate", "MRP:u32"),
    ("SslRate", "MRP:u32"),
    ("SslRateLimit", "CLP:u32"),
    ("MaxSslRate", "MMP:u32"),
    ("SslFrontendKeyRate", "MGP:u32"),
    ("SslFrontendMaxKeyRate", "MMP:u32"),
    ("SslFrontendSessionReuse_pct", "MGP:u32"),
    ("SslBackendKeyRate", "MRP:u32"),
    ("SslBackendMaxKeyRate", "MMP:u32"),
    ("SslCacheLookups", "MCP:u32"),
    ("SslCacheMisses", "MCP:u32"),
    ("CompressBpsIn", "MRP:u32"),
    ("CompressBpsOut", "MRP:u32"),
    ("CompressBpsRateLim", "CLP:u32"),
    ("Tasks", "MGP:u32"),
    ("Run_queue", "MGP:u32"),
    ("Idle_pct", "MaP:u32"),
    ("node", "COS:str"),
    ("Stopping", "MGP:u32"),
    ("Jobs", "MGP:u32"),
    ("Unstoppable Jobs", "MGP:u32"),
    ("Listeners", "MGP:u32"),
    ("ActivePeers", "MGP:u32"),
    ("ConnectedPeers", "MGP:u32"),
    ("DroppedLogs", "MGP:u32"),
    ("BusyPolling", "MGP:u32"),
    ("FailedResolutions", "MGP:u32"),
    ("TotalBytesOut", "MGP:u64"),
    ("TotalSplicdedBytesOut", "MGP:u64"),
    ("BytesOutRate", "MRP:u64"),
    ("DebugCommandsIssued", "MGP:u32"),
    ("CumRecvLogs", "MCP:u32"),
    ("Build info", "POS:str"),
    ("Memmax_bytes", "CLP:u32"),
    ("PoolAlloc_bytes", "MGP:u64"),
    ("PoolUsed_bytes", "MGP:u64"),
    ("Start_time_sec", "MDP:u32"),
    ("Tainted", "SGP:str"),
];

/// HAProxy's uptime form: `0d 0h00m01s`.
pub fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    format!(
        "{}d {}h{:02}m{:02}s",
        s / 86_400,
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60
    )
}

fn info_value(v: &InfoView, name: &str) -> String {
    match name {
        "Name" => "fulcrum".into(),
        "Version" | "Build info" => v.version.clone(),
        "Release_date" => v.release_date.clone(),
        "Nbthread" => v.nbthread.to_string(),
        "Nbproc" | "Process_num" => "1".into(),
        "Pid" => v.pid.to_string(),
        "Uptime" => uptime(v.uptime),
        "Uptime_sec" => v.uptime.as_secs().to_string(),
        "Ulimit-n" => v.ulimit_n.to_string(),
        "Maxsock" => v.maxsock.to_string(),
        "Maxpipes" => v.maxpipes.to_string(),
        "Maxconn" | "Hard_maxconn" => v.maxconn.to_string(),
        "CurrConns" => v.curr_conns.to_string(),
        "CumConns" => v.cum_conns.to_string(),
        "CumReq" => v.cum_req.to_string(),
        "Idle_pct" => "100".into(),
        "BusyPolling" => u8::from(fulcrum_proxy::busy_poll::on()).to_string(),
        "node" => v.node.clone(),
        "Stopping" => u8::from(v.stopping).to_string(),
        "Jobs" => v.jobs.to_string(),
        "Listeners" => v.listeners.to_string(),
        "Start_time_sec" => v.start_time_sec.to_string(),
        "CurrSslConns" => v.ssl.curr_ssl_conns.to_string(),
        "CumSslConns" => v.ssl.cum_ssl_conns.to_string(),
        "SslRate" => v.ssl.ssl_rate.to_string(),
        "MaxSslRate" => v.ssl.max_ssl_rate.to_string(),
        "SslFrontendKeyRate" => v.ssl.fe_key_rate.to_string(),
        "SslFrontendMaxKeyRate" => v.ssl.fe_max_key_rate.to_string(),
        "SslFrontendSessionReuse_pct" => v.ssl.fe_reuse_pct.to_string(),
        "SslBackendKeyRate" => v.ssl.be_key_rate.to_string(),
        "SslBackendMaxKeyRate" => v.ssl.be_max_key_rate.to_string(),
        "SslCacheLookups" => v.ssl.cache_lookups.to_string(),
        "SslCacheMisses" => v.ssl.cache_misses.to_string(),
        _ => "0".into(),
    }
}

/// HAProxy's field number: it skips the fields of features it was built without
/// (ZlibMemUsage, MaxZlibMemUsage) and `description` when unset.
fn info_pos(i: usize) -> usize {
    match i {
        0..=44 => i,
        45..=48 => i + 2,
        _ => i + 3,
    }
}

/// The words of HAProxy's one-letter tags (origin, nature, scope), for the JSON form.
fn tag_words(tags: &str) -> (&'static str, &'static str, &'static str) {
    let mut c = tags.chars();
    let origin = match c.next() {
        Some('P') => "Product",
        Some('C') => "Config",
        Some('K') => "Key",
        Some('S') => "Status",
        _ => "Metric",
    };
    let nature = match c.next() {
        Some('O') => "Output",
        Some('D') => "Duration",
        Some('L') => "Limit",
        Some('C') => "Counter",
        Some('M') => "Max",
        Some('R') => "Rate",
        Some('a') => "Avg",
        _ => "Gauge",
    };
    let scope = match c.next() {
        Some('S') => "Service",
        _ => "Process",
    };
    (origin, nature, scope)
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// `show info json`: HAProxy's array of typed fields.
pub fn info_json(v: &InfoView) -> String {
    let mut items = Vec::new();
    for (i, (name, tagtype)) in INFO_FIELDS.iter().enumerate() {
        let (tags, ty) = tagtype.split_once(':').unwrap_or((tagtype, "str"));
        let (origin, nature, scope) = tag_words(tags);
        let raw = info_value(v, name);
        let value = if ty == "str" {
            json_string(&raw)
        } else {
            raw.parse::<u64>()
                .map_or_else(|_| json_string(&raw), |n| n.to_string())
        };
        items.push(format!(
            "{{\"field\":{{\"pos\":{},\"name\":{}}},\"processNum\":1,\"tags\":{{\"origin\":\"{origin}\",\"nature\":\"{nature}\",\"scope\":\"{scope}\"}},\"value\":{{\"type\":\"{ty}\",\"value\":{value}}}}}",
            info_pos(i),
            json_string(name)
        ));
    }
    format!("[{}]\n", items.join(","))
}

/// `show info` / `show info typed`.
pub fn info(v: &InfoView, typed: bool) -> String {
    let mut out = String::new();
    for (i, (name, tags)) in INFO_FIELDS.iter().enumerate() {
        let value = info_value(v, name);
        if typed {
            let i = info_pos(i);
            let _ = writeln!(out, "{i}.{name}.1:{tags}:{value}");
        } else {
            let _ = writeln!(out, "{name}: {value}");
        }
    }
    out
}

/// A server as `show servers state` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerView {
    pub id: u32,
    pub name: String,
    pub addr: String,
    pub port: u16,
    /// HAProxy's `srv_op_state`: 0 stopped (DOWN or MAINT), 2 running.
    pub op_state: u8,
    /// HAProxy's `srv_admin_state` bits: 0x01 forced MAINT, 0x04 MAINT from config
    /// (`disabled`), 0x08 forced DRAIN.
    pub admin_state: u32,
    pub uweight: u32,
    pub iweight: u32,
    pub since_change_s: u64,
    /// HAProxy's `srv_check_status` (HCHK_STATUS_*), `srv_check_result` (CHK_RES_*),
    /// `srv_check_health`, `srv_check_state` (CHK_ST_* bits).
    pub check_status: u32,
    pub check_result: u32,
    pub check_health: u32,
    pub check_state: u32,
    pub check_port: u16,
    /// `srv_agent_state` (CHK_ST_* bits of the agent check, 0 without one),
    /// `srv_agent_addr` (`-` unless `agent-addr`), `srv_agent_port` (0 without an agent).
    pub agent_state: u32,
    pub agent_addr: String,
    pub agent_port: u16,
    /// For fulcrum's own views: UP, DOWN, MAINT, DRAIN, and why.
    pub status: String,
    pub reason: String,
    /// Requests/connections in flight.
    pub served: u32,
    /// `bk_f_forced_id`, `srv_f_forced_id`: the backend's and the server's `id` were given.
    pub forced_ids: (bool, bool),
}

/// A backend (or `listen`) as the runtime API shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendView {
    pub id: u32,
    pub name: String,
    /// `static-rr` or a map-based hash: weights other than 0% / 100% are refused.
    pub static_lb: bool,
    pub servers: Vec<ServerView>,
}

const SERVERS_STATE_HEADER: &str = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n";

/// `show servers state` (format version 1) for `backends`.
pub fn servers_state(backends: &[BackendView]) -> String {
    let mut out = String::from("1\n");
    out.push_str(SERVERS_STATE_HEADER);
    for b in backends {
        for s in &b.servers {
            let _ = writeln!(
                out,
                "{} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} - {} - 0 {} - {} {}",
                b.id,
                b.name,
                s.id,
                s.name,
                s.addr,
                s.op_state,
                s.admin_state,
                s.uweight,
                s.iweight,
                s.since_change_s,
                s.check_status,
                s.check_result,
                s.check_health,
                s.check_state,
                s.agent_state,
                u8::from(s.forced_ids.0),
                u8::from(s.forced_ids.1),
                s.port,
                s.check_port,
                if s.agent_addr.is_empty() {
                    "-"
                } else {
                    &s.agent_addr
                },
                s.agent_port,
            );
        }
    }
    out
}

/// `show backend`.
pub fn backend_list(backends: &[BackendView]) -> String {
    let mut out = String::from("# name\n");
    for b in backends {
        out.push_str(&b.name);
        out.push('\n');
    }
    out
}

/// `show sess`: fulcrum keeps no per-session table, so it answers with a summary: connections
/// open on each frontend, requests in flight on each server.
pub fn sessions(frontends: &[(String, u64)], backends: &[BackendView]) -> String {
    let mut out = String::from("# frontend current_connections\n");
    for (name, conns) in frontends {
        let _ = writeln!(out, "{name} {conns}");
    }
    out.push_str("# backend/server current_sessions\n");
    for b in backends {
        for s in &b.servers {
            let _ = writeln!(out, "{}/{} {}", b.name, s.name, s.served);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_as_haproxy() {
        assert_eq!(uptime(Duration::from_secs(1)), "0d 0h00m01s");
        assert_eq!(uptime(Duration::from_secs(90_061)), "1d 1h01m01s");
    }

    #[test]
    fn info_has_what_hatop_requires() {
        let v = InfoView {
            pid: 42,
            maxconn: 100,
            node: "vm".into(),
            version: "0.1.0".into(),
            ..Default::default()
        };
        let text = info(&v, false);
        for key in [
            "Name: ",
            "Version: ",
            "Release_date: ",
            "Nbproc: 1",
            "Process_num: 1",
            "Pid: 42",
            "Uptime: 0d 0h00m00s",
            "Maxconn: 100",
            "CurrConns: 0",
            "Maxpipes: 0",
            "PipesUsed: 0",
            "Tasks: 0",
            "Run_queue: 0",
            "node: vm",
        ] {
            assert!(text.lines().any(|l| l.starts_with(key)), "{key}");
        }
        let typed = info(&v, true);
        assert!(typed.starts_with("0.Name.1:POS:str:fulcrum\n"));
        assert!(typed.contains("\n6.Pid.1:SGP:u32:42\n"));
        assert!(typed.contains("\n49.Idle_pct.1:MaP:u32:100\n"));
        assert!(typed.contains("\n52.Stopping.1:MGP:u32:0\n"));
        assert!(typed.ends_with("\n71.Tainted.1:SGP:str:0\n"));
    }

    #[test]
    fn info_json_as_haproxy() {
        let v = InfoView {
            pid: 42,
            ..Default::default()
        };
        let j: serde_json::Value = serde_json::from_str(&info_json(&v)).expect("json");
        assert_eq!(
            j[6],
            serde_json::json!({"field": {"pos": 6, "name": "Pid"}, "processNum": 1,
                "tags": {"origin": "Status", "nature": "Gauge", "scope": "Process"}, "value": {"type": "u32", "value": 42}})
        );
        assert_eq!(
            j[0]["value"],
            serde_json::json!({"type": "str", "value": "fulcrum"})
        );
        assert_eq!(
            j[68]["field"],
            serde_json::json!({"pos": 71, "name": "Tainted"})
        );
    }

    #[test]
    fn servers_state_version_1() {
        let b = BackendView {
            id: 3,
            name: "app".into(),
            static_lb: false,
            servers: vec![ServerView {
                id: 1,
                name: "s1".into(),
                addr: "127.0.0.1".into(),
                port: 18081,
                op_state: 0,
                admin_state: 0,
                uweight: 1,
                iweight: 1,
                since_change_s: 2,
                check_status: 8,
                check_result: 2,
                check_health: 0,
                check_state: 6,
                ..Default::default()
            }],
        };
        let text = servers_state(std::slice::from_ref(&b));
        // The line real haproxy 2.6 printed for a DOWN server (L4CON) with default check settings.
        assert!(
            text.ends_with("\n3 app 1 s1 127.0.0.1 0 0 1 1 2 8 2 0 6 0 0 0 - 18081 - 0 0 - - 0\n"),
            "{text}"
        );
        assert!(text.starts_with("1\n# be_id be_name srv_id"));
        // an agent (as haproxy 2.6 printed it: CONFIGURED | ENABLED | AGENT, its addr and port)
        let mut b2 = b.clone();
        b2.servers[0].agent_state = 22;
        b2.servers[0].agent_addr = "127.0.0.2".into();
        b2.servers[0].agent_port = 19411;
        assert!(servers_state(&[b2]).ends_with(" 2 0 6 22 0 0 - 18081 - 0 0 - 127.0.0.2 19411\n"));
    }
}
