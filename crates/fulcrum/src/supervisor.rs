//! Starts each subsystem from its part of the model, applies reloads, stops gracefully.
//!
//! Reload is "new model → each subsystem applies its part": SIGHUP re-reads the same files; an
//! invalid config is refused with every error logged and the running one keeps serving.
//! SIGTERM/SIGINT stop: VRRP first leaves MASTER (priority-0 advert), then the proxy drains.
//! As HAProxy's master does, SIGUSR2 also reloads and SIGUSR1 is a soft stop; `fulcrum reload`
//! asks for a reload over the control socket and gets the outcome back. The runtime API's
//! sockets (`stats socket`) and `fulcrum status` are answered here too, from the parts.

use crate::cmd::run::RunOptions;
use crate::control::{ControlServer, Request};
use crate::health_bridge::Bridge;
use crate::runtime_api::listen::RuntimeSockets;
use crate::sd_notify::Notifier;
use crate::status_report::History;
use anyhow::Context;
use fulcrum_config::Config;
use fulcrum_health::HealthMonitor;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// How long in-flight requests may take to finish after a stop signal (without
/// `hard-stop-after`).
const GRACE: Duration = Duration::from_secs(10);

pub struct Supervisor {
    opts: RunOptions,
}

/// Every running part, owned by the supervisor's loop.
struct Parts {
    proxy: fulcrum_proxy::ProxyHandle,
    health: fulcrum_health::HealthHandle,
    bridge: Bridge,
    vrrp: fulcrum_vrrp::VrrpHandle,
    /// The running configuration (what the runtime API and `fulcrum status` describe).
    config: Config,
    /// Recent state changes for `fulcrum status`.
    history: History,
    started: std::time::Instant,
    stats_sockets: Option<RuntimeSockets>,
    cluster: crate::cluster_bridge::ClusterPart,
    /// The shared proxy config from etcd (`config-from-etcd`), read by every reload.
    shared_config: tokio::sync::watch::Receiver<fulcrum_cluster::runner::SharedConfig>,
    /// The LBaaS API's rendered config, loaded after the files on every reload (api_bridge).
    api_text: fulcrum_api::Rendered,
    lvs: crate::lvs_bridge::LvsBridge,
    /// Stick-table replication (`peers` sections, or the cluster's nodes).
    peers: crate::peers_bridge::PeersPart,
}

impl Supervisor {
    pub fn new(opts: RunOptions) -> Self {
        Supervisor { opts }
    }

    pub async fn run(self, config: Config) -> anyhow::Result<()> {
        let mut sigterm = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        let mut sigint = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
        let mut sighup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;
        let mut sigusr1 =
            signal(SignalKind::user_defined1()).context("installing SIGUSR1 handler")?;
        let mut sigusr2 =
            signal(SignalKind::user_defined2()).context("installing SIGUSR2 handler")?;

        describe(&config);
        let stats = fulcrum_stats::Stats::new(std::time::Instant::now());
        let proxy = fulcrum_proxy::start_with(&config, std::sync::Arc::new(stats.clone()))
            .await
            .context("starting the proxy")?;
        let (health, mut health_events) = HealthMonitor::start(&config);
        let mut check_results = health.check_results();
        health.set_load_source(Some(std::sync::Arc::new(crate::health_bridge::ProxyLoad(
            proxy.serving(),
        ))));
        for w in health.warnings() {
            tracing::warn!("{w}");
        }
        // The prometheus-exporter service adds fulcrum's own families (VRRP) to HAProxy's.
        let metrics = crate::metrics::FulcrumMetrics::default();
        stats.set_source(Some(std::sync::Arc::new(metrics.clone())));
        // Passive health: the proxy reports what it sees on real requests to the health engine.
        proxy.set_observer(Some(std::sync::Arc::new(
            crate::health_bridge::ObserverSink(health.observer()),
        )));
        let (bridge, proxy_health) = Bridge::new(&config);
        let cluster = crate::cluster_bridge::ClusterPart::start(&config, proxy_health.clone());
        let mut shared_changes = cluster.shared_config();
        let shared_config = cluster.shared_config();
        let vrrp = fulcrum_vrrp::start_with_proxy(&config.keepalived, Some(proxy_health))
            .await
            .context("starting VRRP")?;
        let (control_tx, mut control_rx) = mpsc::channel(8);
        let stats_sockets = Some(
            RuntimeSockets::start(&config.global, control_tx.clone())
                .map_err(anyhow::Error::msg)?,
        );
        let mut parts = Parts {
            proxy,
            health,
            bridge,
            vrrp,
            config: config.clone(),
            history: History::default(),
            started: std::time::Instant::now(),
            stats_sockets,
            cluster,
            shared_config,
            api_text: fulcrum_api::Rendered::default(),
            lvs: crate::lvs_bridge::LvsBridge::start(&config, metrics.lvs.clone()),
            peers: Default::default(),
        };
        let cluster_peers = parts.cluster.peers();
        parts.peers.apply(&config, cluster_peers, true).await;
        let mut api = crate::api_bridge::start(&config).await?;
        let _control = ControlServer::start(self.opts.control.clone(), control_tx).await;
        // VRRP state changes are sampled for `fulcrum status` (instances report no events).
        let mut vrrp_tick = tokio::time::interval(Duration::from_millis(500));
        vrrp_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // LVS lc/wlc/sed/nq: connection counts are sampled from conntrack.
        let mut lvs_tick = tokio::time::interval(Duration::from_millis(500));
        lvs_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!("fulcrum started");
        let notifier = Notifier::from_env();
        self.write_pidfiles();
        // global user/group/chroot, now that what needs root is open (privileges/).
        crate::privileges::apply(&config.global, &self.opts.files).map_err(anyhow::Error::msg)?;
        notifier.ready();
        self.signal_old_processes();

        loop {
            tokio::select! {
                _ = sigterm.recv() => { tracing::info!("SIGTERM received, stopping"); break; }
                _ = sigint.recv() => { tracing::info!("SIGINT received, stopping"); break; }
                _ = sigusr1.recv() => { tracing::info!("SIGUSR1 received, finishing and stopping"); break; }
                Some(batch) = check_results.recv_batch() => {
                    for r in &batch {
                        parts.lvs.record_check(r);
                    }
                    parts.bridge.record_checks(&parts.proxy, &batch);
                }
                Some(ev) = health_events.recv() => {
                    parts.history.health(&ev);
                    parts.lvs.apply(&ev);
                    parts.bridge.apply(&parts.proxy, &ev);
                }
                _ = vrrp_tick.tick(), if !parts.config.keepalived.vrrp_instances.is_empty() => {
                    let statuses = parts.vrrp.status().await;
                    parts.history.vrrp(&statuses);
                    metrics.update_vrrp(statuses);
                }
                Ok(()) = shared_changes.changed() => {
                    let revision = shared_changes.borrow_and_update().as_ref().map(|(r, _)| *r);
                    tracing::info!("proxy config from etcd: revision {revision:?}, reloading");
                    notifier.reloading();
                    match self.reload(&mut parts).await {
                        Ok(()) => tracing::info!("proxy config from etcd revision {revision:?} applied"),
                        Err(e) => tracing::error!("proxy config from etcd revision {revision:?} refused: {e}"),
                    }
                    notifier.ready();
                }
                _ = lvs_tick.tick(), if parts.lvs.wants_load() => parts.lvs.refresh_load(),
                _ = async { tokio::select! { _ = sighup.recv() => {}, _ = sigusr2.recv() => {} } } => {
                    tracing::info!("reload signal received, reloading");
                    notifier.reloading();
                    if let Err(e) = self.reload(&mut parts).await {
                        tracing::error!("{e}");
                    } else {
                        crate::api_bridge::place_vips(&mut api, &parts.config, None, &mut parts.cluster);
                    }
                    notifier.ready();
                }
                Some(msg) = crate::api_bridge::recv(&mut api) => match msg {
                    fulcrum_api::ToFulcrum::Apply(text, vips, answer) => {
                        let old = std::mem::replace(&mut parts.api_text, text);
                        let result = self.reload(&mut parts).await;
                        if result.is_err() {
                            parts.api_text = old;
                        } else {
                            crate::api_bridge::place_vips(&mut api, &parts.config, Some(&vips), &mut parts.cluster);
                        }
                        let _ = answer.send(result);
                    }
                    fulcrum_api::ToFulcrum::LvsStatus(answer) => {
                        let _ = answer.send(parts.lvs.status());
                    }
                    fulcrum_api::ToFulcrum::ShowStat(answer) => {
                        let mut live = crate::runtime_api::live::Live {
                            proxy: &parts.proxy,
                            health: &parts.health,
                            config: &parts.config,
                            history: &mut parts.history,
                            started: parts.started,
                        };
                        let _ = answer.send(crate::api_bridge::show_stat(&mut live));
                    }
                },
                Some(req) = control_rx.recv() => match req {
                    Request::Reload(answer) => {
                        tracing::info!("reload requested on the control socket");
                        notifier.reloading();
                        let result = self.reload(&mut parts).await;
                        match &result {
                            Err(e) => tracing::error!("{e}"),
                            Ok(()) => crate::api_bridge::place_vips(&mut api, &parts.config, None, &mut parts.cluster),
                        }
                        notifier.ready();
                        let _ = answer.send(result);
                    }
                    Request::Cluster(words, answer) => {
                        let _ = answer.send(parts.cluster.command(&words).await);
                    }
                    Request::Runtime(commands, answer) => {
                        let mut live = crate::runtime_api::live::Live {
                            proxy: &parts.proxy,
                            health: &parts.health,
                            config: &parts.config,
                            history: &mut parts.history,
                            started: parts.started,
                        };
                        let answers = commands.iter().map(|c| crate::runtime_api::exec::execute(c, &mut live)).collect();
                        let _ = answer.send(answers);
                    }
                    Request::Status(answer) => {
                        let vrrp = parts.vrrp.status().await;
                        parts.history.vrrp(&vrrp);
                        let live = crate::runtime_api::live::Live {
                            proxy: &parts.proxy,
                            health: &parts.health,
                            config: &parts.config,
                            history: &mut parts.history,
                            started: parts.started,
                        };
                        let (backends, frontend_connections) = (live.backend_views(), live.connections());
                        let mut report = crate::status_report::build(&crate::status_report::Inputs {
                            config: &parts.config,
                            backends,
                            frontend_connections,
                            vrrp,
                            history: &parts.history,
                            uptime_s: parts.started.elapsed().as_secs(),
                        });
                        report["cluster"] = parts.cluster.status_json();
                        report["peers"] = parts.peers.status_json();
                        report["virtual_servers"] = parts.lvs.status();
                        let _ = answer.send(report);
                    }
                },
            }
        }
        notifier.stopping();
        crate::api_bridge::release_vips(&mut api, &parts.config);
        parts.stats_sockets.take();
        parts.peers.shutdown().await;
        parts.cluster.shutdown().await;
        parts.vrrp.shutdown().await;
        parts.health.shutdown().await;
        // `hard-stop-after` bounds the soft stop (HAProxy: SIGUSR1), else fulcrum's grace
        let grace = parts
            .config
            .global
            .keywords
            .hard_stop_after
            .unwrap_or(GRACE);
        parts.proxy.shutdown(grace).await;
        parts.lvs.shutdown();
        for p in &self.opts.pidfiles {
            let _ = std::fs::remove_file(p);
        }
        tracing::info!("fulcrum stopped");
        Ok(())
    }

    /// Re-reads the files and applies them. The proxy applies first: if the files are invalid
    /// or the proxy refuses (a bind fails), the whole reload is refused, every reason returned,
    /// and every part keeps the running config.
    async fn reload(&self, parts: &mut Parts) -> Result<(), String> {
        // The files, then the cluster's config from etcd, then the LBaaS API's rendering.
        let shared = parts.shared_config.borrow().clone();
        let mut extra = crate::cluster_bridge::sources(&shared);
        extra.extend(crate::api_bridge::sources(&parts.api_text));
        let loaded = crate::privileges::load(&self.opts.files, &self.opts.load, &extra);
        for d in loaded.diagnostics.iter() {
            tracing::warn!("{d}");
        }
        if !loaded.is_ok() {
            let errors: Vec<String> = loaded
                .diagnostics
                .errors()
                .map(ToString::to_string)
                .collect();
            return Err(format!(
                "new configuration refused; the running one keeps serving\n{}",
                errors.join("\n")
            ));
        }
        let mut new = loaded.config;
        crate::fd_limit::keep(&mut new);
        parts
            .proxy
            .reload(&new)
            .await
            .map_err(|e| format!("reload refused, the running configuration keeps serving: {e}"))?;
        parts.health.reload(&new);
        parts.bridge.reload(&new);
        parts.lvs.reload(&new);
        parts
            .vrrp
            .reload(&new.keepalived)
            .await
            .map_err(|e| format!("VRRP reload failed: {e}"))?;
        let restarted = parts.cluster.reload(&new).await;
        let cluster_peers = parts.cluster.peers();
        parts.peers.apply(&new, cluster_peers, restarted).await;
        if let Some(sockets) = parts.stats_sockets.as_mut() {
            sockets.reload(&new.global);
        }
        parts.config = new;
        tracing::info!("configuration reloaded");
        Ok(())
    }

    fn write_pidfiles(&self) {
        for p in &self.opts.pidfiles {
            if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
                tracing::error!("cannot write pid file {}: {e}", p.display());
            }
        }
    }

    /// HAProxy's -sf/-st: once we serve, the old processes finish (SIGUSR1) or stop (SIGTERM).
    fn signal_old_processes(&self) {
        let targets = self
            .opts
            .finish_pids
            .iter()
            .map(|p| (p, Signal::SIGUSR1))
            .chain(
                self.opts
                    .terminate_pids
                    .iter()
                    .map(|p| (p, Signal::SIGTERM)),
            );
        for (pid, sig) in targets {
            let Ok(raw) = i32::try_from(*pid) else {
                continue;
            };
            if let Err(e) = kill(Pid::from_raw(raw), sig) {
                tracing::warn!("cannot send {sig} to old process {pid}: {e}");
            }
        }
    }
}

fn describe(config: &Config) {
    for p in config.frontends() {
        for b in &p.binds {
            tracing::info!(
                "{} {}: bind {}",
                p.kind.keyword(),
                p.name,
                fulcrum_proxy::addr::bind_text(b)
            );
        }
    }
    for b in config.backends() {
        tracing::info!("backend {}: {} server(s)", b.name, b.servers.len());
    }
    for v in &config.keepalived.vrrp_instances {
        tracing::info!(
            "vrrp_instance {}: VRID {} priority {}",
            v.name,
            v.virtual_router_id,
            v.priority
        );
    }
    for vs in &config.keepalived.virtual_servers {
        tracing::info!(
            "virtual_server {:?}: {} real server(s)",
            vs.address,
            vs.real_servers.len()
        );
    }
}
