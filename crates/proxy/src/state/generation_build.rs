//! Building a generation from the model: frontends, backends, services, tables, caches and
//! error pages, the old generation's state carried over (`build`, `build_with`).

use super::*;
use crate::acl::{self, Cond};
use crate::error::ProxyError;
use crate::http::headers::ForwardForRt;
use crate::http::rules::Fmt;
use crate::observe::SinkSlot;
use crate::track;
use backend_build::build_backend;
use fulcrum_config::model::Mode;
use fulcrum_config::Config;
use fulcrum_sample::fetch::Needs;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, OnceLock};
use tokio::sync::{watch, Semaphore};

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
    // Map and ACL files named relatively under `default-path` are read where the parser found them.
    fulcrum_sample::files::install(&config.global.keywords.pattern_files);
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
    // `hard-stop-after` / `mworker-max-reloads`: this generation's connections can be ended
    let k = &config.global.keywords;
    // ... and so can those of a server with `on-marked-down shutdown-sessions` (or a backup
    // that `on-marked-up shutdown-backup-sessions` shuts down)
    let shutdowns = config
        .proxies
        .iter()
        .flat_map(|p| &p.servers)
        .any(|s| s.limits.shutdown_on_down || s.limits.shutdown_backup_on_up);
    let end = crate::end::End::new(
        k.hard_stop_after.is_some() || k.mworker_max_reloads.is_some() || shutdowns,
        k.hard_stop_after,
    );
    crate::log_uri::install(config.global.limits.logurilen);
    let threads = config.global.nbthread.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n as usize,
    );
    crate::cpu_usage::install(config.global.limits.maxcompcpuusage, threads);
    // `env(NAME)` sees the global `setenv` family's changes
    let ops = config.global.keywords.environment.clone();
    fulcrum_sample::environ::install((!ops.is_empty()).then(|| {
        Arc::new(move |n: &str| {
            fulcrum_config::model_keywords::EnvOp::lookup(&ops, n, || std::env::var(n).ok())
        }) as fulcrum_sample::environ::Lookup
    }));
    // global `set-var proc.NAME ...`
    crate::proc_vars::set(&config.global.keywords.proc_vars);
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
                    process_vary: c.process_vary,
                    max_secondary: c.max_secondary_entries,
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
            track::build(
                config.proxies.iter(),
                config.peers_tables(),
                old.map(|g| &*g.tables),
            )
            .map_err(|(at, e)| ProxyError::Config(format!("{at}: {e}")))?,
        ),
    };
    let mut backends = HashMap::new();
    for p in config.backends() {
        // (a table fetch without its table argument reads this proxy's: `table_refs`)
        let _own = fulcrum_sample::table_refs::own_table(&p.name);
        backends.insert(
            p.name.clone(),
            Arc::new(build_backend(config, p, old, &cx)?),
        );
    }
    let sp = config.global.splice;
    crate::splice::configure(
        !sp.off,
        sp.pipesize.unwrap_or(0) as usize,
        // HAProxy's default: a quarter of `maxconn`.
        sp.maxpipes
            .or(config.global.maxconn.map(|m| m / 4))
            .map_or(usize::MAX, |m| m as usize),
    );
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
        let _own = fulcrum_sample::table_refs::own_table(&p.name);
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
        let _own = fulcrum_sample::table_refs::own_table(&p.name);
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
    let by_name = Arc::new(backends.clone());
    for p in config.frontends() {
        let _own = fulcrum_sample::table_refs::own_table(&p.name);
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
                    backends
                        .iter()
                        .map(|(name, b)| (name.clone(), b.clone()))
                        .collect(),
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
        // A chain with wait-for-body rules runs in parts around them.
        let (http_request, body_waits) = cx.request_rules(p)?;
        let inspect_hello = p
            .tcp_rules
            .inspect_delay
            .filter(|_| p.mode == Mode::Tcp && use_backends.iter().any(|(c, _)| c.reads_hello()));
        let log = crate::log_format::logger(p, &config.global).map_err(|e| cfg_err(p, e))?;
        let log_format = crate::log_format::for_proxy(p).map_err(|e| cfg_err(p, e))?;
        let log_source = crate::log_format::names_source(
            log_format.as_ref(),
            log.as_ref().and_then(|l| l.sd.as_ref()),
        );
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
                http_request,
                body_waits,
                http_response: cx.rules(p, &p.http_response)?,
                http_after_response: cx.rules(p, &p.http_after_response)?,
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
                stateful: !cx.tables.is_empty()
                    || uses_vars(config)
                    || fulcrum_sample::fetch::conn_facts_read(),
                timeouts: p.timeouts.clone(),
                options: p.options.clone(),
                forwardfor: p.options.forwardfor.as_ref().map(ForwardForRt::new),
                maxconn: p
                    .maxconn
                    .filter(|m| *m > 0)
                    .map(|m| Arc::new(Semaphore::new(m as usize))),
                errors: error_pages(p)?,
                rendered_errors: rendered_errors(p)?,
                monitor: crate::http::monitor::Monitor::compile(p).map_err(|e| cfg_err(p, e))?,
                log,
                captures: crate::http::capture::Captures::new(&p.captures)
                    .with_cookie(p.options.log.capture_cookie.as_ref()),
                unique_id: crate::http::unique_id::UniqueId::compile(&p.options.unique_id)
                    .map_err(|e| cfg_err(p, e))?,
                sets_log_level: config.proxies.iter().any(|q| {
                    crate::http::rules::sets_log_level(&q.http_request)
                        || crate::http::rules::sets_log_level(&q.http_response)
                        || q.tcp_rules.response.iter().any(|r| {
                            matches!(
                                r.action,
                                fulcrum_config::model::TcpAction::SetLogLevel { .. }
                            )
                        })
                }),
                log_format,
                log_source,
                head_limit,
                h1_req: crate::http::h1::Limits {
                    max_headers: config.global.h1.max_headers as usize,
                    accept_invalid: p.options.h1.accept_invalid_request,
                },
                h1_case: crate::http::h1_case::CaseMap::new(&config.global.h1.case_adjust),
                bufsize,
                retired: AtomicBool::new(false),
                retire: tokio::sync::Notify::new(),
                end: end.clone(),
                conns: AtomicU64::new(0),
                id: proxy_id(config, p),
                order: proxy_order(config, p),
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
                backends: by_name.clone(),
                conn_facts: fulcrum_sample::fetch::conn_facts_read(),
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
        end,
    })
}
