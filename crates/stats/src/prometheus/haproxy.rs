//! HAProxy 2.6's Prometheus metrics (`haproxy_process_*`, `haproxy_frontend_*`,
//! `haproxy_backend_*`, `haproxy_server_*`) from the stats rows, with HAProxy's names, HELP
//! texts, types and labels (`proxy`, `server`, `code`, `state`) so dashboards and alerts built
//! on HAProxy's `prometheus-exporter` service work unchanged. Families are written in HAProxy's
//! order, each once with all its samples; a metric fulcrum has no value for is left out
//! (HAProxy leaves out the ones that do not apply too, e.g. HTTP metrics of TCP proxies).
//! Pure: rows in, text out.

use super::text::{Exposition, Kind};
use crate::snapshot::{RowKind, StatRow};
use fulcrum_config::model::Mode;

type Get = fn(&StatRow) -> Option<f64>;

/// One family: name suffix (after `haproxy_frontend_` etc.), HELP, type, value.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    get: Get,
    /// Only for proxies in HTTP mode.
    http: bool,
}

const fn fam(name: &'static str, help: &'static str, kind: Kind, get: Get) -> Family {
    Family {
        name,
        help,
        kind,
        get,
        http: false,
    }
}
const fn http(name: &'static str, help: &'static str, kind: Kind, get: Get) -> Family {
    Family {
        name,
        help,
        kind,
        get,
        http: true,
    }
}

fn n(v: u64) -> Option<f64> {
    Some(v as f64)
}
fn o(v: Option<u64>) -> Option<f64> {
    v.map(|x| x as f64)
}
fn secs(ms: Option<u64>) -> Option<f64> {
    ms.map(|x| x as f64 / 1000.0)
}

const H_CUR: &str = "Number of current sessions on the frontend, backend or server";
const H_MAX: &str = "Highest value of current sessions encountered since process started";
const H_LIM: &str = "Frontend/listener/server's maxconn, backend's fullconn";
const H_TOT: &str = "Total number of sessions since process started";
const H_BIN: &str = "Total number of request bytes since process started";
const H_BOUT: &str = "Total number of response bytes since process started";
const H_DREQ: &str = "Total number of denied requests since process started";
const H_DRESP: &str = "Total number of denied responses since process started";
const H_RATE_MAX: &str =
    "Highest value of sessions per second observed since the worker process started";
const H_HREQ: &str =
    "Total number of HTTP requests processed by this object since the worker process started";
const H_QCUR: &str = "Number of current queued connections";
const H_QMAX: &str = "Highest value of queued connections encountered since process started";
const H_ECON: &str =
    "Total number of failed connections to server since the worker process started";
const H_ERESP: &str = "Total number of invalid responses since the worker process started";
const H_WRETR: &str = "Total number of server connection retries since the worker process started";
const H_WREDIS: &str = "Total number of server redispatches due to connection failures since the worker process started";
const H_WEIGHT: &str =
    "Server's effective weight, or sum of active servers' effective weights for a backend";
const H_UWEIGHT: &str =
    "Server's user weight, or sum of active servers' user weights for a backend";
const H_CHKDOWN: &str =
    "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started";
const H_LASTCHG: &str = "How long ago the last server state changed, in seconds";
const H_DOWNTIME: &str = "Total time spent in DOWN state, for server or backend";
const H_LBTOT: &str =
    "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)";
const H_CLI_ABRT: &str = "Total number of requests or connections aborted by the client since the worker process started";
const H_SRV_ABRT: &str = "Total number of requests or connections aborted by the server since the worker process started";
const H_LASTSESS: &str =
    "How long ago some traffic was seen on this object on this worker process, in seconds";
const H_QTIME: &str = "Avg. queue time for last 1024 successful connections.";
const H_CTIME: &str = "Avg. connect time for last 1024 successful connections.";
const H_RTIME: &str = "Avg. response time for last 1024 successful connections.";
const H_TTIME: &str = "Avg. total time for last 1024 successful connections.";
const H_CONNECT: &str = "Total number of outgoing connection attempts on this backend/server since the worker process started";
const H_REUSE: &str =
    "Total number of reused connection on this backend/server since the worker process started";
const H_QTIME_MAX: &str = "Maximum observed time spent in the queue";
const H_CTIME_MAX: &str = "Maximum observed time spent waiting for a connection to complete";
const H_RTIME_MAX: &str = "Maximum observed time spent waiting for a server response";
const H_TTIME_MAX: &str =
    "Maximum observed total request+response time (request+queue+connect+response+processing)";
const H_STATUS: &str = "Current status of the service, per state label value.";
const H_HRSP: &str =
    "Total number of HTTP responses with status 100-199 returned by this object since the worker process started";

fn tmax(r: &StatRow, i: usize) -> Option<f64> {
    r.time_max_ms.map(|t| t[i] as f64 / 1000.0)
}

/// Sessions and bytes, for every kind of proxy.
const SESSIONS: &[Family] = &[
    fam("current_sessions", H_CUR, Kind::Gauge, |r| n(r.scur)),
    fam("max_sessions", H_MAX, Kind::Gauge, |r| n(r.smax)),
    fam("limit_sessions", H_LIM, Kind::Gauge, |r| o(r.slim)),
    fam("sessions_total", H_TOT, Kind::Counter, |r| n(r.stot)),
    fam("bytes_in_total", H_BIN, Kind::Counter, |r| n(r.bin)),
    fam("bytes_out_total", H_BOUT, Kind::Counter, |r| n(r.bout)),
];

/// Queue, for backends and servers.
const QUEUE: &[Family] = &[
    fam("current_queue", H_QCUR, Kind::Gauge, |r| o(r.qcur)),
    fam("max_queue", H_QMAX, Kind::Gauge, |r| o(r.qmax)),
];

const FRONTEND_REST: &[Family] = &[
    fam("requests_denied_total", H_DREQ, Kind::Counter, |r| o(r.dreq)),
    fam("responses_denied_total", H_DRESP, Kind::Counter, |r| n(r.dresp)),
    fam("request_errors_total", "Total number of invalid requests since process started", Kind::Counter, |r| o(r.ereq)),
    fam("max_session_rate", H_RATE_MAX, Kind::Gauge, |r| n(r.rate_max)),
    http(
        "http_requests_rate_max",
        "Highest value of http requests observed since the worker process started",
        Kind::Gauge,
        |r| o(r.req_rate_max),
    ),
    http("http_requests_total", H_HREQ, Kind::Counter, |r| n(r.req_tot)),
    fam(
        "connections_rate_max",
        "Highest value of connections per second observed since the worker process started",
        Kind::Gauge,
        |r| o(r.conn_rate_max),
    ),
    fam(
        "connections_total",
        "Total number of new connections accepted on this frontend since the worker process started",
        Kind::Counter,
        |r| o(r.conn_tot),
    ),
    http(
        "intercepted_requests_total",
        "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started",
        Kind::Counter,
        |r| o(r.intercepted),
    ),
];

// Backends and servers share most families, in the same order; the lists below are the runs
// HAProxy's exporter writes for both, with the families only one of them has in between.

/// Errors, retries and weight.
const SHARED_ERRORS: &[Family] = &[
    fam("responses_denied_total", H_DRESP, Kind::Counter, |r| {
        n(r.dresp)
    }),
    fam("connection_errors_total", H_ECON, Kind::Counter, |r| {
        o(r.econ)
    }),
    fam("response_errors_total", H_ERESP, Kind::Counter, |r| {
        o(r.eresp)
    }),
    fam("retry_warnings_total", H_WRETR, Kind::Counter, |r| {
        o(r.wretr)
    }),
    fam("redispatch_warnings_total", H_WREDIS, Kind::Counter, |r| {
        o(r.wredis)
    }),
    fam("weight", H_WEIGHT, Kind::Gauge, |r| r.weight.map(f64::from)),
];

/// Checks' transitions, downtime, balancing.
const SHARED_CHECKS: &[Family] = &[
    fam("check_up_down_total", H_CHKDOWN, Kind::Counter, |r| {
        o(r.chkdown)
    }),
    fam("check_last_change_seconds", H_LASTCHG, Kind::Gauge, |r| {
        o(r.lastchg)
    }),
    fam("downtime_seconds_total", H_DOWNTIME, Kind::Counter, |r| {
        o(r.downtime)
    }),
    fam("loadbalanced_total", H_LBTOT, Kind::Counter, |r| o(r.lbtot)),
    fam("max_session_rate", H_RATE_MAX, Kind::Gauge, |r| {
        n(r.rate_max)
    }),
];

/// Aborts, times, connections, user weight.
const SHARED_TAIL: &[Family] = &[
    fam("client_aborts_total", H_CLI_ABRT, Kind::Counter, |r| {
        o(r.cli_abrt)
    }),
    fam("server_aborts_total", H_SRV_ABRT, Kind::Counter, |r| {
        o(r.srv_abrt)
    }),
    fam("last_session_seconds", H_LASTSESS, Kind::Gauge, |r| {
        r.lastsess.map(|x| x as f64)
    }),
    fam("queue_time_average_seconds", H_QTIME, Kind::Gauge, |r| {
        secs(r.qtime_ms)
    }),
    fam("connect_time_average_seconds", H_CTIME, Kind::Gauge, |r| {
        secs(r.ctime_ms)
    }),
    fam("response_time_average_seconds", H_RTIME, Kind::Gauge, |r| {
        secs(r.rtime_ms)
    }),
    fam("total_time_average_seconds", H_TTIME, Kind::Gauge, |r| {
        secs(r.ttime_ms)
    }),
    fam("connection_attempts_total", H_CONNECT, Kind::Counter, |r| {
        o(r.connect)
    }),
    fam("connection_reuses_total", H_REUSE, Kind::Counter, |r| {
        o(r.reuse)
    }),
    fam("max_queue_time_seconds", H_QTIME_MAX, Kind::Gauge, |r| {
        tmax(r, 0)
    }),
    fam("max_connect_time_seconds", H_CTIME_MAX, Kind::Gauge, |r| {
        tmax(r, 1)
    }),
    fam("max_response_time_seconds", H_RTIME_MAX, Kind::Gauge, |r| {
        tmax(r, 2)
    }),
    fam("max_total_time_seconds", H_TTIME_MAX, Kind::Gauge, |r| {
        tmax(r, 3)
    }),
    fam("uweight", H_UWEIGHT, Kind::Gauge, |r| {
        r.uweight.map(f64::from)
    }),
];

const BACKEND: &[&[Family]] = &[
    QUEUE,
    SESSIONS,
    &[fam("requests_denied_total", H_DREQ, Kind::Counter, |r| {
        o(r.dreq)
    })],
    SHARED_ERRORS,
    &[
        fam(
            "active_servers",
            "Total number of active UP servers with a non-zero weight",
            Kind::Gauge,
            |r| r.act.map(f64::from),
        ),
        fam(
            "backup_servers",
            "Total number of backup UP servers with a non-zero weight",
            Kind::Gauge,
            |r| r.bck.map(f64::from),
        ),
    ],
    SHARED_CHECKS,
    &[http("http_requests_total", H_HREQ, Kind::Counter, |r| {
        n(r.req_tot)
    })],
    SHARED_TAIL,
];

const SERVER: &[&[Family]] = &[
    QUEUE,
    SESSIONS,
    SHARED_ERRORS,
    &[fam(
        "check_failures_total",
        "Total number of failed individual health checks per server/backend, since the worker process started",
        Kind::Counter,
        |r| o(r.chkfail),
    )],
    SHARED_CHECKS,
    &[
        fam("check_code", "layer5-7 code, if available of the last health check.", Kind::Gauge, |r| r.check_code.map(f64::from)),
        fam(
            "check_duration_seconds",
            "Total duration of the latest server health check, in seconds.",
            Kind::Gauge,
            |r| secs(r.check_duration_ms),
        ),
    ],
    SHARED_TAIL,
];

/// HAProxy's server states, in its order.
const SERVER_STATES: [&str; 5] = ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"];
/// HAProxy's check statuses as promex lists them.
const CHECK_STATES: [&str; 16] = [
    "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP",
    "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK",
];

/// The `state` a row's status word maps to (`UP 1/3` → UP, `no check` → UP).
fn server_state(status: &str) -> &'static str {
    let s = status.trim_start_matches("* ");
    if s.starts_with("MAINT") {
        "MAINT"
    } else if s.starts_with("DRAIN") {
        "DRAIN"
    } else if s.starts_with("NOLB") {
        "NOLB"
    } else if s.starts_with("DOWN") {
        "DOWN"
    } else {
        "UP"
    }
}

/// Process-wide figures for `haproxy_process_*`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Process {
    pub nbthread: u32,
    pub uptime_secs: f64,
    pub start_time_secs: f64,
}

/// Writes every `haproxy_*` family for `rows`.
pub fn render(out: &mut Exposition, process: &Process, rows: &[StatRow]) {
    out.single(
        "haproxy_process_nbthread",
        "Number of started threads (global.nbthread)",
        Kind::Gauge,
        f64::from(process.nbthread),
    );
    out.single(
        "haproxy_process_uptime_seconds",
        "How long ago this worker process was started (seconds)",
        Kind::Gauge,
        process.uptime_secs,
    );
    out.single(
        "haproxy_process_start_time_seconds",
        "Start time in seconds",
        Kind::Gauge,
        process.start_time_secs,
    );
    let fes: Vec<&StatRow> = rows
        .iter()
        .filter(|r| r.kind == RowKind::Frontend)
        .collect();
    let bes: Vec<&StatRow> = rows.iter().filter(|r| r.kind == RowKind::Backend).collect();
    let srvs: Vec<&StatRow> = rows.iter().filter(|r| r.kind == RowKind::Server).collect();

    families(
        out,
        "haproxy_frontend_",
        &[SESSIONS, FRONTEND_REST],
        &fes,
        false,
    );
    state_family(
        out,
        "haproxy_frontend_status",
        &fes,
        false,
        &["DOWN", "UP"],
        |r| {
            if r.status == "OPEN" {
                "UP"
            } else {
                "DOWN"
            }
        },
    );
    responses(out, "haproxy_frontend_http_responses_total", &fes, false);

    families(out, "haproxy_backend_", BACKEND, &bes, false);
    state_family(
        out,
        "haproxy_backend_status",
        &bes,
        false,
        &["DOWN", "UP"],
        |r| {
            if r.status.starts_with("UP") {
                "UP"
            } else {
                "DOWN"
            }
        },
    );
    responses(out, "haproxy_backend_http_responses_total", &bes, false);

    families(out, "haproxy_server_", SERVER, &srvs, true);
    state_family(
        out,
        "haproxy_server_status",
        &srvs,
        true,
        &SERVER_STATES,
        |r| server_state(&r.status),
    );
    let checked: Vec<&StatRow> = srvs
        .iter()
        .copied()
        .filter(|r| r.check_status.as_deref().is_some_and(|c| c != "INI"))
        .collect();
    if !checked.is_empty() {
        out.family(
            "haproxy_server_check_status",
            "Status of last health check, per state label value.",
            Kind::Gauge,
        );
        for r in &checked {
            let code = r
                .check_status
                .as_deref()
                .unwrap_or_default()
                .trim_start_matches("* ");
            for st in CHECK_STATES {
                let v = if code == st { 1.0 } else { 0.0 };
                out.sample(
                    "haproxy_server_check_status",
                    &[("proxy", &r.pxname), ("server", &r.svname), ("state", st)],
                    v,
                );
            }
        }
    }
    responses(out, "haproxy_server_http_responses_total", &srvs, true);
}

fn labels(r: &StatRow, server: bool) -> Vec<(&'static str, &str)> {
    if server {
        vec![("proxy", r.pxname.as_str()), ("server", r.svname.as_str())]
    } else {
        vec![("proxy", r.pxname.as_str())]
    }
}

fn families(
    out: &mut Exposition,
    prefix: &str,
    lists: &[&[Family]],
    rows: &[&StatRow],
    server: bool,
) {
    for f in lists.iter().flat_map(|l| l.iter()) {
        let values: Vec<(&StatRow, f64)> = rows
            .iter()
            .filter(|r| !f.http || r.mode == Mode::Http)
            .filter_map(|r| (f.get)(r).map(|v| (*r, v)))
            .collect();
        if values.is_empty() {
            continue;
        }
        let name = format!("{prefix}{}", f.name);
        out.family(&name, f.help, f.kind);
        for (r, v) in values {
            out.sample(&name, &labels(r, server), v);
        }
    }
}

fn state_family(
    out: &mut Exposition,
    name: &str,
    rows: &[&StatRow],
    server: bool,
    states: &[&str],
    state: impl Fn(&StatRow) -> &'static str,
) {
    if rows.is_empty() {
        return;
    }
    out.family(name, H_STATUS, Kind::Gauge);
    for r in rows {
        let now = state(r);
        for st in states {
            let mut l = labels(r, server);
            l.push(("state", st));
            out.sample(name, &l, if now == *st { 1.0 } else { 0.0 });
        }
    }
}

fn responses(out: &mut Exposition, name: &str, rows: &[&StatRow], server: bool) {
    let http: Vec<&&StatRow> = rows.iter().filter(|r| r.mode == Mode::Http).collect();
    if http.is_empty() {
        return;
    }
    out.family(name, H_HRSP, Kind::Counter);
    for r in http {
        for (i, code) in ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]
            .iter()
            .enumerate()
        {
            let mut l = labels(r, server);
            l.push(("code", code));
            out.sample(name, &l, r.hrsp[i] as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_states_from_status_words() {
        assert_eq!(server_state("UP"), "UP");
        assert_eq!(server_state("UP 1/3"), "UP");
        assert_eq!(server_state("DOWN 1/2"), "DOWN");
        assert_eq!(server_state("no check"), "UP");
        assert_eq!(server_state("MAINT"), "MAINT");
        assert_eq!(server_state("MAINT (resolution)"), "MAINT");
        assert_eq!(server_state("DRAIN"), "DRAIN");
    }
}
