//! The apply worker: after each accepted change, renders every load balancer, hands the text to
//! the running fulcrum (an in-process reload) and settles PENDING_* to ACTIVE, or to ERROR with
//! the reason; a load balancer in ERROR is left out and the others are applied again. In cluster
//! mode the outcome is written with compare-and-swap: when another node wrote it first, this
//! node reads the store again and applies that.

use crate::{render, Handle, ToFulcrum};
use tokio::sync::oneshot;

async fn apply(shared: &Handle, state: &crate::state::State) -> Result<(), String> {
    crate::certs::write_all(state)?;
    let text = crate::Rendered {
        haproxy: render::render_all(state),
        keepalived: crate::render_lvs::render_all(state, &shared.udp_check),
    };
    let vips = render::vips(state);
    let (tx, rx) = oneshot::channel();
    shared
        .to_fulcrum
        .send(ToFulcrum::Apply(text, vips, tx))
        .await
        .map_err(|_| "fulcrum is stopping".to_string())?;
    rx.await.map_err(|_| "fulcrum is stopping".to_string())?
}

pub async fn worker(shared: Handle) {
    loop {
        shared.dirty.notified().await;
        // The state stays locked while the change is applied (milliseconds), so the objects
        // settled are exactly the ones rendered.
        let mut state = shared.state.lock().await;
        let pending = state.pending_lbs();
        let result = apply(&shared, &state).await;
        let changed = match &result {
            Ok(()) => state.settle(&pending, true, ""),
            Err(e) => {
                tracing::error!("api: change refused: {e}");
                let changed = state.settle(&pending, false, e);
                // Bring the others back without the load balancers now in ERROR.
                if let Err(e) = apply(&shared, &state).await {
                    tracing::error!("api: re-apply without the failed load balancers: {e}");
                }
                changed
            }
        };
        match shared.store.save(&state, &changed).await {
            Ok(()) => {}
            // Another node wrote some of these objects first (in cluster mode every node
            // applies each change and settles it): read the store again; what is still
            // pending there is applied and settled by the next round, from the fresh state.
            Err(crate::store::StoreError::Conflict) => {
                match shared.store.load().await {
                    Ok(fresh) => *state = fresh,
                    Err(e) => tracing::error!("api store: reloading after a conflict: {e}"),
                }
                shared.dirty.notify_one();
            }
            Err(e) => tracing::error!("api store: {e}"),
        }
        shared.stats.invalidate();
        shared.lvs.invalidate();
    }
}
