//! Starts each subsystem from its part of the model, applies reloads, stops gracefully.
//!
//! Reload is "new model → each subsystem applies its part": SIGHUP re-reads the same files; an
//! invalid config is refused with every error logged and the running one keeps serving.
//! SIGTERM/SIGINT stop: VRRP first leaves MASTER (priority-0 advert), then the proxy drains.

use anyhow::Context;
use fulcrum_config::{load_files, Config};
use std::path::PathBuf;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

/// How long in-flight requests may take to finish after a stop signal.
const GRACE: Duration = Duration::from_secs(10);

pub struct Supervisor {
    files: Vec<PathBuf>,
}

impl Supervisor {
    pub fn new(files: Vec<PathBuf>) -> Self {
        Supervisor { files }
    }

    pub async fn run(self, config: Config) -> anyhow::Result<()> {
        let mut sigterm = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        let mut sigint = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
        let mut sighup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;

        describe(&config);
        let proxy = fulcrum_proxy::start(&config).await.context("starting the proxy")?;
        let vrrp = fulcrum_vrrp::start(&config.keepalived).await.context("starting VRRP")?;
        tracing::info!("fulcrum started");

        loop {
            tokio::select! {
                _ = sigterm.recv() => { tracing::info!("SIGTERM received, stopping"); break; }
                _ = sigint.recv() => { tracing::info!("SIGINT received, stopping"); break; }
                _ = sighup.recv() => {
                    tracing::info!("SIGHUP received, reloading");
                    if let Some(new) = self.reload_config() {
                        if let Err(e) = proxy.reload(&new).await {
                            tracing::error!("proxy reload failed: {e}");
                        }
                        if let Err(e) = vrrp.reload(&new.keepalived).await {
                            tracing::error!("VRRP reload failed: {e}");
                        }
                    }
                }
            }
        }
        vrrp.shutdown().await;
        proxy.shutdown(GRACE).await;
        tracing::info!("fulcrum stopped");
        Ok(())
    }

    /// Re-reads the files; `None` (with every problem logged) when the new config is invalid.
    fn reload_config(&self) -> Option<Config> {
        let loaded = load_files(&self.files);
        for d in loaded.diagnostics.iter() {
            tracing::warn!("{d}");
        }
        if loaded.is_ok() {
            Some(loaded.config)
        } else {
            tracing::error!("new configuration refused; the running one keeps serving");
            None
        }
    }
}

fn describe(config: &Config) {
    for p in config.frontends() {
        for b in &p.binds {
            tracing::info!("{} {}: bind {:?} port {}-{}", p.kind.keyword(), p.name, b.address, b.port_first, b.port_last);
        }
    }
    for b in config.backends() {
        tracing::info!("backend {}: {} server(s)", b.name, b.servers.len());
    }
    for v in &config.keepalived.vrrp_instances {
        tracing::info!("vrrp_instance {}: VRID {} priority {}", v.name, v.virtual_router_id, v.priority);
    }
    for vs in &config.keepalived.virtual_servers {
        tracing::info!("virtual_server {:?}: {} real server(s)", vs.address, vs.real_servers.len());
    }
}
