//! Carries health-check results where they matter: servers in and out of the proxy's rotation,
//! and, for VRRP, which virtual addresses the proxy can no longer serve.
//!
//! The second part is the seeds' Pacemaker constraint "VIP with haproxy-clone", built in: a
//! virtual address whose frontends have every server behind them DOWN is published as failing,
//! and the VRRP instance carrying it gives it away. `failing_addresses` is pure; `Bridge` holds
//! the latest server states and applies each event. Listener failures are not published yet.
//! The other way round, `ObserverSink` carries the proxy's passive-health observations
//! (`observe layer4|layer7`) to the health engine.

use fulcrum_config::model::{BindAddress, Config};
use fulcrum_health::{HealthEvent, Observed, Observer};
use fulcrum_proxy::observe::{ObservationSink, ServerEvent};
use fulcrum_vrrp::ProxyHealth;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use tokio::sync::watch;

/// The proxy's observation sink, forwarding to the health engine's `Observer` (which follows
/// reloads and ignores servers without `observe`).
pub struct ObserverSink(pub Observer);

impl ObservationSink for ObserverSink {
    fn observe(&self, backend: &str, server: &str, event: ServerEvent) {
        let event = match event {
            ServerEvent::ConnectOk => Observed::ConnectOk,
            ServerEvent::ConnectFailed { .. } => Observed::ConnectError,
            ServerEvent::HttpStatus(s) => Observed::HttpStatus(s),
            ServerEvent::HttpInvalid => Observed::HttpInvalid,
            ServerEvent::HttpReadError => Observed::HttpReadError,
            ServerEvent::HttpReadTimeout => Observed::HttpReadTimeout,
            ServerEvent::HttpBrokenPipe => Observed::HttpBrokenPipe,
        };
        self.0.report(backend, server, event);
    }
}

/// `http-check send-state`'s `scur=S/B; qcur=Q`, read from the generation being served:
/// the server's sessions, its backend's minus the backend's queue (HAProxy's `beconn -
/// queue.length`), and the server's own queue (`maxqueue`: persistent requests waiting).
pub struct ProxyLoad(pub tokio::sync::watch::Receiver<fulcrum_proxy::state::Serving>);

impl fulcrum_health::send_state::ServerLoad for ProxyLoad {
    fn load(&self, backend: &str, server: &str) -> Option<(u32, u32, u32)> {
        let generation = self.0.borrow().generation()?;
        let be = generation.backends.get(backend)?;
        let s = be.servers.iter().find(|s| s.name == server)?;
        let backend_cur = be.counters.current().saturating_sub(be.queued() as u64);
        Some((
            s.served(),
            u32::try_from(backend_cur).unwrap_or(u32::MAX),
            s.limits.waiting(),
        ))
    }
}

/// (backend, server) → up. Servers not in the map are UP (the proxy starts them UP).
pub type ServerStates = HashMap<(String, String), bool>;

pub struct Bridge {
    config: Config,
    states: ServerStates,
    vrrp: watch::Sender<ProxyHealth>,
    /// Each backend's `log` targets: health lines go there as HAProxy sends them.
    loggers: HashMap<String, fulcrum_proxy::log::Logger>,
    /// Server positions by name in the generation served, so every check result finds its
    /// server without a scan (1,000 servers at inter 1s made the scan show in profiles).
    index: std::sync::Mutex<ServerIndex>,
}

/// (generation, backend) → server name → position, rebuilt when the generation changes.
#[derive(Default)]
struct ServerIndex {
    generation: usize,
    backends: HashMap<String, HashMap<String, usize>>,
}

impl ServerIndex {
    fn position(
        &mut self,
        generation: &std::sync::Arc<fulcrum_proxy::state::Generation>,
        backend: &str,
        be: &fulcrum_proxy::backend::Backend,
        server: &str,
    ) -> Option<usize> {
        let id = std::sync::Arc::as_ptr(generation) as usize;
        if id != self.generation {
            self.generation = id;
            self.backends.clear();
        }
        if let Some(map) = self.backends.get(backend) {
            return map.get(server).copied();
        }
        let map: HashMap<String, usize> = be
            .servers
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let i = map.get(server).copied();
        self.backends.insert(backend.to_string(), map);
        i
    }
}

/// The `log` targets of every backend that has some.
fn loggers(config: &Config) -> HashMap<String, fulcrum_proxy::log::Logger> {
    config
        .proxies
        .iter()
        .filter(|p| p.kind.is_backend())
        .filter_map(|p| fulcrum_proxy::log::Logger::new(&p.logs).map(|l| (p.name.clone(), l)))
        .collect()
}

/// HAProxy's syslog levels for health lines.
const NOTICE: u8 = 5;
const ALERT: u8 = 1;
const EMERG: u8 = 0;

impl Bridge {
    pub fn new(config: &Config) -> (Bridge, watch::Receiver<ProxyHealth>) {
        let (tx, rx) = watch::channel(ProxyHealth::default());
        (
            Bridge {
                config: config.clone(),
                states: ServerStates::new(),
                vrrp: tx,
                loggers: loggers(config),
                index: Default::default(),
            },
            rx,
        )
    }

    /// A new config: states of servers that are gone are forgotten; health replays the rest.
    pub fn reload(&mut self, config: &Config) {
        self.config = config.clone();
        self.loggers = loggers(config);
        self.states.retain(|(b, s), _| {
            config
                .backend(b)
                .is_some_and(|be| be.servers.iter().any(|x| &x.name == s))
        });
        self.publish();
    }

    pub fn apply(&mut self, proxy: &fulcrum_proxy::ProxyHandle, ev: &HealthEvent) {
        // The proxy's state changes first and the log line follows: whoever reads "is DOWN" in
        // the log can rely on no new request going to that server any more.
        self.apply_state(proxy, ev);
        let logger = self.loggers.get(&ev.backend);
        if !ev.log_line.is_empty() {
            if let Some(l) = logger {
                l.send_level(if ev.up { NOTICE } else { ALERT }, &ev.log_line);
            }
            if ev.up {
                tracing::info!("{}", ev.log_line);
            } else {
                tracing::warn!("{}", ev.log_line);
            }
        }
        if let Some(line) = &ev.no_server_line {
            if let Some(l) = logger {
                l.send_level(EMERG, line);
            }
            tracing::error!("{line}");
        }
        // `track`: the servers following this one, after its own line (as HAProxy)
        if let (None, Some(generation)) = (ev.weight, proxy.generation()) {
            let follow = crate::health_track::follow;
            for (backend, line) in follow(&self.config, &generation, &ev.backend, &ev.server, ev.up)
            {
                if let Some(l) = self.loggers.get(&backend) {
                    l.send_level(if ev.up { NOTICE } else { ALERT }, &line);
                }
                tracing::warn!("{line}");
            }
        }
        if ev.weight.is_none() {
            self.publish();
        }
        if !ev.replay && ev.weight.is_none() {
            self.mail_alert(ev);
        }
    }

    /// keepalived's checker mail (`smtp_alert` on the real or virtual server, else
    /// `smtp_alert_checker` / `smtp_alert` in global_defs) for a real server going UP or DOWN.
    fn mail_alert(&self, ev: &HealthEvent) {
        let g = &self.config.keepalived.global_defs;
        let Some(alerts) = fulcrum_vrrp::mail::Alerts::from_global_defs(g) else {
            return;
        };
        for vs in &self.config.keepalived.virtual_servers {
            if fulcrum_health::spec::virtual_server_name(vs) != ev.backend {
                continue;
            }
            for rs in &vs.real_servers {
                let name = std::net::SocketAddr::new(rs.ip, rs.port).to_string();
                if name == ev.server
                    && fulcrum_vrrp::mail::checker_enabled(rs.smtp_alert, vs.smtp_alert, g)
                {
                    let proto = format!("{:?}", vs.protocol).to_lowercase();
                    let real = format!("[{}]:{proto}:{}", rs.ip, rs.port);
                    let virt = match vs.address {
                        fulcrum_config::model::VirtualServerAddress::Ip { ip, port } => {
                            format!("[{ip}]:{proto}:{port}")
                        }
                        fulcrum_config::model::VirtualServerAddress::Fwmark(m) => {
                            format!("FWM {m}")
                        }
                    };
                    let (subject, body) =
                        fulcrum_vrrp::mail::compose_checker(&alerts.router_id, &real, &virt, ev.up);
                    fulcrum_vrrp::mail::spawn_mail(&alerts, subject, body);
                }
            }
        }
    }

    fn apply_state(&mut self, proxy: &fulcrum_proxy::ProxyHandle, ev: &HealthEvent) {
        if ev.weight.is_some() {
            // keepalived misc_dynamic weights only concern LVS virtual servers, not run yet.
            return;
        }
        self.states
            .insert((ev.backend.clone(), ev.server.clone()), ev.up);
        match proxy.generation() {
            Some(generation) => {
                if let Some(be) = generation.backends.get(&ev.backend) {
                    if let Some(i) = be.servers.iter().position(|s| s.name == ev.server) {
                        // The stats page's check columns: the result that caused this state.
                        be.servers[i].set_check(check_info(&ev.reason));
                        be.set_server_up(i, ev.up);
                        // disable-on-404: NOLB while UP (a DOWN server leaves it too)
                        be.set_server_stopping(i, ev.up && ev.stopping);
                        crate::health_track::shutdown_sessions(&generation, be, i, ev.up);
                    }
                }
            }
            None => tracing::warn!(
                "proxy busy reloading; health of {}/{} applied after the reload",
                ev.backend,
                ev.server
            ),
        }
    }

    /// Every probe's outcome, for the stats page's and the exporter's last-check columns: a
    /// batch at a time (the generation and the server index are taken once per batch).
    pub fn record_checks(
        &self,
        proxy: &fulcrum_proxy::ProxyHandle,
        batch: &[fulcrum_health::CheckResult],
    ) {
        if let Some(generation) = proxy.generation() {
            if let Ok(mut index) = self.index.lock() {
                self.apply_checks(&generation, &mut index, batch);
            }
        }
        // `option log-health-checks`: HAProxy logs this at NOTICE level (a warning on stderr),
        // once the stats show the result.
        for r in batch {
            if let Some(line) = &r.log_line {
                if let Some(l) = self.loggers.get(&*r.backend) {
                    l.send_level(NOTICE, line);
                }
                tracing::warn!("{line}");
            }
        }
    }

    fn apply_checks(
        &self,
        generation: &std::sync::Arc<fulcrum_proxy::state::Generation>,
        index: &mut ServerIndex,
        batch: &[fulcrum_health::CheckResult],
    ) {
        for r in batch {
            let Some(be) = generation.backends.get(&*r.backend) else {
                continue;
            };
            let Some(i) = index.position(generation, &r.backend, be, &r.server) else {
                continue;
            };
            if let Some(reply) = &r.agent {
                self.apply_agent(be, i, &r.backend, &r.server, reply);
            }
            let Some(s) = be.servers.get(i) else {
                continue;
            };
            if r.is_agent {
                // the agent columns (agent_status, last_agt, ...), never the health check's
                s.set_agent_check(check_info(&r.outcome));
                continue;
            }
            if r.was_up && !r.outcome.status.passed() {
                s.check_failed();
            }
            s.set_check(check_info(&r.outcome));
        }
    }

    /// An agent's reply as HAProxy applies it: weight in percent of the configured weight,
    /// READY / DRAIN / MAINT, `maxconn:N` (the server's limit from then on).
    fn apply_agent(
        &self,
        be: &fulcrum_proxy::backend::Backend,
        i: usize,
        backend: &str,
        server: &str,
        reply: &fulcrum_health::probe::agent::AgentReply,
    ) {
        use fulcrum_health::probe::agent::AgentAdmin;
        use fulcrum_proxy::server::AdminState;
        if let Some(pct) = reply.weight_percent {
            let configured = self
                .config
                .backend(backend)
                .and_then(|b| b.servers.iter().find(|s| s.name == server))
                .map_or(1, |s| s.weight);
            if let Err(e) = be.set_server_weight(i, (configured * pct.min(256) / 100).min(256)) {
                tracing::warn!("agent of {backend}/{server}: {e}");
            }
        }
        if let Some(m) = reply.maxconn {
            if let Some(s) = be.servers.get(i) {
                if s.set_agent_maxconn(m) {
                    // requests queued behind the old limit may go now
                    be.queue_changed();
                }
            }
        }
        if let Some(admin) = reply.admin {
            let state = match admin {
                AgentAdmin::Ready => AdminState::Ready,
                AgentAdmin::Drain => AdminState::Drain,
                AgentAdmin::Maint => AdminState::Maint,
            };
            if be.set_server_admin(i, state) {
                tracing::warn!("Server {backend}/{server} is set to {admin:?} by its agent");
            }
        }
    }

    fn publish(&self) {
        let failing = failing_addresses(&self.config, &self.states);
        self.vrrp.send_if_modified(|current| {
            if current.failing == failing {
                return false;
            }
            tracing::warn!("virtual addresses the proxy cannot serve: {:?}", failing);
            current.failing = failing;
            true
        });
    }
}

/// A check outcome as the stats page shows it (`check_status`, `check_code`, ...).
fn check_info(o: &fulcrum_health::CheckOutcome) -> fulcrum_proxy::server::CheckInfo {
    fulcrum_proxy::server::CheckInfo {
        status: o.status.code(),
        code: o.code,
        duration: o.duration,
        desc: o.status.description(),
        info: o.info.clone().unwrap_or_default(),
    }
}

/// Virtual addresses (of the keepalived instances and the cluster section) whose every frontend has no usable server.
/// A frontend bound to `*`/`::` serves every virtual address of its family.
pub fn failing_addresses(config: &Config, states: &ServerStates) -> BTreeSet<IpAddr> {
    let vips: BTreeSet<IpAddr> = config
        .keepalived
        .vrrp_instances
        .iter()
        .flat_map(|i| i.virtual_ipaddress.iter().map(|v| v.address))
        .chain(
            config
                .cluster
                .iter()
                .flat_map(|c| c.vips.iter().map(|v| v.address)),
        )
        .collect();
    // For each VIP: does at least one frontend on it still have a usable server?
    let mut serving: HashMap<IpAddr, bool> = HashMap::new();
    for fe in config.frontends() {
        let ok = frontend_can_serve(config, fe, states);
        for bind in &fe.binds {
            let covered: Vec<IpAddr> = match &bind.address {
                BindAddress::Ip(ip) => vec![*ip]
                    .into_iter()
                    .filter(|ip| vips.contains(ip))
                    .collect(),
                BindAddress::AnyV4 => vips.iter().copied().filter(IpAddr::is_ipv4).collect(),
                BindAddress::AnyV6 => vips
                    .iter()
                    .copied()
                    .filter(|ip| ip.is_ipv6() || !bind.v6only)
                    .collect(),
                BindAddress::Unix(_)
                | BindAddress::Abns(_)
                | BindAddress::Fd(_)
                | BindAddress::Sockpair(_) => Vec::new(),
            };
            for ip in covered {
                let entry = serving.entry(ip).or_insert(false);
                *entry = *entry || ok;
            }
        }
    }
    serving
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(ip, _)| ip)
        .collect()
}

/// A frontend can serve when any backend it routes to has a usable server, or when it answers
/// by itself (no backend at all: `http-request return` and friends).
fn frontend_can_serve(
    config: &Config,
    fe: &fulcrum_config::model::Proxy,
    states: &ServerStates,
) -> bool {
    let mut names: Vec<&str> = fe
        .use_backends
        .iter()
        .map(|u| u.backend.name.as_str())
        .collect();
    if let Some(d) = &fe.default_backend {
        names.push(d.name.as_str());
    }
    if fe.kind.is_backend() {
        names.push(fe.name.as_str());
    }
    if names.is_empty() {
        return true;
    }
    let backends: Vec<_> = names.iter().filter_map(|n| config.backend(n)).collect();
    // Backends with no server to run (a load balancer being built through the API: its pool
    // before its members; or every server `disabled`) are no failure of this node: every node
    // has the same configuration, so giving the address away would gain nothing and drop it
    // for the frontends that do serve.
    if backends
        .iter()
        .all(|be| be.servers.iter().all(|s| s.disabled))
    {
        return true;
    }
    backends.iter().any(|be| {
        be.servers.iter().any(|s| {
            !s.disabled
                && *states
                    .get(&(be.name.clone(), s.name.clone()))
                    .unwrap_or(&true)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_config::{load_sources, Source};

    const CFG: &str =
        "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
        frontend web\n bind 10.99.0.100:80\n default_backend app\n\
        frontend any\n bind :8080\n default_backend other\n\
        backend app\n server a 10.99.0.1:80 check\n server b 10.99.0.2:80 check\n\
        backend other\n server c 10.99.0.3:80 check\n";
    const KA: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.99.0.100\n  10.99.0.101\n }\n}\n";

    fn config() -> Config {
        let l = load_sources(&[
            Source {
                name: "h.cfg",
                text: CFG,
            },
            Source {
                name: "k.conf",
                text: KA,
            },
        ]);
        assert!(l.is_ok(), "{:?}", l.diagnostics);
        l.config
    }

    fn down(pairs: &[(&str, &str)]) -> ServerStates {
        pairs
            .iter()
            .map(|(b, s)| ((b.to_string(), s.to_string()), false))
            .collect()
    }

    #[test]
    fn a_frontend_whose_backend_has_no_server_yet_does_not_fail() {
        let l = load_sources(&[
            Source {
                name: "h.cfg",
                text: "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
                       frontend web\n bind 10.99.0.100:80\n default_backend pool\n\
                       backend pool\n",
            },
            Source {
                name: "k.conf",
                text: KA,
            },
        ]);
        assert!(l.is_ok(), "{:?}", l.diagnostics);
        assert!(failing_addresses(&l.config, &ServerStates::new()).is_empty());
    }

    #[test]
    fn all_up_nothing_fails() {
        assert!(failing_addresses(&config(), &ServerStates::new()).is_empty());
    }

    #[test]
    fn one_server_left_keeps_the_vip() {
        assert!(failing_addresses(&config(), &down(&[("app", "a")])).is_empty());
    }

    #[test]
    fn every_server_down_gives_the_address_away_unless_another_frontend_serves_it() {
        let c = config();
        // 10.99.0.100 is also served by the `*` frontend, whose backend is fine.
        assert!(failing_addresses(&c, &down(&[("app", "a"), ("app", "b")])).is_empty());
        let all = down(&[("app", "a"), ("app", "b"), ("other", "c")]);
        let f = failing_addresses(&c, &all);
        assert_eq!(
            f,
            [
                "10.99.0.100".parse().unwrap(),
                "10.99.0.101".parse().unwrap()
            ]
            .into_iter()
            .collect()
        );
        // Only the wildcard frontend down: 10.99.0.101 (served by it alone) fails.
        let f = failing_addresses(&c, &down(&[("other", "c")]));
        assert_eq!(f, ["10.99.0.101".parse().unwrap()].into_iter().collect());
    }
}
