//! How one backend of the model becomes a run-time [`Backend`]: its servers (carried over from
//! the previous generation when unchanged, with their counters, idle pools and check state),
//! balancing, persistence, HTTP policy and error pages.

use super::*;

fn server_target(p: &Proxy, s: &fulcrum_config::model::Server) -> Result<Target, ProxyError> {
    match &s.address.unix {
        Some(UnixAddress::Path(path)) => return Ok(Target::Unix(path.as_str().into())),
        Some(UnixAddress::Abns(name)) => return Ok(Target::Abns(name.as_str().into())),
        None => {}
    }
    let ip = match s.address.ip {
        Some(ip) => ip,
        None => (s.address.host.as_str(), 0)
            .to_socket_addrs()
            .map_err(|e| {
                cfg_err(
                    p,
                    format!(
                        "server {}: cannot resolve '{}': {e}",
                        s.name, s.address.host
                    ),
                )
            })?
            .next()
            .map(|a| a.ip())
            .ok_or_else(|| {
                cfg_err(
                    p,
                    format!("server {}: '{}' has no address", s.name, s.address.host),
                )
            })?,
    };
    Ok(match s.address.port {
        ServerPort::Fixed(port) => Target::Fixed(SocketAddr::new(ip, port)),
        ServerPort::Unset => Target::SamePort(ip),
        ServerPort::Offset(o) => Target::Offset(ip, o),
    })
}

/// Each server's name and id (its `id`, or HAProxy's automatic number): what `server_id`
/// stores and `srv_id` reads.
pub(crate) fn server_ids(p: &Proxy) -> Vec<(String, u64)> {
    p.servers
        .iter()
        .zip(p.server_ids())
        .map(|(s, id)| (s.name.clone(), u64::from(id)))
        .collect()
}

pub(super) fn build_backend(
    config: &Config,
    p: &Proxy,
    old: Option<&Generation>,
    cx: &Ctx<'_>,
) -> Result<Backend, ProxyError> {
    let previous: Vec<Arc<ServerRt>> = old
        .and_then(|g| g.backends.get(&p.name))
        .map(|b| b.servers.clone())
        .unwrap_or_default();
    let mut servers = Vec::with_capacity(p.servers.len());
    for s in &p.servers {
        let fresh = ServerRt::new(
            s.name.clone(),
            server_target(p, s)?,
            s.weight,
            s.maxconn,
            s.backup,
            !s.disabled,
        )
        .with_source(p.server_source(s))
        .with_socks4(s.socks4)
        .with_send_proxy(if s.send_proxy_v2 {
            2
        } else {
            u8::from(s.send_proxy)
        });
        let kept = previous
            .iter()
            .find(|o| {
                o.same_definition(&fresh)
                    && o.weight == fresh.weight
                    && o.maxconn == fresh.maxconn
                    && o.backup == fresh.backup
            })
            // a server DOWN by its health checks stays DOWN (with its counters) across the
            // reload: a fresh UP one would take traffic until health replays its state; one
            // that was `disabled` (MAINT) and is enabled now starts afresh
            .filter(|o| {
                o.is_up() != s.disabled
                    || (!s.disabled && o.admin() != crate::server::AdminState::Maint)
            });
        let kept_any = kept.is_some();
        let server = kept.cloned().unwrap_or_else(|| Arc::new(fresh));
        server.set_observed(s.observe.is_some());
        if server.target.is_client_destination() {
            // `*:PORT`: each client's destination is another server; keep no idle connection
            server.set_pool_limits(Some(0), 0);
        } else {
            server.set_pool_limits(s.pool_max_conn, s.pool_low_conn);
        }
        server.set_tls(if s.ssl {
            let t = crate::tls::connector::build(s, &config.global.tls)
                .map_err(|m| ProxyError::Config(format!("{}: {m}", s.span)))?;
            Some(Arc::new(t))
        } else {
            None
        });
        // ALPN as the server's TLS settings offer it (the line's or `ssl-default-server-alpn`).
        let alpn_h2 = server
            .tls()
            .is_some_and(|t| t.config.alpn_protocols.iter().any(|a| a == b"h2"));
        let h2 =
            h2_mode(p, s, alpn_h2).map_err(|m| ProxyError::Config(format!("{}: {m}", s.span)))?;
        if h2 != crate::server::H2Mode::Never && server.target.is_client_destination() {
            return Err(ProxyError::Config(format!(
                "{}: server {}: HTTP/2 to the address the client connected to ('*', '0.0.0.0', '::') is not supported by fulcrum (shared HTTP/2 connections are per server): write the server's address",
                s.span, s.name
            )));
        }
        server.set_h2_mode(h2);
        server.set_h2_pool(crate::server::H2Pool::of(s));
        server.set_checked(s.check, s.rise, s.fall);
        // backups' sessions are noted when an active server shuts them down coming UP
        let backups_noted = s.backup && p.servers.iter().any(|o| o.limits.shutdown_backup_on_up);
        server.limits.set(&s.limits, backups_noted);
        if s.disabled && !kept_any {
            // HAProxy: `disabled` is maintenance (the stats page says MAINT; `enable server` or
            // the page's READY action brings it back).
            server.set_admin(crate::server::AdminState::Maint);
        }
        servers.push(server);
    }
    let (http_request, body_waits) = cx.request_rules(p)?;
    let http_response = cx.rules(p, &p.http_response)?;
    let http_after_response = cx.rules(p, &p.http_after_response)?;
    // Persistence. A reload keeps the stick table's entries (HAProxy loses them unless a
    // `peers` section hands them to the new process; fulcrum reloads in place).
    // Stick rules fulcrum does not run refuse the configuration (as `fulcrum check` does):
    // running the backend without the stickiness it asks for would be a silent difference.
    let mut stick = crate::persist::stick::stick_on_src(p).map_err(ProxyError::Config)?;
    if let (Some(table), Some(previous)) = (
        stick.as_mut(),
        old.and_then(|g| g.backends.get(&p.name))
            .and_then(|b| b.stick_table()),
    ) {
        table.adopt(std::time::Instant::now(), &previous);
    }
    // Replication (`peers`): every store goes to the table's hub, which outlives reloads.
    let hub = match (&stick, &p.stick_table) {
        (Some(_), Some(model)) if config.stick_peers(model).is_some() => {
            Some(crate::stick_sync::hub(&p.name))
        }
        _ => None,
    };
    if let (Some(table), Some(hub)) = (stick.as_mut(), &hub) {
        table.set_feed(hub.feed());
    }
    // Sample-keyed rules (APP_COOKIE's string table, conditions, another proxy's table):
    // their tables' entries live with the tables (kept across reloads while a table's
    // definition is unchanged, handed over when it changes).
    let stick_sample = crate::persist::stick_sample::SampleStick::from_proxy(
        p,
        |name| {
            let name = name.unwrap_or(&p.name);
            cx.tables
                .get(name)
                .map(|t| t.sample_store())
                .ok_or_else(|| format!("stick rules: no stick-table in '{name}'"))
        },
        |c| crate::acl::compile_condition(c, &p.acls).map_err(|e| e.0),
    )
    .map_err(ProxyError::Config)?;
    if let (Some(new), Some(prev)) = (
        stick_sample.as_ref(),
        old.and_then(|g| g.backends.get(&p.name))
            .and_then(|b| b.policy.stick_sample.as_ref()),
    ) {
        let now = std::time::Instant::now();
        for s in new.stores() {
            let before = prev.stores().into_iter().find(|o| o.name == s.name);
            if let Some(o) = before.filter(|o| !Arc::ptr_eq(o, &s) && s.is_empty()) {
                s.adopt(now, &o);
            }
        }
    }
    // `stick on src` writes `server_id`/`server_key` into the proxy's stick table, as
    // HAProxy's.
    let table = cx.tables.get(&p.name).filter(|_| !p.stick_rules.is_empty());
    if let (Some(t), Some(src)) = (table, stick.as_mut()) {
        crate::track::share(t, &server_ids(p), src);
    }
    let counters = old
        .and_then(|g| g.backends.get(&p.name))
        .map(|b| b.counters.clone())
        .unwrap_or_default();
    let stats = if p.kind.is_frontend() {
        None
    } else {
        cx.stats(p)?
    };
    let frontend_only = p.kind.is_frontend();
    let policy = HttpPolicy {
        http_request: if frontend_only {
            Vec::new()
        } else {
            http_request
        },
        body_waits: if frontend_only {
            Vec::new()
        } else {
            body_waits
        },
        http_response: if frontend_only {
            Vec::new()
        } else {
            http_response
        },
        http_after_response: if frontend_only {
            Vec::new()
        } else {
            http_after_response
        },
        errors: error_pages(p)?,
        rendered_errors: rendered_errors(p)?,
        forwardfor: p.options.forwardfor.as_ref().map(ForwardForRt::new),
        cookie: crate::persist::cookie::CookiePersist::from_proxy(p),
        stick_sample,
        stats,
        server_rules: crate::http::server_rules::ServerRules::compile(p)
            .map_err(ProxyError::Config)?,
        server_ids: server_ids(p).into_iter().map(|(_, id)| id).collect(),
        non_stick: p.servers.iter().map(|s| s.non_stick).collect(),
        order: proxy_order(config, p),
    };
    let parts = FarmParts {
        id: proxy_id(config, p),
        counters,
        server_cookies: p.servers.iter().map(|s| s.cookie.clone()).collect(),
        stick,
        sink: cx.sink.clone(),
        name: p.name.clone(),
        mode: p.mode,
        servers,
        // A layer-7 hash in a `mode tcp` backend: round robin, as haproxy 2.6 (it has no
        // request to hash; `check` warns).
        balance: if p.mode != fulcrum_config::model::Mode::Http && p.balance.needs_http() {
            fulcrum_config::model::Balance::Roundrobin
        } else {
            p.balance.clone()
        },
        timeouts: p.timeouts.clone(),
        retries: p.retries,
        options: p.options.clone(),
    };
    let backend = Backend::new(parts, policy);
    if let (Some(t), Some(src)) = (table, backend.stick_handle()) {
        crate::track::share_clear(t, &src);
    }
    if let (Some(hub), Some(table)) = (hub, backend.stick_handle()) {
        hub.attach(&table);
    }
    Ok(backend)
}

/// When requests go to server `s` in HTTP/2 (`proto h2`, or `alpn` offering `h2` over TLS);
/// never in `mode tcp`, where the bytes are the client's.
fn h2_mode(
    p: &fulcrum_config::model::Proxy,
    s: &fulcrum_config::model::Server,
    alpn_h2: bool,
) -> Result<crate::server::H2Mode, String> {
    use crate::server::H2Mode;
    if p.mode != fulcrum_config::model::Mode::Http {
        return Ok(H2Mode::Never);
    }
    let mode = if s.proto_h2 {
        H2Mode::Always
    } else if alpn_h2 {
        H2Mode::Alpn
    } else {
        H2Mode::Never
    };
    if mode != H2Mode::Never && (s.send_proxy || s.send_proxy_v2) {
        // HAProxy keeps such a connection private to its first client; fulcrum shares every
        // HTTP/2 server connection, which would give the server the wrong client address.
        return Err(format!(
            "server '{}': 'send-proxy' with HTTP/2 to the server is not supported by fulcrum yet",
            s.name
        ));
    }
    Ok(mode)
}
