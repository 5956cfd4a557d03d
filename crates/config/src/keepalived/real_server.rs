//! `real_server IP [PORT] { weight inhibit_on_failure virtualhost CHECKER... }` (the checker
//! blocks are read by `checker`).
//!
//! connect_timeout, retry, delay_before_retry, inhibit_on_failure and virtualhost written on
//! the virtual or real server are the defaults of its checkers. `nb_get_retry` is the old
//! spelling of `retry` (warned, accepted).

use super::args;
use super::checker;
use super::lexer::Stmt;
use super::virtual_server::lb_kind;
use crate::diagnostics::Diagnostics;
use crate::model::RealServer;
use std::time::Duration;

const KNOWN: &[&str] = &[
    "smtp_alert",
    "weight",
    "inhibit_on_failure",
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
    "connect_timeout",
    "retry",
    "delay_before_retry",
    "virtualhost",
    "uthreshold",
    "lthreshold",
];
const UNSUPPORTED: &[&str] = &[
    "lvs_method",
    "notify_up",
    "notify_down",
    "snmp_name",
    "alpha",
    "warmup",
    "delay_loop",
    "rs_init_notifies",
];
/// connect_timeout / retry / delay_before_retry / inhibit_on_failure / virtualhost written
/// above a checker, and the virtual server's delay_loop (DNS_CHECK's delay_before_retry).
#[derive(Debug, Clone, Default)]
pub struct CheckDefaults {
    pub(super) connect_timeout: Option<Duration>,
    pub(super) retry: Option<u32>,
    pub(super) delay_before_retry: Option<Duration>,
    pub(super) inhibit_on_failure: Option<bool>,
    pub(super) virtualhost: Option<String>,
    pub(super) delay_loop: Option<Duration>,
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

    pub(super) fn apply(&mut self, kw: &Stmt, d: &mut Diagnostics) {
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
            "virtualhost" => {
                if let Some(w) = args::one(kw, d) {
                    self.virtualhost = Some(w.text.clone());
                }
            }
            // read quietly here; the virtual server reports its own problems
            "delay_loop" => {
                if let Some(t) = kw
                    .args()
                    .first()
                    .and_then(|w| crate::units::parse_seconds(&w.text).ok())
                {
                    self.delay_loop = Some(t);
                }
            }
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
        uthreshold: None,
        lthreshold: None,
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
            "uthreshold" | "lthreshold" => {
                let v = args::one(kw, d)
                    .and_then(|w| args::u32_in(w, kw.keyword(), 0, u32::MAX, d))
                    .filter(|v| *v > 0);
                if kw.keyword() == "uthreshold" {
                    rs.uthreshold = v;
                } else {
                    rs.lthreshold = v;
                }
            }
            k if checker::KINDS.contains(&k) || k == "BFD_CHECK" => {
                let delay_loop = defaults.delay_loop.unwrap_or(Duration::from_secs(60));
                rs.checkers
                    .extend(checker::parse(kw, &defaults, delay_loop, d));
            }
            "connect_timeout" | "retry" | "delay_before_retry" | "inhibit_on_failure"
            | "virtualhost" => CheckDefaults::report(kw, d),
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
