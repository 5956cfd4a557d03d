//! HAProxy's `prometheus-exporter` service (`http-request use-service prometheus-exporter
//! if { path /metrics }`): the answer to a scrape, built from the stats rows of the frontend's
//! configuration generation (`haproxy_*` names, see `haproxy`) plus the families of the rest
//! of fulcrum (VRRP instances, checks) from a [`MetricsSource`] the binary installs.
//!
//! Process-wide by nature (`haproxy_process_*` describe the process, one process runs one
//! proxy and one VRRP engine), so the extra source, the start time and the configuration
//! generation being served (set by the runtime at start and at each reload, held weakly) live
//! in one global [`Exporter`].

pub mod haproxy;
pub mod text;

use crate::state::Generation;
use crate::stats::snapshot::{self, StatRow};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
pub use text::{Exposition, Kind};

/// Families from outside the proxy (written after the `haproxy_*` ones).
pub trait MetricsSource: Send + Sync {
    fn render(&self, out: &mut Exposition);
}

pub struct Exporter {
    started: Instant,
    start_unix: f64,
    nbthread: std::sync::atomic::AtomicU32,
    extra: RwLock<Option<Arc<dyn MetricsSource>>>,
    generation: RwLock<Weak<Generation>>,
}

impl Exporter {
    /// The process's exporter (its start time is the first call's).
    pub fn global() -> &'static Exporter {
        static E: OnceLock<Exporter> = OnceLock::new();
        E.get_or_init(|| Exporter {
            started: Instant::now(),
            start_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            nbthread: std::sync::atomic::AtomicU32::new(1),
            extra: RwLock::new(None),
            generation: RwLock::new(Weak::new()),
        })
    }

    /// The worker threads the proxy started (`haproxy_process_nbthread`; fixed until restart).
    pub fn set_threads(&self, n: usize) {
        self.nbthread.store(
            u32::try_from(n.max(1)).unwrap_or(u32::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The generation scrapes describe from now on (the runtime calls this at start and reload).
    pub fn serve(&self, gen: &Arc<Generation>) {
        match self.generation.write() {
            Ok(mut g) => *g = Arc::downgrade(gen),
            Err(p) => *p.into_inner() = Arc::downgrade(gen),
        }
    }

    /// The rows of the generation being served (none before the proxy starts).
    fn rows(&self) -> Vec<StatRow> {
        let gen = match self.generation.read() {
            Ok(g) => g.upgrade(),
            Err(p) => p.into_inner().upgrade(),
        };
        gen.map(|g| snapshot::snapshot(&g)).unwrap_or_default()
    }

    /// The answer to a scrape: the HTTP response for the generation being served.
    pub fn scrape(&self) -> Vec<u8> {
        self.response(&self.rows())
    }

    /// Installs (or removes) the source of the non-proxy families.
    pub fn set_source(&self, source: Option<Arc<dyn MetricsSource>>) {
        match self.extra.write() {
            Ok(mut g) => *g = source,
            Err(p) => *p.into_inner() = source,
        }
    }

    fn source(&self) -> Option<Arc<dyn MetricsSource>> {
        match self.extra.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The exposition text for `rows`.
    pub fn render(&self, rows: &[StatRow]) -> String {
        let mut out = Exposition::new();
        let process = haproxy::Process {
            nbthread: self.nbthread.load(std::sync::atomic::Ordering::Relaxed),
            uptime_secs: self.started.elapsed().as_secs() as f64,
            start_time_secs: self.start_unix.floor(),
        };
        haproxy::render(&mut out, &process, rows);
        if let Some(s) = self.source() {
            s.render(&mut out);
        }
        out.finish()
    }

    /// A complete HTTP/1.1 response carrying [`Exporter::render`], as HAProxy answers a scrape.
    pub fn response(&self, rows: &[StatRow]) -> Vec<u8> {
        let body = self.render(rows);
        let mut r = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-cache\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body.as_bytes());
        r
    }
}
