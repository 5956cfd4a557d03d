//! The API's store in etcd (cluster mode): every object as one JSON value under
//! `PREFIX lbaas/KIND/ID` (PREFIX = the cluster's `/fulcrum/NAME/`), one accepted change
//! written in one etcd transaction, so every node reads the same load balancers with the same
//! ids. A watch on the prefix tells the API of changes other nodes wrote (`watch`), which it
//! reloads and applies through the same in-process reload.
//!
//! The client comes from the caller (the cluster crate builds it from the `cluster` section:
//! endpoints, TLS, user).

use crate::state::State;
use crate::store::{decode, BoxFuture, Store, Write};
use etcd_client::{Client, GetOptions, Txn, TxnOp, WatchOptions};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Mutex};
use tokio::time::timeout;

/// etcd's default `--max-txn-ops`: a larger change (a cascade delete of a big load balancer)
/// is written in several transactions.
const MAX_TXN_OPS: usize = 128;
const OP_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Etcd {
    client: Client,
    /// `/fulcrum/NAME/lbaas/`.
    prefix: String,
    /// The revision of the last load: the watch starts after it.
    loaded: AtomicI64,
    /// Revisions this process wrote (their watch events are not news). Locked across each
    /// write until its revision is in, so the watch never sees a write of ours before that.
    own: Arc<Mutex<BTreeSet<i64>>>,
}

/// The key prefix of the API's objects under a cluster prefix (`/fulcrum/NAME/`).
pub fn lbaas_prefix(cluster_prefix: &str) -> String {
    format!("{cluster_prefix}lbaas/")
}

impl Etcd {
    pub fn new(client: Client, cluster_prefix: &str) -> Etcd {
        Etcd {
            client,
            prefix: lbaas_prefix(cluster_prefix),
            loaded: AtomicI64::new(0),
            own: Arc::default(),
        }
    }

    async fn load_now(&self) -> Result<State, String> {
        let mut c = self.client.clone();
        let resp = timeout(
            OP_TIMEOUT,
            c.get(self.prefix.as_str(), Some(GetOptions::new().with_prefix())),
        )
        .await
        .map_err(|_| "api store: etcd read timed out".to_string())?
        .map_err(|e| format!("api store: etcd read: {e}"))?;
        let mut state = State::default();
        for kv in resp.kvs() {
            let key = kv.key_str().map_err(|e| e.to_string())?;
            let Some(rest) = key.strip_prefix(&self.prefix) else {
                continue;
            };
            let value = kv.value_str().map_err(|e| e.to_string())?;
            decode(&mut state, rest, value)?;
        }
        if let Some(h) = resp.header() {
            self.loaded.fetch_max(h.revision(), Ordering::SeqCst);
        }
        Ok(state)
    }

    async fn commit_now(&self, writes: Vec<Write>) -> Result<(), String> {
        for chunk in writes.chunks(MAX_TXN_OPS) {
            let ops: Vec<TxnOp> = chunk
                .iter()
                .map(|(key, value)| {
                    let key = format!("{}{key}", self.prefix);
                    match value {
                        Some(text) => TxnOp::put(key, text.as_str(), None),
                        None => TxnOp::delete(key, None),
                    }
                })
                .collect();
            let mut c = self.client.clone();
            let mut own = self.own.lock().await;
            let resp = timeout(OP_TIMEOUT, c.txn(Txn::new().and_then(ops)))
                .await
                .map_err(|_| "etcd write timed out".to_string())?
                .map_err(|e| format!("etcd write: {e}"))?;
            if let Some(h) = resp.header() {
                own.insert(h.revision());
            }
        }
        Ok(())
    }
}

impl Store for Etcd {
    fn load(&self) -> BoxFuture<'_, Result<State, String>> {
        Box::pin(self.load_now())
    }
    fn commit(&self, writes: Vec<Write>) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(self.commit_now(writes))
    }
    fn watch(&self) -> Option<mpsc::UnboundedReceiver<()>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let from = self.loaded.load(Ordering::SeqCst) + 1;
        tokio::spawn(follow(
            self.client.clone(),
            self.prefix.clone(),
            from,
            self.own.clone(),
            tx,
        ));
        Some(rx)
    }
}

/// Watches the prefix from revision `from` (again after any error, from the last revision
/// seen) and signals each batch of events some other writer made. Ends when nobody listens.
async fn follow(
    mut client: Client,
    prefix: String,
    mut from: i64,
    own: Arc<Mutex<BTreeSet<i64>>>,
    tx: mpsc::UnboundedSender<()>,
) {
    let retry = Duration::from_millis(500);
    // Logged once per outage, not at every retry.
    let mut failing = false;
    while !tx.is_closed() {
        let opts = WatchOptions::new().with_prefix().with_start_revision(from);
        let (_watcher, mut stream) = match client.watch(prefix.as_str(), Some(opts)).await {
            Ok(w) => w,
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!("api store: etcd watch: {e} (retrying)");
                }
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        if std::mem::take(&mut failing) {
            tracing::info!("api store: etcd watch resumed at revision {from}");
        }
        loop {
            let resp = match stream.message().await {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("api store: etcd watch: {e}");
                    break;
                }
            };
            if resp.compact_revision() > 0 {
                // History gone: read everything again from now on.
                from = resp.compact_revision();
                let _ = tx.send(());
                break;
            }
            if resp.canceled() {
                break;
            }
            let mut news = false;
            {
                let mut o = own.lock().await;
                for ev in resp.events() {
                    let Some(kv) = ev.kv() else { continue };
                    // Every event of one transaction carries its revision (deletes too).
                    let rev = kv.mod_revision();
                    from = from.max(rev + 1);
                    news |= !o.contains(&rev);
                }
                // Revisions the watch has passed are never seen again.
                o.retain(|r| *r >= from);
            }
            if news && tx.send(()).is_err() {
                return;
            }
        }
        tokio::time::sleep(retry).await;
    }
}
