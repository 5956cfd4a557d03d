//! fulcrum's LBaaS API: an Octavia v2-compatible REST API (plus Neutron LBaaS v1's resources)
//! that configures the running fulcrum live.
//!
//! Data flow: an HTTP request (axum, `http.rs`) is checked against the resource schemas
//! (`schema.rs`), changes the in-memory state (`state.rs`) and is persisted (`store.rs`: redb
//! by default, etcd in cluster mode, where `follow.rs` reloads what other nodes change)
//! before it is answered with the object in PENDING_*; the apply worker (`apply.rs`) then
//! renders every load balancer as haproxy.cfg text (`render.rs`) and its UDP/SCTP listeners as
//! keepalived `virtual_server` text for the LVS data plane (`render_lvs.rs`), hands both to the
//! running process (`ToFulcrum::Apply`, the same in-process reload as SIGHUP) and moves the
//! objects to ACTIVE, or ERROR with the reason. Operating status comes from the process's
//! `show stat` and, for UDP/SCTP, its LVS real-server states (`health.rs`, `health_lvs.rs`),
//! mapped as Octavia maps HAProxy's and keepalived's states.

pub mod apply;
pub mod auth;
pub mod batch;
pub mod certs;
pub mod checks;
pub mod checks_l4;
pub mod client;
pub mod conflict;
pub mod flavors;
pub mod follow;
pub mod health;
pub mod health_lvs;
pub mod http;
pub mod keystone;
pub mod listing;
pub mod neutron;
pub mod ops;
pub mod quotas;
pub mod render;
pub mod render_lvs;
pub mod schema;
pub mod state;
pub mod status;
pub mod store;
pub mod store_embedded;
pub mod store_etcd;
pub mod tls_refs;
pub mod v1;
pub mod v1_views;

use fulcrum_config::model::{Api as ApiConfig, ApiAuth};
use state::State;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex, Notify};

/// What the API renders for the running fulcrum: haproxy.cfg text for the proxy and
/// keepalived text (`virtual_server` blocks) for the LVS data plane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub haproxy: String,
    pub keepalived: String,
}

/// What the API asks of the running fulcrum.
pub enum ToFulcrum {
    /// Run the files plus these rendered texts (an in-process reload), with the VIPs of the
    /// load balancers they hold; answer with the outcome.
    Apply(
        Rendered,
        Vec<std::net::IpAddr>,
        oneshot::Sender<Result<(), String>>,
    ),
    /// The runtime API's `show stat` CSV.
    ShowStat(oneshot::Sender<String>),
    /// The LVS virtual servers' states, as `fulcrum status --json` shows them
    /// (`virtual_servers`).
    LvsStatus(oneshot::Sender<serde_json::Value>),
}

/// The command a UDP-CONNECT monitor runs (Octavia's `udp_check.sh`): this binary's
/// `udp-check` subcommand.
pub fn udp_check_command() -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "fulcrum".to_string());
    // A binary replaced on disk (a package upgrade) reads back as "PATH (deleted)": the new
    // one at PATH runs the check.
    let exe = exe.strip_suffix(" (deleted)").unwrap_or(&exe);
    format!("{exe} udp-check")
}

/// Everything the handlers and the apply worker share.
pub struct Shared {
    pub state: Mutex<State>,
    pub store: Box<dyn store::Store>,
    pub to_fulcrum: mpsc::Sender<ToFulcrum>,
    /// Woken after every accepted change.
    pub dirty: Notify,
    pub auth: ApiAuth,
    pub subnets: Vec<fulcrum_config::model::ApiSubnet>,
    pub stats: health::StatCache,
    pub lvs: health_lvs::LvsCache,
    pub keystone: auth::TokenCache,
    /// The UDP-CONNECT check command (`udp_check_command`).
    pub udp_check: String,
    /// `auth keystone https://... ca-file PEM`.
    pub keystone_ca: Option<std::path::PathBuf>,
    /// Where TERMINATED_HTTPS listeners' certificates come from.
    pub certs: certs::Source,
}

pub type Handle = Arc<Shared>;

/// The store without a cluster: the embedded database at `store PATH`, or memory only.
pub fn local_store(config: &ApiConfig) -> Result<Box<dyn store::Store>, String> {
    Ok(match &config.store {
        Some(p) => Box::new(store_embedded::Embedded::open(p)?),
        None => Box::new(store::Memory),
    })
}

/// Loads what `store` holds and builds the shared state.
pub async fn open(
    config: &ApiConfig,
    store: Box<dyn store::Store>,
    to_fulcrum: mpsc::Sender<ToFulcrum>,
) -> Result<Handle, String> {
    let state = store.load().await?;
    // The listeners' PEMs are written next to the embedded store (kept across restarts like
    // the store, 0700); without one, under the temporary directory (see certs::out_dir).
    if let Some(p) = &config.store {
        certs::set_out_dir(certs::dir_for_store(p));
    }
    Ok(Arc::new(Shared {
        state: Mutex::new(state),
        store,
        to_fulcrum,
        dirty: Notify::new(),
        auth: config.auth.clone(),
        subnets: config.subnets.clone(),
        stats: health::StatCache::default(),
        lvs: health_lvs::LvsCache::default(),
        keystone: auth::TokenCache::default(),
        udp_check: udp_check_command(),
        keystone_ca: config.keystone_ca.clone(),
        certs: certs::Source {
            dir: config.certificates.clone(),
            barbican: config.barbican.clone(),
            ca_file: config.keystone_ca.clone(),
        },
    }))
}

/// Serves the API on `listener` and runs the apply worker; the first apply brings up what the
/// store holds.
pub fn spawn(shared: Handle, listener: tokio::net::TcpListener) {
    tokio::spawn(apply::worker(shared.clone()));
    if let Some(changes) = shared.store.watch() {
        tokio::spawn(follow::follow(shared.clone(), changes));
    }
    shared.dirty.notify_one();
    let app = http::router(shared);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("api server stopped: {e}");
        }
    });
}
