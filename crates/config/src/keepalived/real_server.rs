//! `real_server IP [PORT] { weight inhibit_on_failure HTTP_GET|SSL_GET|TCP_CHECK|MISC_CHECK }`.
//!
//! Checker defaults as keepalived.conf(5): connect_timeout 5s, retry 1, delay_before_retry 3s
//! for HTTP_GET/SSL_GET and 1s otherwise; a value written on the virtual or real server is the
//! default for its checkers. `nb_get_retry` is the old spelling of `retry` (warned, accepted).

use super::args;
use super::lexer::Stmt;
use super::virtual_server::lb_kind;
use crate::diagnostics::Diagnostics;
use crate::model::{CheckUrl, Checker, RealServer};
use std::time::Duration;

const KNOWN: &[&str] = &[
    "smtp_alert",
    "weight",
    "inhibit_on_failure",
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "MISC_CHECK",
    "connect_timeout",
    "retry",
    "delay_before_retry",
];
const UNSUPPORTED: &[&str] = &[
    "lvs_method",
    "notify_up",
    "notify_down",
    "uthreshold",
    "lthreshold",
    "virtualhost",
    "snmp_name",
    "alpha",
    "warmup",
    "delay_loop",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
    "rs_init_notifies",
];
const CHECK_KNOWN: &[&str] = &[
    "url",
    "connect_timeout",
    "connect_port",
    "retry",
    "nb_get_retry",
    "delay_before_retry",
    "misc_path",
    "misc_timeout",
    "misc_dynamic",
];
const CHECK_UNSUPPORTED: &[&str] = &[
    "connect_ip",
    "bindto",
    "bind_if",
    "bind_port",
    "fwmark",
    "alpha",
    "warmup",
    "delay_loop",
    "log_all_failures",
    "http_protocol",
    "fast_recovery",
    "enable_sni",
    "virtualhost",
    "user",
];
const URL_UNSUPPORTED: &[&str] = &[
    "virtualhost",
    "regex",
    "regex_no_match",
    "regex_options",
    "regex_stack",
    "regex_min_offset",
    "regex_max_offset",
];

/// connect_timeout / retry / delay_before_retry / inhibit_on_failure written above a checker.
#[derive(Debug, Clone, Default)]
pub struct CheckDefaults {
    connect_timeout: Option<Duration>,
    retry: Option<u32>,
    delay_before_retry: Option<Duration>,
    inhibit_on_failure: Option<bool>,
}

impl CheckDefaults {
    /// Reads the defaults written directly in `stmts`, over those inherited from `parent`.
    /// Quiet: problems are reported by `report` in the block's own pass.
    pub fn scan(stmts: &[Stmt], parent: &CheckDefaults) -> CheckDefaults {
        let mut out = parent.clone();
        let mut quiet = Diagnostics::new();
        for kw in stmts {
            out.apply(kw, &mut quiet);
        }
        out
    }

    /// Reports problems in one of the default keywords.
    pub fn report(kw: &Stmt, d: &mut Diagnostics) {
        CheckDefaults::default().apply(kw, d);
    }

    fn apply(&mut self, kw: &Stmt, d: &mut Diagnostics) {
        match kw.keyword() {
            "connect_timeout" => {
                if let Some(t) =
                    args::one(kw, d).and_then(|w| args::seconds(w, "connect_timeout", d))
                {
                    self.connect_timeout = Some(t);
                }
            }
            "retry" | "nb_get_retry" => {
                if let Some(v) =
                    args::one(kw, d).and_then(|w| args::u32_in(w, kw.keyword(), 0, u32::MAX, d))
                {
                    self.retry = Some(v);
                }
            }
            "delay_before_retry" => {
                if let Some(t) =
                    args::one(kw, d).and_then(|w| args::seconds(w, "delay_before_retry", d))
                {
                    self.delay_before_retry = Some(t);
                }
            }
            "inhibit_on_failure" => self.inhibit_on_failure = Some(args::opt_bool(kw, d)),
            _ => {}
        }
    }
}

pub fn parse(
    stmt: &Stmt,
    vs_port: u16,
    vs_defaults: &CheckDefaults,
    d: &mut Diagnostics,
) -> Option<RealServer> {
    let (ip, port) = match stmt.args() {
        [] => {
            d.error(
                stmt.span(),
                "real_server expects 'IP [PORT]', found nothing",
            );
            return None;
        }
        [ip, rest @ ..] => {
            let port = match rest.first() {
                Some(p) => args::port(p, "real_server port", false, d)?,
                None => vs_port,
            };
            if rest.len() > 1 {
                d.warning(
                    stmt.span(),
                    "real_server takes 'IP PORT'; ignoring the words after the port",
                );
            }
            (args::ip(ip, "real_server", d)?, port)
        }
    };
    let mut rs = RealServer {
        span: stmt.span().clone(),
        ip,
        port,
        weight: 1,
        inhibit_on_failure: vs_defaults.inhibit_on_failure.unwrap_or(false),
        checkers: Vec::new(),
        smtp_alert: None,
    };
    // `real_server IP PORT` with no block is a server without checks: keepalived accepts it.
    let Some(block) = &stmt.block else {
        return Some(rs);
    };
    let body = &block.stmts;
    let defaults = CheckDefaults::scan(body, vs_defaults);
    rs.inhibit_on_failure = defaults.inhibit_on_failure.unwrap_or(false);
    let context = format!(
        "real_server {}",
        stmt.args()
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    for kw in body {
        match kw.keyword() {
            "smtp_alert" => rs.smtp_alert = Some(args::opt_bool(kw, d)),
            "weight" => {
                if let Some(v) = args::one(kw, d)
                    .and_then(|w| args::u32_in(w, "real_server weight", 0, 65535, d))
                {
                    rs.weight = v;
                }
            }
            "HTTP_GET" | "SSL_GET" | "TCP_CHECK" | "MISC_CHECK" => {
                if let Some(c) = checker(kw, &defaults, d) {
                    rs.checkers.push(c);
                }
            }
            "connect_timeout" | "retry" | "delay_before_retry" | "inhibit_on_failure" => {
                CheckDefaults::report(kw, d)
            }
            "lvs_method" => {
                lb_kind(kw, d);
                d.warning(
                    kw.span(),
                    "a per-real_server 'lvs_method' is not supported yet, ignored",
                );
            }
            _ => args::unknown(kw, &context, KNOWN, UNSUPPORTED, d),
        }
    }
    Some(rs)
}

fn checker(stmt: &Stmt, parent: &CheckDefaults, d: &mut Diagnostics) -> Option<Checker> {
    args::flag(
        &Stmt {
            words: stmt.words.clone(),
            block: None,
        },
        d,
    );
    let body = args::block(stmt, d)?;
    let kind = stmt.keyword();
    let is_http = matches!(kind, "HTTP_GET" | "SSL_GET");
    let is_misc = kind == "MISC_CHECK";
    let mut own = CheckDefaults::default();
    let mut urls = Vec::new();
    let mut connect_port = None;
    let mut misc_path = None;
    let mut misc_timeout = None;
    let mut misc_dynamic = false;
    for kw in body {
        match (kw.keyword(), is_http, is_misc) {
            ("url", true, _) => {
                if let Some(u) = url(kw, d) {
                    urls.push(u);
                }
            }
            ("connect_timeout" | "retry" | "delay_before_retry", _, false) => own.apply(kw, d),
            ("nb_get_retry", _, false) => {
                d.warning(
                    kw.span(),
                    "'nb_get_retry' is deprecated; it is the old name of 'retry' (accepted)",
                );
                own.apply(kw, d);
            }
            ("connect_port", _, false) => {
                connect_port =
                    args::one(kw, d).and_then(|w| args::port(w, "connect_port", false, d));
            }
            ("misc_path", _, true) => misc_path = args::command(kw, d),
            ("misc_timeout", _, true) => {
                misc_timeout = args::one(kw, d).and_then(|w| args::seconds(w, "misc_timeout", d));
            }
            ("misc_dynamic", _, true) => misc_dynamic = args::opt_bool(kw, d),
            (other, _, _) if CHECK_KNOWN.contains(&other) => {
                d.error(kw.span(), format!("'{other}' does not apply to {kind}"));
            }
            _ => args::unknown(kw, kind, CHECK_KNOWN, CHECK_UNSUPPORTED, d),
        }
    }
    let span = stmt.span().clone();
    let connect_timeout = own
        .connect_timeout
        .or(parent.connect_timeout)
        .unwrap_or(Duration::from_secs(5));
    let retry = own.retry.or(parent.retry).unwrap_or(1);
    match kind {
        "HTTP_GET" | "SSL_GET" => {
            if urls.is_empty() {
                d.error(
                    &span,
                    format!("{kind} has no 'url {{ path ... }}': expected at least one"),
                );
            }
            Some(Checker::HttpGet {
                span,
                ssl: kind == "SSL_GET",
                urls,
                connect_timeout,
                connect_port,
                retry,
                delay_before_retry: own
                    .delay_before_retry
                    .or(parent.delay_before_retry)
                    .unwrap_or(Duration::from_secs(3)),
            })
        }
        "TCP_CHECK" => Some(Checker::TcpCheck {
            span,
            connect_timeout,
            connect_port,
            retry,
            delay_before_retry: own
                .delay_before_retry
                .or(parent.delay_before_retry)
                .unwrap_or(Duration::from_secs(1)),
        }),
        _ => {
            let Some(misc_path) = misc_path else {
                d.error(
                    &span,
                    "MISC_CHECK has no 'misc_path': expected the script to run",
                );
                return None;
            };
            Some(Checker::MiscCheck {
                span,
                misc_path,
                misc_timeout,
                misc_dynamic,
            })
        }
    }
}

fn url(stmt: &Stmt, d: &mut Diagnostics) -> Option<CheckUrl> {
    let body = args::block(stmt, d)?;
    let mut path = None;
    let mut status_code = Vec::new();
    let mut digest = None;
    for kw in body {
        match kw.keyword() {
            "path" => path = args::one(kw, d).map(|w| w.text.clone()),
            "status_code" => {
                args::no_block(kw, d);
                if kw.args().is_empty() {
                    d.error(kw.span(), "'status_code' expects a code such as 200 or a range such as 200-299, found nothing");
                }
                for w in kw.args() {
                    status_codes(&w.text, &mut status_code).unwrap_or_else(|m| d.error(&w.span, m));
                }
            }
            "digest" => {
                if let Some(w) = args::one(kw, d) {
                    if w.text.len() == 32 && w.text.chars().all(|c| c.is_ascii_hexdigit()) {
                        digest = Some(w.text.to_ascii_lowercase());
                    } else {
                        d.error(
                            &w.span,
                            format!(
                                "digest expects 32 hex digits (an MD5 from genhash), found '{}'",
                                w.text
                            ),
                        );
                    }
                }
            }
            _ => args::unknown(
                kw,
                "url",
                &["path", "status_code", "digest"],
                URL_UNSUPPORTED,
                d,
            ),
        }
    }
    match path {
        Some(path) => Some(CheckUrl {
            path,
            status_code,
            digest,
        }),
        None => {
            d.error(
                stmt.span(),
                "url has no 'path': expected e.g. 'path /health'",
            );
            None
        }
    }
}

/// `200` or `200-299`, HTTP codes 100..599.
fn status_codes(text: &str, out: &mut Vec<u16>) -> Result<(), String> {
    let bad = || {
        format!("status_code expects a code 100..599 or a range such as 200-299, found '{text}'")
    };
    let (lo, hi) = match text.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let v = text.parse::<u16>().map_err(|_| bad())?;
            (v, v)
        }
    };
    if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) || lo > hi {
        return Err(bad());
    }
    out.extend(lo..=hi);
    Ok(())
}
