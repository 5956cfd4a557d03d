//! The run-time form of a `Config`: frontends and backends with everything compiled (ACLs,
//! rules, balancers, error pages), built once per (re)load.
//!
//! A connection holds the `Arc<Frontend>` it was accepted with, so a reload never changes
//! the rules under a request in flight. Servers whose definition did not change are carried
//! over from the previous generation (same `Arc`), keeping their counters and idle pools.

use crate::acl::Cond;
use crate::applet::Applet;
use crate::backend::{Backend, FarmParts};
use crate::counters::Counters;
use crate::error::ProxyError;
use crate::http::errors::ErrorPages;
use crate::http::headers::ForwardForRt;
use crate::http::policy::HttpPolicy;
use crate::http::rules::{self, Fmt, Rule};
use crate::log::Logger;
use crate::observe::SinkSlot;
use crate::server::{ServerRt, Target};
use crate::tcp_rules;
use crate::track::{self, Table, Tables};
use fulcrum_config::model::{Mode, Proxy, ProxyOptions, ServerPort, Timeouts, UnixAddress};
use fulcrum_config::Config;
use fulcrum_sample::fetch::Needs;
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, OnceLock, Weak};
use tokio::sync::{watch, Semaphore};

mod backend_build;

mod generation_build;
pub use generation_build::{build, build_with};

/// Where a `use_backend` rule sends the request.
pub enum Route {
    Backend(Arc<Backend>),
    /// A log-format name (`use_backend %[req.hdr(host),lower,map(hosts.map)]`), evaluated per
    /// request (lent without a copy where it can be: `route.rs`, `Fmt::lend`) and looked up
    /// among the backends; none found: the `default_backend`, as HAProxy.
    Named(Fmt, NamedBackends),
}

/// The backends by name for [`Route::Named`]: foldhash, seeded per process (std's SipHash
/// was most of a lookup per request for a short name).
pub type NamedBackends = HashMap<String, Arc<Backend>, foldhash::fast::RandomState>;

impl Frontend {
    /// What the stick-counter fetches and actions of a stream of this frontend use; `own`:
    /// the table of the proxy whose rules run (this frontend's, or a backend's).
    pub fn counters<'a>(
        &'a self,
        tracking: Option<&'a track::Tracking>,
        own: Option<&'a Arc<Table>>,
    ) -> Option<track::Counters<'a>> {
        Some(track::Counters {
            tracking: tracking?,
            own,
            tables: &self.tables,
        })
    }

    /// A connection's rule state, when the configuration has stick tables or variables.
    pub fn new_tracking(&self) -> Option<Arc<track::Tracking>> {
        self.stateful.then(|| Arc::new(track::Tracking::default()))
    }
}

pub use crate::http::rules::wait_body::BodyWait;

/// A backend's `tcp-response content` rules and how long they may wait for data.
pub struct TcpResponse {
    pub rules: Vec<tcp_rules::Rule>,
    pub delay: Option<std::time::Duration>,
}

pub struct Frontend {
    pub name: String,
    /// `rate-limit sessions N` (new for each generation).
    pub session_rate: Option<Arc<crate::rate_limit::SessionRate>>,
    pub mode: Mode,
    pub use_backends: Vec<(Cond, Route)>,
    pub default_backend: Option<Arc<Backend>>,
    pub http_request: Vec<Rule>,
    pub http_response: Vec<Rule>,
    /// `http-after-response` rules of this frontend (every answer to its clients).
    pub http_after_response: Vec<Rule>,
    /// `tcp-request connection` / `session` / `content` rules of this frontend (or listen).
    pub tcp_connection: Vec<tcp_rules::Rule>,
    pub tcp_session: Vec<tcp_rules::Rule>,
    pub tcp_content: Vec<tcp_rules::Rule>,
    /// `tcp-request content` rules of the backends (not listens) that have some, by name:
    /// run once a request reaches that backend.
    pub backend_tcp_content: Arc<HashMap<String, Vec<tcp_rules::Rule>>>,
    /// `tcp-request inspect-delay` of this frontend, and of the backends by name: how long
    /// content rules may wait for the data they read.
    pub inspect_delay: Option<std::time::Duration>,
    pub backend_inspect_delay: Arc<HashMap<String, std::time::Duration>>,
    /// `tcp-response content` rules of the backends and listens that have some, by name,
    /// with their `tcp-response inspect-delay` (TCP mode).
    pub backend_tcp_response: Arc<HashMap<String, TcpResponse>>,
    /// `http-request wait-for-body` rules in the middle of the chain, each with the rules
    /// after it (up to the next).
    pub body_waits: Vec<BodyWait>,
    /// Every stick table, and this frontend's own.
    pub tables: Arc<Tables>,
    pub own_table: Option<Arc<Table>>,
    /// Whether streams need rule state (stick tables or variables in the configuration).
    pub stateful: bool,
    pub timeouts: Timeouts,
    pub options: ProxyOptions,
    /// `option forwardfor`, compiled.
    pub forwardfor: Option<ForwardForRt>,
    pub maxconn: Option<Arc<Semaphore>>,
    pub errors: ErrorPages,
    /// `http-error` pages with log-format parts, rendered per answer.
    pub rendered_errors: crate::http::rules::error_pages::RenderedErrors,
    /// `monitor-uri` / `monitor fail`.
    pub monitor: Option<crate::http::monitor::Monitor>,
    pub log: Option<Logger>,
    /// `log-format`, compiled (none: `option httplog`/`tcplog` or the default line).
    pub log_format: Option<fulcrum_sample::Format>,
    /// Its lines (`log-format`, `log-format-sd`) write `%bi`/`%bp`: found once, when built
    /// (`log_format::names_source`).
    pub log_source: bool,
    /// `capture request|response header`.
    pub captures: crate::http::capture::Captures,
    /// `unique-id-format` / `unique-id-header`.
    pub unique_id: Option<crate::http::unique_id::UniqueId>,
    /// Some proxy's `http-request`/`http-response` rules use `set-log-level`.
    pub sets_log_level: bool,
    /// Request head limit: `tune.bufsize - tune.maxrewrite`, as HAProxy.
    pub head_limit: usize,
    /// What its HTTP/1 parser accepts in requests (`tune.http.maxhdr`, `option
    /// accept-invalid-http-request`).
    pub h1_req: crate::http::h1::Limits,
    /// The `h1-case-adjust` names (written so where `option h1-case-adjust-bogus-*` asks).
    pub h1_case: crate::http::h1_case::CaseMap,
    pub bufsize: usize,
    /// Set when a reload replaced this frontend: keep-alive connections close after their
    /// current request.
    pub retired: AtomicBool,
    /// Woken when `retired` is set: HTTP/2 connections send GOAWAY (`http::h2`).
    pub retire: tokio::sync::Notify,
    /// The generation's "end now" signal (`hard-stop-after`, `mworker-max-reloads`).
    pub end: Arc<crate::end::End>,
    /// Connections currently open on this frontend (log field `fc`).
    pub conns: AtomicU64,
    /// The proxy's number (its `id`, or HAProxy's automatic one): stats `iid`, `fe_id`.
    pub id: u32,
    /// Its place among the configuration's proxies (HAProxy lists them in that order).
    pub order: u32,
    /// Activity counters; carried over on reload when the frontend keeps its name.
    pub counters: Arc<Counters>,
    /// `maxconn` (stats `slim`).
    pub slim: Option<u64>,
    /// `stats ...` of this frontend/listen, when enabled: the stats page applet.
    pub stats: Option<Arc<dyn Applet>>,
    /// TLS of its `bind ... ssl` lines, by listening address.
    pub tls: crate::tls::FrontendTls,
    /// `tcp-request inspect-delay`, when its routing reads the ClientHello (`req.ssl_sni`).
    pub inspect_hello: Option<std::time::Duration>,
    /// `tune.h2.*`: the settings of its HTTP/2 connections (`proto h2`, or ALPN `h2` over TLS).
    pub tune_h2: fulcrum_config::model::TuneH2,
    /// The generation's backends by name: `nbsrv(B)`, `srv_is_up(B/S)`, `connslots(B)`.
    pub backends: Arc<HashMap<String, Arc<Backend>>>,
    /// The configuration reads client connection facts (`so_*`, `fc_*`, `front`): each
    /// connection keeps them in its rule state.
    pub conn_facts: bool,
}

impl Frontend {
    /// The TLS settings of the bind behind listening address `key`, if it has `ssl`.
    pub fn tls_for(
        &self,
        key: &crate::addr::ListenKey,
    ) -> Option<&Arc<crate::tls::acceptor::TlsBind>> {
        self.tls.iter().find(|(k, _)| k == key).map(|(_, t)| t)
    }
}

pub struct Generation {
    /// Stick tables' counters by proxy name (kept by the next generation where unchanged).
    pub tables: Arc<Tables>,
    pub frontends: HashMap<String, Arc<Frontend>>,
    pub backends: HashMap<String, Arc<Backend>>,
    /// Passive health's sink (shared with the runtime and the next generations).
    pub sink: Arc<SinkSlot>,
    /// Map files and ACL patterns of this generation (the runtime socket's `show map`,
    /// `add acl`, ...): one table per file, shared by every rule naming it.
    pub patterns: Arc<fulcrum_sample::registry::Registry>,
    /// Ends its connections when a reload or a stop says so (`end.rs`).
    pub end: Arc<crate::end::End>,
}

/// Every proxy of one configuration generation (held weakly so a generation is freed when it
/// retires), filled once that generation is built. A stats page shows the generation it
/// belongs to.
#[derive(Default)]
pub struct Proxies {
    pub frontends: Vec<Weak<Frontend>>,
    pub backends: Vec<Weak<Backend>>,
}

impl Proxies {
    pub fn frontends(&self) -> Vec<Arc<Frontend>> {
        self.frontends.iter().filter_map(Weak::upgrade).collect()
    }
    pub fn backends(&self) -> Vec<Arc<Backend>> {
        self.backends.iter().filter_map(Weak::upgrade).collect()
    }
}

/// What the runtime publishes on its watch channel: the generation it serves now.
#[derive(Clone, Default)]
pub struct Serving {
    pub generation: Weak<Generation>,
    /// Worker threads (fixed until restart).
    pub threads: u32,
}

impl Serving {
    pub fn generation(&self) -> Option<Arc<Generation>> {
        self.generation.upgrade()
    }
}

/// What a service is built with.
pub struct ServiceEnv<'a> {
    /// The proxies of the generation being built (set once it is built).
    pub proxies: &'a Arc<OnceLock<Proxies>>,
    /// The generation the runtime serves, published at start and at each reload.
    pub serving: &'a watch::Receiver<Serving>,
}

/// Resolves applets when a configuration is compiled.
pub trait Services: Send + Sync {
    /// `use-service NAME`: the applet, or `None` when there is no such service.
    fn service(&self, name: &str, env: &ServiceEnv<'_>) -> Option<Arc<dyn Applet>>;
    /// A proxy's `stats ...` lines: its stats page, `None` when stats are not enabled there.
    fn stats(
        &self,
        proxy: &fulcrum_config::model::Proxy,
        env: &ServiceEnv<'_>,
    ) -> Result<Option<Arc<dyn Applet>>, String>;
}

/// No applets: `use-service` and `stats enable` are configuration errors.
pub struct NoServices;

impl Services for NoServices {
    fn service(&self, _: &str, _: &ServiceEnv<'_>) -> Option<Arc<dyn Applet>> {
        None
    }
    fn stats(
        &self,
        p: &fulcrum_config::model::Proxy,
        _: &ServiceEnv<'_>,
    ) -> Result<Option<Arc<dyn Applet>>, String> {
        if p.stats.as_ref().is_some_and(|s| s.enabled) {
            return Err("stats pages are not available in this build".into());
        }
        Ok(None)
    }
}

/// What compiling a generation needs besides the configuration.
struct Ctx<'a> {
    sink: &'a Arc<SinkSlot>,
    services: &'a dyn Services,
    env: ServiceEnv<'a>,
    /// Every proxy's stick table (counters), by proxy name.
    tables: Arc<Tables>,
}

impl Ctx<'_> {
    /// Compiles `http-request`/`http-response` rules, resolving `use-service` names.
    fn rules(
        &self,
        p: &Proxy,
        list: &[fulcrum_config::model::HttpRule],
    ) -> Result<Vec<Rule>, ProxyError> {
        let resolve = |name: &str| self.services.service(name, &self.env);
        let tables = track::TableRefs {
            own: self.tables.get(&p.name),
            all: &self.tables,
        };
        let tarpit = p.timeouts.tarpit.or(p.timeouts.connect).unwrap_or_default();
        rules::compile(&p.name, tarpit, list, &p.acls, &resolve, &tables).map_err(|e| cfg_err(p, e))
    }
    /// A proxy's `http-request` rules split around its `wait-for-body` rules: the rules
    /// before the first wait, and each wait with the rules after it (up to the next).
    fn request_rules(&self, p: &Proxy) -> Result<(Vec<Rule>, Vec<BodyWait>), ProxyError> {
        let list = &p.http_request;
        let waits: Vec<usize> = list
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r.action, fulcrum_config::model::HttpAction::WaitForBody(_)))
            .map(|(i, _)| i)
            .collect();
        let before = self.rules(p, &list[..waits.first().copied().unwrap_or(list.len())])?;
        let mut body_waits = Vec::with_capacity(waits.len());
        for (k, &i) in waits.iter().enumerate() {
            let r = &list[i];
            let fulcrum_config::model::HttpAction::WaitForBody(wait) = &r.action else {
                continue;
            };
            let cond = r
                .condition
                .as_ref()
                .map(|c| crate::acl::compile_condition(c, &p.acls))
                .transpose()
                .map_err(|e| cfg_err(p, e))?;
            let end = waits.get(k + 1).copied().unwrap_or(list.len());
            body_waits.push(BodyWait {
                cond,
                wait: wait.clone(),
                after: self.rules(p, &list[i + 1..end])?,
            });
        }
        Ok((before, body_waits))
    }

    fn stats(&self, p: &Proxy) -> Result<Option<Arc<dyn Applet>>, ProxyError> {
        self.services.stats(p, &self.env).map_err(|e| cfg_err(p, e))
    }
}

/// Compiles everything `run` compiles for `config` (rules, conditions, formats, tables, maps,
/// error pages, backends) without opening a socket, and drops it: `fulcrum check` reports
/// here what a start would refuse, so a config that checks clean also starts.
pub fn check(config: &Config, services: &dyn Services) -> Result<(), ProxyError> {
    let (_tx, rx) = watch::channel(Serving::default());
    build_with(
        config,
        None,
        Arc::new(crate::observe::SinkSlot::default()),
        services,
        &rx,
    )
    .map(drop)
}

/// Every `use-service` of `config` that `services` does not have, as (`FILE:LINE`, message)
/// (`fulcrum check` reports them; a start or reload fails on the first).
pub fn unknown_services(config: &Config, services: &dyn Services) -> Vec<(String, String)> {
    let (_tx, rx) = watch::channel(Serving::default());
    let proxies = Arc::new(OnceLock::new());
    let env = ServiceEnv {
        proxies: &proxies,
        serving: &rx,
    };
    let mut out = Vec::new();
    for p in &config.proxies {
        for r in p.http_request.iter().chain(&p.http_response) {
            if let fulcrum_config::model::HttpAction::UseService { name } = &r.action {
                if services.service(name, &env).is_none() {
                    out.push((r.span.to_string(), rules::unknown_service(name)));
                }
            }
        }
    }
    out
}

fn cfg_err(p: &Proxy, msg: impl std::fmt::Display) -> ProxyError {
    ProxyError::Config(format!(
        "{}: {} {}: {msg}",
        p.span,
        p.kind.keyword(),
        p.name
    ))
}

fn rendered_errors(
    p: &Proxy,
) -> Result<crate::http::rules::error_pages::RenderedErrors, ProxyError> {
    crate::http::rules::error_pages::RenderedErrors::compile(p).map_err(|e| cfg_err(p, e))
}

fn error_pages(p: &Proxy) -> Result<ErrorPages, ProxyError> {
    let mut files = Vec::new();
    for e in &p.errorfiles {
        let page = match &e.reply {
            // rendered per answer (`rendered_errors`)
            Some(r) if crate::http::rules::error_pages::rendered(r) => continue,
            Some(r) if !matches!(r, fulcrum_config::model_keywords::ErrorReply::File) => Some(
                std::sync::Arc::new(crate::http::error_reply::render(e.status, r)),
            ),
            _ => {
                let bytes = std::fs::read(&e.path).map_err(|err| {
                    cfg_err(p, format!("errorfile {} '{}': {err}", e.status, e.path))
                })?;
                crate::http::errors::user_page(&bytes).map_err(|err| {
                    cfg_err(p, format!("errorfile {} '{}': {err}", e.status, e.path))
                })?
            }
        };
        files.push((e.status, page));
    }
    Ok(ErrorPages::new(files))
}

/// The proxy's place among the configuration's proxies.
fn proxy_order(config: &Config, p: &Proxy) -> u32 {
    config
        .proxies
        .iter()
        .position(|x| std::ptr::eq(x, p))
        .map_or(u32::MAX, |i| i as u32)
}

/// The proxy's number: its `id`, or HAProxy's automatic one (`model_ids`).
fn proxy_id(config: &Config, p: &Proxy) -> u32 {
    config.proxy_id(p)
}

/// Whether any rule of `config` sets variables, or the global section process variables
/// (streams then carry variable state, through which they read them).
fn uses_vars(config: &Config) -> bool {
    use fulcrum_config::model::{HttpAction, TcpAction};
    !config.global.keywords.proc_vars.is_empty()
        || config.proxies.iter().any(|p| {
            p.http_request
                .iter()
                .chain(&p.http_response)
                .chain(&p.http_after_response)
                .any(|r| matches!(r.action, HttpAction::Var(_)))
                || p.tcp_rules
                    .requests()
                    .any(|r| matches!(r.action, TcpAction::Var(_)))
        })
}

fn tcp_phase(
    p: &Proxy,
    rules: &[fulcrum_config::model::TcpRule],
    max: Needs,
    phase: &str,
    tables: &Tables,
) -> Result<Vec<tcp_rules::Rule>, ProxyError> {
    let refs = track::TableRefs {
        own: tables.get(&p.name),
        all: tables,
    };
    tcp_rules::compile(rules, &p.acls, max, phase, &refs).map_err(|e| cfg_err(p, e))
}
