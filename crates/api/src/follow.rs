//! Changes other nodes made (cluster mode, etcd store): each signal from the store's watch
//! reloads the whole state from the store and wakes the apply worker, which renders it and
//! runs it through the same in-process reload as a local change.

use crate::Handle;
use tokio::sync::mpsc;

pub async fn follow(shared: Handle, mut changes: mpsc::UnboundedReceiver<()>) {
    while changes.recv().await.is_some() {
        // One reload covers every signal queued meanwhile.
        while changes.try_recv().is_ok() {}
        // Read under the state lock, so no local change saved meanwhile is lost from memory.
        let mut state = shared.state.lock().await;
        match shared.store.load().await {
            Ok(fresh) => {
                *state = fresh;
                drop(state);
                shared.stats.invalidate();
                shared.dirty.notify_one();
            }
            Err(e) => tracing::error!("api store: reloading after another node's change: {e}"),
        }
    }
}
