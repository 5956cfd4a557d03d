//! HAProxy 2.6's Prometheus metrics (`haproxy_process_*`, `haproxy_frontend_*`,
//! `haproxy_backend_*`, `haproxy_server_*`) from the stats rows, with HAProxy's names, HELP
//! texts, types and labels (`proxy`, `server`, `code`, `state`) so dashboards and alerts built
//! on HAProxy's `prometheus-exporter` service work unchanged. Families are written in HAProxy's
//! order, each once with all its samples; a metric fulcrum has no value for is left out
//! (HAProxy leaves out the ones that do not apply too, e.g. HTTP metrics of TCP proxies).
//! Pure: rows in, text out.

mod families;

use super::text::{Exposition, Kind};
use crate::snapshot::{RowKind, StatRow};
use families::*;
use fulcrum_config::model::Mode;

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
    /// The process's TLS figures (`haproxy_process_*ssl*`).
    pub ssl: fulcrum_proxy::tls::totals::Figures,
}

/// HAProxy 2.6's `haproxy_process_*ssl*` families, in its order: (name, help, counter, value).
fn ssl_families(
    f: &fulcrum_proxy::tls::totals::Figures,
) -> [(&'static str, &'static str, bool, u64); 13] {
    [
        ("haproxy_process_max_ssl_connections", "Hard limit on the number of per-process SSL endpoints (front+back), 0=unlimited", false, 0),
        ("haproxy_process_current_ssl_connections", "Current number of SSL endpoints on this worker process (front+back)", false, f.curr_ssl_conns),
        ("haproxy_process_ssl_connections_total", "Total number of SSL endpoints on this worker process since started (front+back)", true, f.cum_ssl_conns),
        ("haproxy_process_current_ssl_rate", "Number of SSL connections created on this worker process over the last second", false, f.ssl_rate),
        ("haproxy_process_limit_ssl_rate", "Hard limit for SslRate (global.maxsslrate)", false, 0),
        ("haproxy_process_max_ssl_rate", "Highest SslRate reached on this worker process since started (in connections per second)", false, f.max_ssl_rate),
        ("haproxy_process_current_frontend_ssl_key_rate", "Number of SSL keys created on frontends in this worker process over the last second", false, f.fe_key_rate),
        ("haproxy_process_max_frontend_ssl_key_rate", "Highest SslFrontendKeyRate reached on this worker process since started (in SSL keys per second)", false, f.fe_max_key_rate),
        ("haproxy_process_frontend_ssl_reuse", "Percent of frontend SSL connections which did not require a new key", false, f.fe_reuse_pct),
        ("haproxy_process_current_backend_ssl_key_rate", "Number of SSL keys created on backends in this worker process over the last second", false, f.be_key_rate),
        ("haproxy_process_max_backend_ssl_key_rate", "Highest SslBackendKeyRate reached on this worker process since started (in SSL keys per second)", false, f.be_max_key_rate),
        ("haproxy_process_ssl_cache_lookups_total", "Total number of SSL session ID lookups in the SSL session cache on this worker since started", true, f.cache_lookups),
        ("haproxy_process_ssl_cache_misses_total", "Total number of SSL session ID lookups that didn't find a session in the SSL session cache on this worker since started", true, f.cache_misses),
    ]
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
    for (name, help, counter, v) in ssl_families(&process.ssl) {
        let kind = if counter { Kind::Counter } else { Kind::Gauge };
        out.single(name, help, kind, v as f64);
    }
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
