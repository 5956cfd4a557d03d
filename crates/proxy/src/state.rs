//! The run-time form of a `Config`: frontends and backends with everything compiled (ACLs,
//! rules, balancers, error pages), built once per (re)load.
//!
//! A connection holds the `Arc<Frontend>` it was accepted with, so a reload never changes
//! the rules under a request in flight. Servers whose definition did not change are carried
//! over from the previous generation (same `Arc`), keeping their counters and idle pools.

use crate::acl::{self, Cond};
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
use backend_build::build_backend;

/// Where a `use_backend` rule sends the request.
pub enum Route {
    Backend(Arc<Backend>),
    /// A log-format name (`use_backend %[req.hdr(host),lower,map(hosts.map)]`), rendered per
    /// request and looked up among the backends; none found: the `default_backend`, as
    /// HAProxy.
    Named(Fmt, HashMap<String, Arc<Backend>>),
}

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

/// A frontend's `http-request wait-for-body` in the middle of its chain (or with a
/// condition): the rules before it are the frontend's `http_request`; these run after.
pub struct BodyWait {
    pub cond: Option<Cond>,
    pub wait: fulcrum_config::model::WaitForBody,
    pub after: Vec<Rule>,
}

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
    /// `http-request wait-for-body` in the middle of the chain, and the rules after it.
    pub body_wait: Option<BodyWait>,
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
    /// `monitor-uri` / `monitor fail`.
    pub monitor: Option<crate::http::monitor::Monitor>,
    pub log: Option<Logger>,
    /// `log-format`, compiled (none: `option httplog`/`tcplog` or the default line).
    pub log_format: Option<fulcrum_sample::Format>,
    /// `capture request|response header`.
    pub captures: crate::http::capture::Captures,
    /// `unique-id-format` / `unique-id-header`.
    pub unique_id: Option<crate::http::unique_id::UniqueId>,
    /// Some proxy's `http-request`/`http-response` rules use `set-log-level`.
    pub sets_log_level: bool,
    /// Request head limit: `tune.bufsize - tune.maxrewrite`, as HAProxy.
    pub head_limit: usize,
    pub bufsize: usize,
    /// Set when a reload replaced this frontend: keep-alive connections close after their
    /// current request.
    pub retired: AtomicBool,
    /// Woken when `retired` is set: HTTP/2 connections send GOAWAY (`http::h2`).
    pub retire: tokio::sync::Notify,
    /// Connections currently open on this frontend (log field `fc`).
    pub conns: AtomicU64,
    /// The proxy's number (declaration order, from 1): stats `iid`.
    pub id: u32,
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
    fn stats(&self, p: &Proxy) -> Result<Option<Arc<dyn Applet>>, ProxyError> {
        self.services.stats(p, &self.env).map_err(|e| cfg_err(p, e))
    }
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

fn error_pages(p: &Proxy) -> Result<ErrorPages, ProxyError> {
    let mut files = Vec::new();
    for e in &p.errorfiles {
        let page = match &e.reply {
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

/// The proxy's number: its position among the configuration's proxies, from 1 (HAProxy's
/// default `id`).
fn proxy_id(config: &Config, p: &Proxy) -> u32 {
    config
        .proxies
        .iter()
        .position(|x| std::ptr::eq(x, p))
        .map_or(0, |i| i as u32 + 1)
}

/// Whether any rule of `config` sets variables (streams then carry variable state).
fn uses_vars(config: &Config) -> bool {
    use fulcrum_config::model::{HttpAction, TcpAction};
    config.proxies.iter().any(|p| {
        let t = &p.tcp_rules;
        p.http_request
            .iter()
            .chain(&p.http_response)
            .any(|r| matches!(r.action, HttpAction::Var(_)))
            || t.connection
                .iter()
                .chain(&t.session)
                .chain(&t.content)
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

/// Builds the run-time state for `config` without applets (no `use-service`, no stats
/// pages), carrying servers (and the observation sink) over from `old`.
pub fn build(config: &Config, old: Option<&Generation>) -> Result<Generation, ProxyError> {
    let sink = old.map(|g| g.sink.clone()).unwrap_or_default();
    let (_tx, rx) = watch::channel(Serving::default());
    build_with(config, old, sink, &NoServices, &rx)
}

/// [`build`], with every backend reporting passive-health observations to `sink` and the
/// applets of `services` (which may watch `serving`).
pub fn build_with(
    config: &Config,
    old: Option<&Generation>,
    sink: Arc<SinkSlot>,
    services: &dyn Services,
    serving: &watch::Receiver<Serving>,
) -> Result<Generation, ProxyError> {
    // Everything compiled for this generation shares one registry of maps and ACL files.
    let patterns = Arc::new(fulcrum_sample::registry::Registry::default());
    let gen = fulcrum_sample::registry::scope(&patterns, || {
        // Every ACL line has its reference, used or not, as in HAProxy (errors are the
        // conditions' to report).
        for p in &config.proxies {
            for a in &p.acls {
                let _ = acl::compile(a);
            }
        }
        build_scoped(config, old, sink, services, serving)
    })?;
    patterns.number();
    Ok(gen)
}

fn build_scoped(
    config: &Config,
    old: Option<&Generation>,
    sink: Arc<SinkSlot>,
    services: &dyn Services,
    serving: &watch::Receiver<Serving>,
) -> Result<Generation, ProxyError> {
    let proxies = Arc::new(OnceLock::new());
    // `env(NAME)` sees the global `setenv` family's changes
    let ops = config.global.keywords.environment.clone();
    fulcrum_sample::environ::install((!ops.is_empty()).then(|| {
        Arc::new(move |n: &str| {
            fulcrum_config::model_keywords::EnvOp::lookup(&ops, n, || std::env::var(n).ok())
        }) as fulcrum_sample::environ::Lookup
    }));
    // `cache` sections first: the rules resolve `cache-use` / `cache-store` by name.
    crate::http::cache::install(
        &config
            .global
            .caches
            .iter()
            .map(|c| {
                let limits = crate::http::cache::Limits {
                    total: c.total_max_size,
                    max_object: c.max_object_size,
                    max_age: c.max_age,
                };
                (c.name.clone(), limits)
            })
            .collect::<Vec<_>>(),
    );
    let cx = Ctx {
        sink: &sink,
        services,
        env: ServiceEnv {
            proxies: &proxies,
            serving,
        },
        tables: Arc::new(
            track::build(config.proxies.iter(), old.map(|g| &*g.tables))
                .map_err(|(at, e)| ProxyError::Config(format!("{at}: {e}")))?,
        ),
    };
    let mut backends = HashMap::new();
    for p in config.backends() {
        backends.insert(
            p.name.clone(),
            Arc::new(build_backend(config, p, old, &cx)?),
        );
    }
    let bufsize = config.global.tune_bufsize.max(1024) as usize;
    let head_limit = bufsize
        .saturating_sub(config.global.tune_maxrewrite as usize)
        .max(512);
    let mut be_content = HashMap::new();
    let backend_inspect_delay: Arc<HashMap<String, std::time::Duration>> = Arc::new(
        config
            .backends()
            .filter_map(|p| Some((p.name.clone(), p.tcp_rules.inspect_delay?)))
            .collect(),
    );
    for p in config.backends().filter(|p| !p.kind.is_frontend()) {
        if !p.tcp_rules.content.is_empty() {
            let rules = tcp_phase(
                p,
                &p.tcp_rules.content,
                Needs::Response,
                "content",
                &cx.tables,
            )?;
            be_content.insert(p.name.clone(), rules);
        }
    }
    let backend_tcp_content = Arc::new(be_content);
    let mut be_response = HashMap::new();
    for p in config
        .backends()
        .filter(|p| !p.tcp_rules.response.is_empty())
    {
        let rules = tcp_phase(
            p,
            &p.tcp_rules.response,
            Needs::Response,
            "content",
            &cx.tables,
        )?;
        let delay = p.tcp_rules.response_inspect_delay;
        be_response.insert(p.name.clone(), TcpResponse { rules, delay });
    }
    let backend_tcp_response = Arc::new(be_response);
    let mut frontends = HashMap::new();
    for p in config.frontends() {
        let find = |name: &str| {
            backends
                .get(name)
                .cloned()
                .ok_or_else(|| cfg_err(p, format!("backend '{name}' not found")))
        };
        let mut use_backends = Vec::new();
        for ub in &p.use_backends {
            let _at = fulcrum_sample::registry::at(&ub.span.file, ub.span.line);
            let cond = match &ub.condition {
                Some(c) => acl::compile_condition(c, &p.acls).map_err(|e| cfg_err(p, e))?,
                None => Cond::always(),
            };
            let target = if ub.backend.name.contains('%') {
                Route::Named(
                    Fmt::parse(&ub.backend.name).map_err(|e| cfg_err(p, e))?,
                    backends.clone(),
                )
            } else {
                Route::Backend(find(&ub.backend.name)?)
            };
            use_backends.push((cond, target));
        }
        let default_backend = match (&p.default_backend, p.kind.is_backend()) {
            (Some(r), _) => Some(find(&r.name)?),
            (None, true) => Some(find(&p.name)?),
            (None, false) => None,
        };
        // A chain with a wait-for-body runs in two parts around it.
        let at = p
            .http_request
            .iter()
            .enumerate()
            .find_map(|(i, r)| match &r.action {
                fulcrum_config::model::HttpAction::WaitForBody(w) => Some((i, r, w)),
                _ => None,
            });
        let (before, body_wait) = match at {
            None => (&p.http_request[..], None),
            Some((i, r, wait)) => {
                let cond = r
                    .condition
                    .as_ref()
                    .map(|c| acl::compile_condition(c, &p.acls))
                    .transpose()
                    .map_err(|e| cfg_err(p, e))?;
                let after = cx.rules(p, &p.http_request[i + 1..])?;
                (
                    &p.http_request[..i],
                    Some(BodyWait {
                        cond,
                        wait: wait.clone(),
                        after,
                    }),
                )
            }
        };
        let inspect_hello = p
            .tcp_rules
            .inspect_delay
            .filter(|_| p.mode == Mode::Tcp && use_backends.iter().any(|(c, _)| c.reads_hello()));
        frontends.insert(
            p.name.clone(),
            Arc::new(Frontend {
                name: p.name.clone(),
                session_rate: p
                    .options
                    .keywords
                    .rate_limit_sessions
                    .map(|n| Arc::new(crate::rate_limit::SessionRate::new(n))),
                mode: p.mode,
                use_backends,
                default_backend,
                http_request: cx.rules(p, before)?,
                body_wait,
                http_response: cx.rules(p, &p.http_response)?,
                tcp_connection: tcp_phase(
                    p,
                    &p.tcp_rules.connection,
                    Needs::Connection,
                    "connection",
                    &cx.tables,
                )?,
                tcp_session: tcp_phase(
                    p,
                    &p.tcp_rules.session,
                    Needs::Connection,
                    "session",
                    &cx.tables,
                )?,
                tcp_content: tcp_phase(
                    p,
                    &p.tcp_rules.content,
                    Needs::Response,
                    "content",
                    &cx.tables,
                )?,
                backend_tcp_content: backend_tcp_content.clone(),
                inspect_delay: p.tcp_rules.inspect_delay,
                backend_inspect_delay: backend_inspect_delay.clone(),
                backend_tcp_response: backend_tcp_response.clone(),
                tables: cx.tables.clone(),
                own_table: cx.tables.get(&p.name).cloned(),
                stateful: !cx.tables.is_empty() || uses_vars(config),
                timeouts: p.timeouts.clone(),
                options: p.options.clone(),
                forwardfor: p.options.forwardfor.as_ref().map(ForwardForRt::new),
                maxconn: p
                    .maxconn
                    .filter(|m| *m > 0)
                    .map(|m| Arc::new(Semaphore::new(m as usize))),
                errors: error_pages(p)?,
                monitor: crate::http::monitor::Monitor::compile(p).map_err(|e| cfg_err(p, e))?,
                log: crate::log_format::logger(p, &config.global).map_err(|e| cfg_err(p, e))?,
                captures: crate::http::capture::Captures::new(&p.captures),
                unique_id: crate::http::unique_id::UniqueId::compile(&p.options.unique_id)
                    .map_err(|e| cfg_err(p, e))?,
                sets_log_level: config.proxies.iter().any(|q| {
                    crate::http::rules::sets_log_level(&q.http_request)
                        || crate::http::rules::sets_log_level(&q.http_response)
                }),
                log_format: crate::log_format::for_proxy(p).map_err(|e| cfg_err(p, e))?,
                head_limit,
                bufsize,
                retired: AtomicBool::new(false),
                retire: tokio::sync::Notify::new(),
                conns: AtomicU64::new(0),
                id: proxy_id(config, p),
                counters: old
                    .and_then(|g| g.frontends.get(&p.name))
                    .map(|f| f.counters.clone())
                    .unwrap_or_default(),
                slim: p
                    .maxconn
                    .or(config.global.maxconn)
                    .filter(|m| *m > 0)
                    .map(u64::from),
                stats: cx.stats(p)?,
                tls: crate::tls::frontend(p, config).map_err(ProxyError::Config)?,
                inspect_hello,
                tune_h2: config.global.tune_h2,
            }),
        );
    }
    // The stats pages show every proxy of this generation (weakly held: no cycle).
    let _ = proxies.set(Proxies {
        frontends: frontends.values().map(Arc::downgrade).collect(),
        backends: backends.values().map(Arc::downgrade).collect(),
    });
    // `http_auth(L)` reads the userlists of the generation that serves.
    crate::http::userlist::publish(&config.userlists);
    Ok(Generation {
        tables: cx.tables.clone(),
        frontends,
        backends,
        sink,
        patterns: fulcrum_sample::registry::current(),
    })
}
