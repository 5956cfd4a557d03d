//! HAProxy's `prometheus-exporter` service (`http-request use-service prometheus-exporter
//! if { path /metrics }`): the answer to a scrape, built from the stats rows of the generation
//! the proxy serves now (`haproxy_*` names, see `haproxy`) plus the families of the rest of
//! fulcrum (VRRP instances, checks) from a [`MetricsSource`] the binary installs.
//!
//! The generation comes from the proxy's watch channel (`fulcrum_proxy::state::Serving`,
//! published at start and at each reload, held weakly); the process facts from
//! [`crate::services::Process`]. Nothing is process-wide.

pub mod haproxy;
pub mod text;

use crate::services::Process;
use crate::snapshot::{self, StatRow};
use fulcrum_proxy::applet::{Answer, Applet, AppletRequest};
use fulcrum_proxy::state::Serving;
use std::sync::Arc;
pub use text::{Exposition, Kind};
use tokio::sync::watch;

/// Families from outside the proxy (written after the `haproxy_*` ones).
pub trait MetricsSource: Send + Sync {
    fn render(&self, out: &mut Exposition);
    /// keepalived's virtual servers for the stats page's LVS table (none by default).
    fn lvs(&self) -> Vec<crate::lvs::LvsVirtualServer> {
        Vec::new()
    }
}

/// The exporter applet of one `use-service prometheus-exporter` rule.
pub struct Exporter {
    process: Arc<Process>,
    serving: watch::Receiver<Serving>,
}

impl Exporter {
    pub fn new(process: Arc<Process>, serving: watch::Receiver<Serving>) -> Exporter {
        Exporter { process, serving }
    }

    /// The rows of the generation being served (none before the proxy starts).
    fn rows(&self) -> Vec<StatRow> {
        let gen = self.serving.borrow().generation();
        gen.map(|g| snapshot::snapshot(&g)).unwrap_or_default()
    }

    /// The answer to a scrape: the HTTP response for the generation being served.
    pub fn scrape(&self) -> Answer {
        self.response(&self.rows())
    }

    /// The exposition text for `rows`.
    pub fn render(&self, rows: &[StatRow]) -> String {
        let mut out = Exposition::new();
        let process = haproxy::Process {
            nbthread: self.serving.borrow().threads.max(1),
            uptime_secs: self.process.uptime().as_secs() as f64,
            start_time_secs: self.process.start_unix().floor(),
            ssl: fulcrum_proxy::tls::totals::figures(),
        };
        haproxy::render(&mut out, &process, rows);
        if let Some(s) = self.process.source() {
            s.render(&mut out);
        }
        out.finish()
    }
    /// The response carrying [`Exporter::render`], as HAProxy answers a scrape (neutral:
    /// the client's codec encodes it).
    pub fn response(&self, rows: &[StatRow]) -> Answer {
        let body = self.render(rows);
        Answer::new(200, b"OK")
            .field(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")
            .field(b"content-length", body.len().to_string().as_bytes())
            .field(b"cache-control", b"no-cache")
            .body(body)
    }
}

impl Applet for Exporter {
    fn name(&self) -> &str {
        "prometheus-exporter"
    }
    fn log_name(&self) -> &'static str {
        "<PROMEX>"
    }
    fn answer(&self, _req: &AppletRequest<'_>) -> Answer {
        self.scrape()
    }
}
