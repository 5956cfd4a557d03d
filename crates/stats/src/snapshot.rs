//! A snapshot of every frontend, backend and server of a running configuration, as typed rows
//! (one per HAProxy stats line: `FRONTEND`, each server, `BACKEND`, in declaration order).
//!
//! The CSV, JSON and HTML forms, the runtime socket's `show stat` and a Prometheus exporter all
//! read these rows, so the numbers agree everywhere. Building a snapshot only reads counters
//! and states (relaxed loads, summed over the per-thread shards); it never blocks the data
//! plane. Fields that HAProxy leaves empty for a kind of row are `None` here.

use fulcrum_config::model::{Balance, Mode};
use fulcrum_proxy::backend::Backend;
use fulcrum_proxy::counters::{Counters, Ctr};
use fulcrum_proxy::server::{AdminState, ServerRt};
use fulcrum_proxy::state::{Frontend, Generation};

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
    fn new(kind: RowKind, pxname: &str, svname: &str, iid: u32, sid: u32, mode: Mode) -> StatRow {
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

fn comp(c: &Counters) -> [u64; 4] {
    [Ctr::CompIn, Ctr::CompOut, Ctr::CompByp, Ctr::CompRsp].map(|k| c.get(k))
}

fn ssl(c: &Counters) -> [u64; 3] {
    [Ctr::SslSess, Ctr::SslReused, Ctr::SslFailed].map(|k| c.get(k))
}

fn hrsp(c: &Counters) -> HttpResponses {
    [
        Ctr::Http1xx,
        Ctr::Http2xx,
        Ctr::Http3xx,
        Ctr::Http4xx,
        Ctr::Http5xx,
        Ctr::HttpOther,
    ]
    .map(|k| c.get(k))
}

/// HAProxy's name of a `balance` algorithm (`algo` column).
pub fn algo_name(b: &Balance) -> &'static str {
    match b {
        Balance::Roundrobin => "roundrobin",
        Balance::StaticRr => "static-rr",
        Balance::Leastconn => "leastconn",
        Balance::First => "first",
        Balance::Source => "source",
        Balance::Uri { .. } => "uri",
        Balance::UrlParam { .. } => "url_param",
        Balance::Hdr { .. } => "hdr",
        Balance::Random { .. } => "random",
        Balance::RdpCookie { .. } => "rdp-cookie",
    }
}

/// The row of a frontend.
pub fn frontend_row(fe: &Frontend) -> StatRow {
    let c = &fe.counters;
    let mut r = StatRow::new(RowKind::Frontend, &fe.name, "FRONTEND", fe.id, 0, fe.mode);
    r.scur = c.current();
    r.smax = c.max();
    r.slim = fe.slim;
    r.stot = c.get(Ctr::Sessions);
    r.bin = c.get(Ctr::BytesIn);
    r.bout = c.get(Ctr::BytesOut);
    r.dreq = Some(c.get(Ctr::DeniedReq));
    r.dresp = c.get(Ctr::DeniedResp);
    r.ereq = Some(c.get(Ctr::ErrReq));
    r.status = if fe.retired.load(std::sync::atomic::Ordering::Relaxed) {
        "STOP"
    } else {
        "OPEN"
    }
    .to_string();
    r.rate = c.rate();
    r.rate_max = c.rate_max();
    r.hrsp = hrsp(c);
    r.comp = comp(c);
    r.cache = [Ctr::CacheLookups, Ctr::CacheHits].map(|k| c.get(k));
    r.ssl = ssl(c);
    r.req_rate = Some(c.req_rate());
    r.req_rate_max = Some(c.req_rate_max());
    r.req_tot = c.get(Ctr::Requests);
    r.conn_rate = Some(r.rate);
    r.conn_rate_max = Some(r.rate_max);
    r.conn_tot = Some(r.stot);
    r.intercepted = Some(c.get(Ctr::Intercepted));
    r
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
            status: a.status.clone(),
            code: a.status.starts_with("L7").then(|| a.code.unwrap_or(0)),
            duration_ms: a.duration.map_or(0, |d| d.as_millis() as u64),
            desc: a.desc.clone(),
            last: a.info.clone(),
            rise: 1,
            fall: 1,
            health: u32::from(a.status != "L7STS"),
        }
    }
}

/// HAProxy's status word for a server.
pub fn server_status(s: &ServerRt) -> &'static str {
    match s.admin() {
        AdminState::Maint => "MAINT",
        _ if !s.is_up() => "DOWN",
        AdminState::Drain => "DRAIN",
        _ if s.uweight() == 0 => "DRAIN",
        _ if s.is_stopping() => "NOLB",
        _ if !s.checked() => "no check",
        _ => "UP",
    }
}

/// The row of server `index` (0-based) of `be`.
pub fn server_row(be: &Backend, index: usize) -> Option<StatRow> {
    let s = be.servers.get(index)?;
    let c = &s.counters;
    let mut r = StatRow::new(
        RowKind::Server,
        &be.name,
        &s.name,
        be.id,
        index as u32 + 1,
        be.mode,
    );
    r.qcur = Some(0);
    r.qmax = Some(0);
    r.scur = u64::from(s.served());
    r.smax = c.max();
    r.slim = s.maxconn_now().map(u64::from);
    r.stot = c.get(Ctr::Sessions);
    r.bin = c.get(Ctr::BytesIn);
    r.bout = c.get(Ctr::BytesOut);
    r.dresp = c.get(Ctr::DeniedResp);
    r.econ = Some(c.get(Ctr::ErrConn));
    r.eresp = Some(c.get(Ctr::ErrResp));
    r.wretr = Some(c.get(Ctr::Retries));
    r.wredis = Some(c.get(Ctr::Redispatches));
    r.status = server_status(s).to_string();
    r.admin = Some(s.admin());
    r.weight = Some(if s.admin() == AdminState::Drain {
        0
    } else {
        s.uweight()
    });
    r.uweight = Some(s.uweight());
    r.act = Some(u32::from(!s.backup));
    r.bck = Some(u32::from(s.backup));
    r.lastchg = Some(s.last_change_secs());
    r.lbtot = Some(s.total());
    r.ssl = ssl(c);
    r.rate = c.rate();
    r.rate_max = c.rate_max();
    if s.checked() {
        let chk = s.check();
        let (rise, fall) = s.rise_fall();
        r.chkfail = Some(s.failed_checks());
        r.chkdown = Some(s.down_transitions());
        r.downtime = Some(s.downtime_secs());
        r.check_status = Some(if chk.status.is_empty() {
            "INI".to_string()
        } else {
            chk.status.clone()
        });
        r.check_code = chk.code;
        r.check_duration_ms = Some(chk.duration.map_or(0, |d| d.as_millis() as u64));
        r.check_desc = Some(if chk.desc.is_empty() {
            "Initializing".to_string()
        } else {
            chk.desc.clone()
        });
        r.last_chk = Some(chk.info.clone()).filter(|i| !i.is_empty());
        r.check_rise = Some(rise);
        r.check_fall = Some(fall);
        // HAProxy's health counter: rise-1 .. rise+fall-1 while UP, 0 .. rise-1 while DOWN.
        r.check_health = Some(if s.is_up() { rise + fall - 1 } else { 0 });
    }
    r.agent = s.agent_check().map(|a| AgentColumns::of(&a));
    r.hrsp = hrsp(c);
    r.req_tot = c.get(Ctr::Requests);
    r.cli_abrt = Some(c.get(Ctr::CliAbort));
    r.srv_abrt = Some(c.get(Ctr::SrvAbort));
    r.lastsess = Some(c.last_session_secs().map_or(-1, |s| s as i64));
    times(&mut r, c);
    r.addr = Some(match s.target {
        fulcrum_proxy::server::Target::Fixed(a) => a.to_string(),
        fulcrum_proxy::server::Target::SamePort(ip) => ip.to_string(),
        fulcrum_proxy::server::Target::Offset(ip, o) => format!("{ip}:{o:+}"),
        // HAProxy shows "unix" for servers on unix sockets.
        fulcrum_proxy::server::Target::Unix(_) | fulcrum_proxy::server::Target::Abns(_) => {
            "unix".to_string()
        }
    });
    r.cookie = be.server_cookies.get(index).cloned().flatten();
    r.connect = Some(c.get(Ctr::Connect));
    r.reuse = Some(c.get(Ctr::Reuse));
    Some(r)
}

fn times(r: &mut StatRow, c: &Counters) {
    r.qtime_ms = Some(c.avg(Ctr::QtimeSum));
    r.ctime_ms = Some(c.avg(Ctr::CtimeSum));
    r.rtime_ms = Some(c.avg(Ctr::RtimeSum));
    r.ttime_ms = Some(c.avg(Ctr::TtimeSum));
    r.time_max_ms = Some(c.time_max());
}

/// The `BACKEND` row of `be`.
pub fn backend_row(be: &Backend) -> StatRow {
    let c = &be.counters;
    let mut r = StatRow::new(RowKind::Backend, &be.name, "BACKEND", be.id, 0, be.mode);
    let q = be.queued() as u64;
    c.queued(q);
    r.qcur = Some(q);
    r.qmax = Some(c.qmax());
    r.scur = c.current();
    r.smax = c.max();
    r.stot = c.get(Ctr::Sessions);
    r.bin = c.get(Ctr::BytesIn);
    r.bout = c.get(Ctr::BytesOut);
    r.dreq = Some(c.get(Ctr::DeniedReq));
    r.dresp = c.get(Ctr::DeniedResp);
    r.econ = Some(c.get(Ctr::ErrConn));
    r.eresp = Some(c.get(Ctr::ErrResp));
    r.wretr = Some(c.get(Ctr::Retries));
    r.wredis = Some(c.get(Ctr::Redispatches));
    let usable = |s: &&std::sync::Arc<ServerRt>| s.is_up() && s.admin() != AdminState::Maint;
    let up_act = be
        .servers
        .iter()
        .filter(|s| !s.backup)
        .filter(usable)
        .count() as u32;
    let up_bck = be
        .servers
        .iter()
        .filter(|s| s.backup)
        .filter(usable)
        .count() as u32;
    r.status = if be.is_up() { "UP" } else { "DOWN" }.to_string();
    let active_weight: u32 = be
        .servers
        .iter()
        .filter(|s| !s.backup)
        .map(|s| s.effective_weight())
        .sum();
    let backup_weight: u32 = be
        .servers
        .iter()
        .filter(|s| s.backup)
        .map(|s| s.effective_weight())
        .sum();
    r.weight = Some(if active_weight > 0 {
        active_weight
    } else {
        backup_weight
    });
    r.uweight = r.weight;
    r.act = Some(up_act);
    r.bck = Some(up_bck);
    r.chkdown = Some(be.down_transitions());
    r.lastchg = Some(be.last_change_secs());
    r.downtime = Some(be.downtime_secs());
    r.lbtot = Some(be.servers.iter().map(|s| s.total()).sum());
    r.rate = c.rate();
    r.rate_max = c.rate_max();
    r.hrsp = hrsp(c);
    r.comp = comp(c);
    r.cache = [Ctr::CacheLookups, Ctr::CacheHits].map(|k| c.get(k));
    r.ssl = ssl(c);
    r.req_tot = c.get(Ctr::Requests);
    r.cli_abrt = Some(c.get(Ctr::CliAbort));
    r.srv_abrt = Some(c.get(Ctr::SrvAbort));
    r.lastsess = Some(c.last_session_secs().map_or(-1, |s| s as i64));
    times(&mut r, c);
    r.cookie = be.policy.cookie.as_ref().map(|cp| cp.cfg.name.clone());
    r.algo = Some(algo_name(&be.balance).to_string());
    r.connect = Some(c.get(Ctr::Connect));
    r.reuse = Some(c.get(Ctr::Reuse));
    r
}

/// Every row of the given proxies, HAProxy's order: proxies by number; in each, `FRONTEND`,
/// the servers, then `BACKEND`.
pub fn rows<'a>(
    frontends: impl IntoIterator<Item = &'a Frontend>,
    backends: impl IntoIterator<Item = &'a Backend>,
) -> Vec<StatRow> {
    let mut fes: Vec<&Frontend> = frontends.into_iter().collect();
    let mut bes: Vec<&Backend> = backends.into_iter().collect();
    fes.sort_by_key(|f| f.id);
    bes.sort_by_key(|b| b.id);
    let mut ids: Vec<u32> = fes
        .iter()
        .map(|f| f.id)
        .chain(bes.iter().map(|b| b.id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::new();
    for id in ids {
        for fe in fes.iter().filter(|f| f.id == id) {
            out.push(frontend_row(fe));
        }
        for be in bes.iter().filter(|b| b.id == id) {
            out.extend((0..be.servers.len()).filter_map(|i| server_row(be, i)));
            out.push(backend_row(be));
        }
    }
    out
}

/// Every row of a running configuration.
pub fn snapshot(gen: &Generation) -> Vec<StatRow> {
    rows(
        gen.frontends.values().map(|f| f.as_ref()),
        gen.backends.values().map(|b| b.as_ref()),
    )
}
