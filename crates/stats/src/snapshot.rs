//! A snapshot of every frontend, backend and server of a running configuration, as typed rows
//! (one per HAProxy stats line: `FRONTEND`, each server, `BACKEND`, in declaration order).
//!
//! The CSV, JSON and HTML forms, the runtime socket's `show stat` and a Prometheus exporter all
//! read these rows, so the numbers agree everywhere. Building a snapshot only reads counters
//! and states (relaxed loads, summed over the per-thread shards); it never blocks the data
//! plane. Fields that HAProxy leaves empty for a kind of row are `None` here.

pub use crate::row::{AgentColumns, HttpResponses, RowKind, StatRow};
use fulcrum_config::model::Balance;
use fulcrum_proxy::backend::Backend;
use fulcrum_proxy::counters::{Counters, Ctr};
use fulcrum_proxy::server::{AdminState, ServerRt};
use fulcrum_proxy::state::{Frontend, Generation};

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

/// HAProxy's status word for a server.
pub fn server_status(s: &ServerRt) -> &'static str {
    match s.admin() {
        AdminState::Maint => "MAINT",
        _ if !s.is_up() => "DOWN",
        AdminState::Drain => "DRAIN",
        _ if s.uweight() == 0 => "DRAIN",
        _ if s.is_stopping() => "NOLB",
        _ if !s.checked() && !s.limits.tracks() => "no check",
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
        u32::try_from(be.policy.server_id(index)).unwrap_or(u32::MAX),
        be.mode,
    );
    // a server's own queue (`maxqueue`): requests a persistence sent to it while full
    r.qcur = Some(u64::from(s.limits.waiting()));
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
            chk.status.to_string()
        });
        r.check_code = chk.code;
        r.check_duration_ms = Some(chk.duration.map_or(0, |d| d.as_millis() as u64));
        r.check_desc = Some(if chk.desc.is_empty() {
            "Initializing".to_string()
        } else {
            chk.desc.to_string()
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

/// Every row of the given proxies, HAProxy's order: proxies in configuration order (by
/// number when none has an `id`); in each, `FRONTEND`, the servers, then `BACKEND`.
pub fn rows<'a>(
    frontends: impl IntoIterator<Item = &'a Frontend>,
    backends: impl IntoIterator<Item = &'a Backend>,
) -> Vec<StatRow> {
    let mut fes: Vec<&Frontend> = frontends.into_iter().collect();
    let mut bes: Vec<&Backend> = backends.into_iter().collect();
    fes.sort_by_key(|f| f.id);
    bes.sort_by_key(|b| b.id);
    let mut ids: Vec<(u32, u32)> = fes
        .iter()
        .map(|f| (f.order, f.id))
        .chain(bes.iter().map(|b| (b.policy.order, b.id)))
        .collect();
    ids.sort_unstable();
    ids.dedup_by_key(|(_, id)| *id);
    let ids = ids.into_iter().map(|(_, id)| id);
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
