//! What the binary hands to the proxy: [`Stats`] resolves `use-service NAME` and a proxy's
//! `stats ...` lines into applets when a configuration is compiled, and holds the facts of
//! the process the pages show (start time, fulcrum's own Prometheus families).
//!
//! No globals: one [`Stats`] per running proxy. The exporter follows the generation the
//! proxy serves through the watch channel the runtime publishes on.

use crate::prometheus::{Exporter, MetricsSource};
use crate::serve::StatsRt;
use fulcrum_config::model::Proxy;
use fulcrum_proxy::applet::Applet;
use fulcrum_proxy::state::{ServiceEnv, Services};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The services fulcrum has (`use-service NAME`).
pub const SERVICES: &[&str] = &["prometheus-exporter"];

/// Facts about the process shown by the pages.
pub struct Process {
    started: Instant,
    start_unix: f64,
    extra: RwLock<Option<Arc<dyn MetricsSource>>>,
}

impl Process {
    fn new(started: Instant) -> Process {
        let since = started.elapsed();
        Process {
            started,
            start_unix: SystemTime::now()
                .checked_sub(since)
                .unwrap_or_else(SystemTime::now)
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            extra: RwLock::new(None),
        }
    }
    /// How long the process has run (the stats page's uptime, `haproxy_process_uptime_seconds`).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
    /// The process start as UNIX seconds (`haproxy_process_start_time_seconds`).
    pub fn start_unix(&self) -> f64 {
        self.start_unix
    }
    /// The source of the non-proxy Prometheus families, if installed.
    pub fn source(&self) -> Option<Arc<dyn MetricsSource>> {
        match self.extra.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// The administrative applets of one running proxy.
#[derive(Clone)]
pub struct Stats {
    process: Arc<Process>,
}

impl Stats {
    /// Pages whose uptime counts from `started` (the process start).
    pub fn new(started: Instant) -> Stats {
        Stats {
            process: Arc::new(Process::new(started)),
        }
    }

    /// Installs (or removes) the source of the families from outside the proxy (VRRP).
    pub fn set_source(&self, source: Option<Arc<dyn MetricsSource>>) {
        match self.process.extra.write() {
            Ok(mut g) => *g = source,
            Err(p) => *p.into_inner() = source,
        }
    }

    pub fn process(&self) -> &Arc<Process> {
        &self.process
    }
}

impl Services for Stats {
    fn service(&self, name: &str, env: &ServiceEnv<'_>) -> Option<Arc<dyn Applet>> {
        match name {
            "prometheus-exporter" => Some(Arc::new(Exporter::new(
                self.process.clone(),
                env.serving.clone(),
            ))),
            _ => None,
        }
    }

    fn stats(&self, p: &Proxy, env: &ServiceEnv<'_>) -> Result<Option<Arc<dyn Applet>>, String> {
        Ok(StatsRt::build(p, env.proxies, &self.process)?.map(|s| s as Arc<dyn Applet>))
    }
}
