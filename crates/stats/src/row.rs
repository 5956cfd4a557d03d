//! One stats line as typed columns (`StatRow`), HAProxy's object types and the columns a kind
//! of row leaves empty. Built by `snapshot`; read by CSV, JSON, HTML, Prometheus and the runtime
//! socket.

use fulcrum_config::model::Mode;
use fulcrum_proxy::server::AdminState;

/// HAProxy's object types (`type` column): 0 frontend, 1 backend, 2 server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Frontend,
    Backend,
    Server,
}

impl RowKind {
    pub fn code(self) -> u8 {
        match self {
            RowKind::Frontend => 0,
            RowKind::Backend => 1,
            RowKind::Server => 2,
        }
    }
}

/// The HTTP response counters `hrsp_1xx` .. `hrsp_5xx`, `hrsp_other`.
pub type HttpResponses = [u64; 6];

/// One stats line. Times are seconds unless named `_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatRow {
    pub kind: RowKind,
    /// `pxname`: the frontend, backend or listen name.
    pub pxname: String,
    /// `svname`: `FRONTEND`, `BACKEND` or the server name.
    pub svname: String,
    /// `iid`: the proxy's number (declaration order, from 1).
    pub iid: u32,
    /// `sid`: the server's number in its backend (from 1), 0 otherwise.
    pub sid: u32,
    pub mode: Mode,
    pub qcur: Option<u64>,
    pub qmax: Option<u64>,
    pub scur: u64,
    pub smax: u64,
    pub slim: Option<u64>,
    pub stot: u64,
    pub bin: u64,
    pub bout: u64,
    pub dreq: Option<u64>,
    pub dresp: u64,
    pub ereq: Option<u64>,
    pub econ: Option<u64>,
    pub eresp: Option<u64>,
    pub wretr: Option<u64>,
    pub wredis: Option<u64>,
    /// `OPEN`, `UP`, `DOWN`, `DRAIN`, `MAINT`, `no check`.
    pub status: String,
    /// Servers: the administrative state.
    pub admin: Option<AdminState>,
    /// Effective weight (0 while draining); backends: the sum over usable servers.
    pub weight: Option<u32>,
    /// Runtime weight (`uweight`).
    pub uweight: Option<u32>,
    /// Servers: 1 when active (not backup); backends: active servers UP.
    pub act: Option<u32>,
    pub bck: Option<u32>,
    pub chkfail: Option<u64>,
    pub chkdown: Option<u64>,
    pub lastchg: Option<u64>,
    pub downtime: Option<u64>,
    pub lbtot: Option<u64>,
    pub rate: u64,
    pub rate_max: u64,
    pub check_status: Option<String>,
    pub check_code: Option<u16>,
    pub check_duration_ms: Option<u64>,
    pub check_desc: Option<String>,
    pub last_chk: Option<String>,
    pub check_rise: Option<u32>,
    pub check_fall: Option<u32>,
    pub check_health: Option<u32>,
    /// The agent check's columns (`agent_*`, `last_agt`), for servers with `agent-check`.
    pub agent: Option<AgentColumns>,
    pub hrsp: HttpResponses,
    pub req_rate: Option<u64>,
    pub req_rate_max: Option<u64>,
    pub req_tot: u64,
    /// `comp_in comp_out comp_byp comp_rsp` (frontends and backends).
    pub comp: [u64; 4],
    /// `cache_lookups`, `cache_hits`.
    pub cache: [u64; 2],
    /// `ssl_sess ssl_reused_sess ssl_failed_handshake`.
    pub ssl: [u64; 3],
    pub cli_abrt: Option<u64>,
    pub srv_abrt: Option<u64>,
    /// Seconds since the last session (-1: never).
    pub lastsess: Option<i64>,
    pub qtime_ms: Option<u64>,
    pub ctime_ms: Option<u64>,
    pub rtime_ms: Option<u64>,
    pub ttime_ms: Option<u64>,
    /// `qtime_max ctime_max rtime_max ttime_max`.
    pub time_max_ms: Option<[u64; 4]>,
    /// Servers: the address (shown only when asked, as HAProxy's `stats show-legends`).
    pub addr: Option<String>,
    pub cookie: Option<String>,
    pub algo: Option<String>,
    pub conn_rate: Option<u64>,
    pub conn_rate_max: Option<u64>,
    pub conn_tot: Option<u64>,
    pub intercepted: Option<u64>,
    pub connect: Option<u64>,
    pub reuse: Option<u64>,
}

impl StatRow {
    pub(crate) fn new(
        kind: RowKind,
        pxname: &str,
        svname: &str,
        iid: u32,
        sid: u32,
        mode: Mode,
    ) -> StatRow {
        StatRow {
            kind,
            pxname: pxname.to_string(),
            svname: svname.to_string(),
            iid,
            sid,
            mode,
            qcur: None,
            qmax: None,
            scur: 0,
            smax: 0,
            slim: None,
            stot: 0,
            bin: 0,
            bout: 0,
            dreq: None,
            dresp: 0,
            ereq: None,
            econ: None,
            eresp: None,
            wretr: None,
            wredis: None,
            status: String::new(),
            admin: None,
            weight: None,
            uweight: None,
            act: None,
            bck: None,
            chkfail: None,
            chkdown: None,
            lastchg: None,
            downtime: None,
            lbtot: None,
            rate: 0,
            rate_max: 0,
            check_status: None,
            check_code: None,
            check_duration_ms: None,
            check_desc: None,
            last_chk: None,
            check_rise: None,
            check_fall: None,
            check_health: None,
            agent: None,
            hrsp: [0; 6],
            req_rate: None,
            req_rate_max: None,
            req_tot: 0,
            comp: [0; 4],
            cache: [0; 2],
            ssl: [0; 3],
            cli_abrt: None,
            srv_abrt: None,
            lastsess: None,
            qtime_ms: None,
            ctime_ms: None,
            rtime_ms: None,
            ttime_ms: None,
            time_max_ms: None,
            addr: None,
            cookie: None,
            algo: None,
            conn_rate: None,
            conn_rate_max: None,
            conn_tot: None,
            intercepted: None,
            connect: None,
            reuse: None,
        }
    }

    /// Whether this line counts as "up" for a scraper (HAProxy exporter's rule: UP, OPEN,
    /// DRAIN, no check).
    pub fn is_up(&self) -> bool {
        matches!(
            self.status.as_str(),
            "UP" | "OPEN" | "DRAIN" | "NOLB" | "no check"
        )
    }
}

/// A server's agent check as HAProxy's stats show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentColumns {
    pub status: String,
    /// Shown for the layer 7 statuses only (0 when the agent gave none), as HAProxy.
    pub code: Option<u16>,
    pub duration_ms: u64,
    pub desc: String,
    /// `last_agt`: what the agent said ("via agent : up") or the error.
    pub last: String,
    /// HAProxy's agent rise, fall and health (1, 1, and 0 once the agent said down).
    pub rise: u32,
    pub fall: u32,
    pub health: u32,
}

impl AgentColumns {
    pub fn of(a: &fulcrum_proxy::server::CheckInfo) -> AgentColumns {
        AgentColumns {
            status: a.status.to_string(),
            code: a.status.starts_with("L7").then(|| a.code.unwrap_or(0)),
            duration_ms: a.duration.map_or(0, |d| d.as_millis() as u64),
            desc: a.desc.to_string(),
            last: a.info.clone(),
            rise: 1,
            fall: 1,
            health: u32::from(a.status != "L7STS"),
        }
    }
}
