//! fulcrum's data plane: listeners, HTTP/1 and TCP forwarding, balancing, reloads.
//!
//! Entry points used by the binary's supervisor: `start` builds the run-time state from the
//! model and opens every `bind`; the handle applies reloads and stops gracefully.
//! Layout, bottom to top (a module only uses lower ones; `tests/layers.rs` keeps it so):
//! leaves (`termination`, `tls/` pure parts (`der`, `sni`, `crtlist`, `suites`), `counters`, `addr`, `stream`, `clock`, `error`, `balance/`,
//! `persist/`) → `record`, `server`, `bind`, `acl`, `http/` framing, `tunnel` → `connect`,
//! `applet` (what admin pages implement; they live in `fulcrum-stats`), `logline` →
//! `http/rules`, `tls/` (certificates, acceptor, connections) → `farm` (servers, selection, queue, retries; no HTTP) and `http/policy` →
//! `backend` (= `Farm<HttpPolicy>`) → `state` (the compiled generation) → `route` → `tcp` →
//! `http/session` (named phases) → `listener` → `runtime`.

pub mod accept_proxy;
pub mod acl;
pub mod addr;
pub mod applet;
pub mod backend;
pub mod balance;
pub mod bind;
pub mod buf_pool;
pub mod busy_poll;
pub mod clock;
pub mod connect;
pub mod counters;
pub mod cpu_usage;
pub mod end;
pub mod error;
pub mod farm;
pub mod front;
pub mod fuzzing;
pub mod handover;
pub mod http;
pub mod inherit;
pub mod lazy_timer;
pub mod listener;
pub mod log;
pub mod log_error;
pub mod log_format;
pub mod log_uri;
pub mod log_vars;
pub mod logline;
pub mod net;
pub mod netscaler_cip;
pub mod observe;
pub mod opening;
pub mod park;
pub mod payload;
pub mod persist;
pub mod place;
pub mod pool;
pub mod proc_vars;
pub mod proxy_protocol;
pub mod rate_limit;
pub mod record;
pub mod route;
pub mod rule_facts;
pub mod runtime;
pub mod runtime_turn;
pub mod server;
pub mod sockopt;
pub mod sockpair;
pub mod socks4;
pub mod splice;
pub mod state;
pub mod stick_sync;
pub mod stream;
pub mod switch_mode;
pub mod tcp;
pub mod tcp_inspect;
pub mod tcp_rules;
pub mod tcp_stick;
pub mod termination;
pub mod tls;
pub mod track;
pub mod track_cli;
pub mod trim;
pub mod tunnel;
pub mod vars;

use fulcrum_config::Config;
use std::time::Duration;

pub use error::ProxyError;

pub struct ProxyHandle {
    rt: runtime::Runtime,
}

/// Opens the listeners of every frontend/listen in `config` and starts serving, without
/// applets (a `use-service` or `stats enable` is then a configuration error).
pub async fn start(config: &Config) -> Result<ProxyHandle, ProxyError> {
    start_with(config, std::sync::Arc::new(state::NoServices)).await
}

/// [`start`], resolving `use-service` and `stats` pages with `services` (the binary passes
/// the `fulcrum-stats` crate's), now and at every reload.
pub async fn start_with(
    config: &Config,
    services: std::sync::Arc<dyn state::Services>,
) -> Result<ProxyHandle, ProxyError> {
    Ok(ProxyHandle {
        rt: runtime::Runtime::start(config, services)?,
    })
}

impl ProxyHandle {
    /// Applies a new, already validated config in place. On error the running config stays.
    pub async fn reload(&self, config: &Config) -> Result<(), ProxyError> {
        self.rt.reload(config).await
    }
    /// Stops accepting, lets in-flight requests finish within `grace`, then returns.
    pub async fn shutdown(self, grace: Duration) {
        self.rt.shutdown(grace).await
    }
    /// Where passive health (`observe`) observations go; `None` stops reporting. Kept across
    /// reloads.
    pub fn set_observer(&self, sink: Option<std::sync::Arc<dyn observe::ObservationSink>>) {
        self.rt.sink.set(sink)
    }
    /// The running state (tests, health checks: `backends[..].set_server_up`).
    pub fn generation(&self) -> Option<std::sync::Arc<state::Generation>> {
        self.rt.generation()
    }
    /// The generation being served, updated at every reload.
    pub fn serving(&self) -> tokio::sync::watch::Receiver<state::Serving> {
        self.rt.serving()
    }
}
