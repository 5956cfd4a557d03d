//! fulcrum's LBaaS API: an Octavia v2-compatible REST API (plus Neutron LBaaS v1's resources)
//! that configures the running fulcrum live.
//!
//! Data flow: an HTTP request (axum, `http.rs`) is checked against the resource schemas
//! (`schema.rs`), changes the in-memory state (`state.rs`) and is persisted (`store.rs`: redb
//! by default, etcd in cluster mode, where `follow.rs` reloads what other nodes change)
//! before it is answered with the object in PENDING_*; the apply worker (`apply.rs`) then
//! renders every load balancer as haproxy.cfg text (`render.rs`), hands it to the running
//! process (`ToFulcrum::Apply`, the same in-process reload as SIGHUP) and moves the objects to
//! ACTIVE, or ERROR with the reason. Operating status comes from the process's `show stat`
//! (`health.rs`), mapped as Octavia maps HAProxy's states.

pub mod apply;
pub mod batch;
pub mod checks;
pub mod follow;
pub mod health;
pub mod http;
pub mod keystone;
pub mod listing;
pub mod neutron;
pub mod ops;
pub mod quotas;
pub mod render;
pub mod schema;
pub mod state;
pub mod status;
pub mod store;
pub mod store_embedded;
pub mod store_etcd;
pub mod v1;

use fulcrum_config::model::{Api as ApiConfig, ApiAuth};
use state::State;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex, Notify};

/// What the API asks of the running fulcrum.
pub enum ToFulcrum {
    /// Run the files plus this rendered text (an in-process reload), with the VIPs of the load
    /// balancers it holds; answer with the outcome.
    Apply(
        String,
        Vec<std::net::IpAddr>,
        oneshot::Sender<Result<(), String>>,
    ),
    /// The runtime API's `show stat` CSV.
    ShowStat(oneshot::Sender<String>),
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
    pub keystone: http::TokenCache,
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
    Ok(Arc::new(Shared {
        state: Mutex::new(state),
        store,
        to_fulcrum,
        dirty: Notify::new(),
        auth: config.auth.clone(),
        subnets: config.subnets.clone(),
        stats: health::StatCache::default(),
        keystone: http::TokenCache::default(),
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
