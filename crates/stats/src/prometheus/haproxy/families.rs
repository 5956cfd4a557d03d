//! The tables of HAProxy 2.6's Prometheus families: each metric's name, HELP text (HAProxy's
//! own words), type, the stats-row value it reads, and whether it exists only in HTTP mode;
//! the server and check state names. Data only: `super` writes them.

use super::super::text::Kind;
use crate::snapshot::StatRow;

pub(super) type Get = fn(&StatRow) -> Option<f64>;

/// One family: name suffix (after `haproxy_frontend_` etc.), HELP, type, value.
pub(super) struct Family {
    pub(super) name: &'static str,
    pub(super) help: &'static str,
    pub(super) kind: Kind,
    pub(super) get: Get,
    /// Only for proxies in HTTP mode.
    pub(super) http: bool,
}

pub(super) const fn fam(name: &'static str, help: &'static str, kind: Kind, get: Get) -> Family {
    Family {
        name,
        help,
        kind,
        get,
        http: false,
    }
}
pub(super) const fn http(name: &'static str, help: &'static str, kind: Kind, get: Get) -> Family {
    Family {
        name,
        help,
        kind,
        get,
        http: true,
    }
}

pub(super) fn n(v: u64) -> Option<f64> {
    Some(v as f64)
}
pub(super) fn o(v: Option<u64>) -> Option<f64> {
    v.map(|x| x as f64)
}
pub(super) fn secs(ms: Option<u64>) -> Option<f64> {
    ms.map(|x| x as f64 / 1000.0)
}

pub(super) const H_CUR: &str = "Number of current sessions on the frontend, backend or server";
pub(super) const H_MAX: &str =
    "Highest value of current sessions encountered since process started";
pub(super) const H_LIM: &str = "Frontend/listener/server's maxconn, backend's fullconn";
pub(super) const H_TOT: &str = "Total number of sessions since process started";
pub(super) const H_BIN: &str = "Total number of request bytes since process started";
pub(super) const H_BOUT: &str = "Total number of response bytes since process started";
pub(super) const H_DREQ: &str = "Total number of denied requests since process started";
pub(super) const H_DRESP: &str = "Total number of denied responses since process started";
pub(super) const H_RATE_MAX: &str =
    "Highest value of sessions per second observed since the worker process started";
pub(super) const H_HREQ: &str =
    "Total number of HTTP requests processed by this object since the worker process started";
pub(super) const H_QCUR: &str = "Number of current queued connections";
pub(super) const H_QMAX: &str =
    "Highest value of queued connections encountered since process started";
pub(super) const H_ECON: &str =
    "Total number of failed connections to server since the worker process started";
pub(super) const H_ERESP: &str =
    "Total number of invalid responses since the worker process started";
pub(super) const H_WRETR: &str =
    "Total number of server connection retries since the worker process started";
pub(super) const H_WREDIS: &str = "Total number of server redispatches due to connection failures since the worker process started";
pub(super) const H_WEIGHT: &str =
    "Server's effective weight, or sum of active servers' effective weights for a backend";
pub(super) const H_UWEIGHT: &str =
    "Server's user weight, or sum of active servers' user weights for a backend";
pub(super) const H_CHKDOWN: &str =
    "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started";
pub(super) const H_LASTCHG: &str = "How long ago the last server state changed, in seconds";
pub(super) const H_DOWNTIME: &str = "Total time spent in DOWN state, for server or backend";
pub(super) const H_LBTOT: &str =
    "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)";
pub(super) const H_CLI_ABRT: &str = "Total number of requests or connections aborted by the client since the worker process started";
pub(super) const H_SRV_ABRT: &str = "Total number of requests or connections aborted by the server since the worker process started";
pub(super) const H_LASTSESS: &str =
    "How long ago some traffic was seen on this object on this worker process, in seconds";
pub(super) const H_QTIME: &str = "Avg. queue time for last 1024 successful connections.";
pub(super) const H_CTIME: &str = "Avg. connect time for last 1024 successful connections.";
pub(super) const H_RTIME: &str = "Avg. response time for last 1024 successful connections.";
pub(super) const H_TTIME: &str = "Avg. total time for last 1024 successful connections.";
pub(super) const H_CONNECT: &str = "Total number of outgoing connection attempts on this backend/server since the worker process started";
pub(super) const H_REUSE: &str =
    "Total number of reused connection on this backend/server since the worker process started";
pub(super) const H_QTIME_MAX: &str = "Maximum observed time spent in the queue";
pub(super) const H_CTIME_MAX: &str =
    "Maximum observed time spent waiting for a connection to complete";
pub(super) const H_RTIME_MAX: &str = "Maximum observed time spent waiting for a server response";
pub(super) const H_TTIME_MAX: &str =
    "Maximum observed total request+response time (request+queue+connect+response+processing)";
pub(super) const H_STATUS: &str = "Current status of the service, per state label value.";
pub(super) const H_HRSP: &str =
    "Total number of HTTP responses with status 100-199 returned by this object since the worker process started";

pub(super) fn tmax(r: &StatRow, i: usize) -> Option<f64> {
    r.time_max_ms.map(|t| t[i] as f64 / 1000.0)
}

/// Sessions and bytes, for every kind of proxy.
pub(super) const SESSIONS: &[Family] = &[
    fam("current_sessions", H_CUR, Kind::Gauge, |r| n(r.scur)),
    fam("max_sessions", H_MAX, Kind::Gauge, |r| n(r.smax)),
    fam("limit_sessions", H_LIM, Kind::Gauge, |r| o(r.slim)),
    fam("sessions_total", H_TOT, Kind::Counter, |r| n(r.stot)),
    fam("bytes_in_total", H_BIN, Kind::Counter, |r| n(r.bin)),
    fam("bytes_out_total", H_BOUT, Kind::Counter, |r| n(r.bout)),
];

/// Queue, for backends and servers.
pub(super) const QUEUE: &[Family] = &[
    fam("current_queue", H_QCUR, Kind::Gauge, |r| o(r.qcur)),
    fam("max_queue", H_QMAX, Kind::Gauge, |r| o(r.qmax)),
];

pub(super) const FRONTEND_REST: &[Family] = &[
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
pub(super) const SHARED_ERRORS: &[Family] = &[
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
pub(super) const SHARED_CHECKS: &[Family] = &[
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
pub(super) const SHARED_TAIL: &[Family] = &[
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

pub(super) const BACKEND: &[&[Family]] = &[
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

pub(super) const SERVER: &[&[Family]] = &[
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
pub(super) const SERVER_STATES: [&str; 5] = ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"];
/// HAProxy's check statuses as promex lists them.
pub(super) const CHECK_STATES: [&str; 16] = [
    "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP",
    "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK",
];
