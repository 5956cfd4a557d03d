//! What a change the store did not write becomes: a 500 with the store's reason, or — when
//! another API node won the compare-and-swap on the same keys (cluster mode, etcd) — the state
//! read again from the store and a 409 that `http.rs` answers by re-running the request on
//! the fresh state (bounded by `RETRIES`), where it gets Octavia's answer for that moment.

use crate::ops::{err, ApiError};
use crate::state::State;
use crate::Handle;

/// How many times a request losing a compare-and-swap is re-run.
pub(crate) const RETRIES: u64 = 4;

/// The error for a change the store did not write. A conflict (another node wrote the same
/// keys first) reloads the state from the store, so the next attempt sees that node's change.
pub(crate) async fn store_failed(
    shared: &Handle,
    st: &mut State,
    e: crate::store::StoreError,
) -> ApiError {
    if e != crate::store::StoreError::Conflict {
        return err(500, format!("store: {e}"));
    }
    tracing::info!("api: a change lost a compare-and-swap to another node; state read again");
    match shared.store.load().await {
        Ok(fresh) => {
            *st = fresh;
            shared.stats.invalidate();
            shared.dirty.notify_one();
        }
        Err(e) => tracing::error!("api store: reloading after a conflict: {e}"),
    }
    err(409, crate::store::CONFLICT)
}
