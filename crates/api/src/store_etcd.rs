//! The API's store in etcd (cluster mode): every object as one JSON value under
//! `PREFIX lbaas/KIND/ID` (PREFIX = the cluster's `/fulcrum/NAME/`), one accepted change
//! written in one etcd transaction, so every node reads the same load balancers with the same
//! ids. Each transaction is a compare-and-swap: it writes only if every key it touches still
//! has the mod_revision this node last read or wrote (a new key: does not exist yet), so two
//! nodes changing one object at once cannot both win; the loser gets `StoreError::Conflict`
//! and nothing of its change is written. A watch on the prefix tells the API of changes other nodes wrote (`watch`), which it
//! reloads and applies through the same in-process reload.
//!
//! The client comes from the caller (the cluster crate builds it from the `cluster` section:
//! endpoints, TLS, user).

use crate::state::State;
use crate::store::{decode, BoxFuture, Store, StoreError, Write};
use etcd_client::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp, WatchOptions};
use std::collections::BTreeSet;
use std::collections::HashMap;
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
    /// `KIND/ID` → the mod_revision this node last read or wrote (the compare of each write).
    revs: std::sync::Mutex<HashMap<String, i64>>,
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
            revs: std::sync::Mutex::default(),
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
        let mut revs = HashMap::new();
        for kv in resp.kvs() {
            let key = kv.key_str().map_err(|e| e.to_string())?;
            let Some(rest) = key.strip_prefix(&self.prefix) else {
                continue;
            };
            let value = kv.value_str().map_err(|e| e.to_string())?;
            decode(&mut state, rest, value)?;
            revs.insert(rest.to_string(), kv.mod_revision());
        }
        *self.revs_lock() = revs;
        if let Some(h) = resp.header() {
            self.loaded.fetch_max(h.revision(), Ordering::SeqCst);
        }
        Ok(state)
    }

    fn revs_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.revs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The compare of each key: unchanged since this node saw it, or still absent.
    fn compares(&self, chunk: &[Write]) -> Vec<Compare> {
        let revs = self.revs_lock();
        chunk
            .iter()
            .map(|(key, _)| {
                let full = format!("{}{key}", self.prefix);
                match revs.get(key) {
                    Some(rev) => Compare::mod_revision(full, CompareOp::Equal, *rev),
                    None => Compare::create_revision(full, CompareOp::Equal, 0),
                }
            })
            .collect()
    }

    async fn commit_now(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        // A change over MAX_TXN_OPS keys (a cascade delete of a very large load balancer) is
        // compared and written chunk by chunk: atomic per chunk only.
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
            let txn = Txn::new().when(self.compares(chunk)).and_then(ops);
            let mut c = self.client.clone();
            let mut own = self.own.lock().await;
            let resp = timeout(OP_TIMEOUT, c.txn(txn))
                .await
                .map_err(|_| "etcd write timed out".to_string())?
                .map_err(|e| format!("etcd write: {e}"))?;
            if !resp.succeeded() {
                return Err(StoreError::Conflict);
            }
            if let Some(h) = resp.header() {
                own.insert(h.revision());
                let mut revs = self.revs_lock();
                for (key, value) in chunk {
                    match value {
                        Some(_) => revs.insert(key.clone(), h.revision()),
                        None => revs.remove(key),
                    };
                }
            }
        }
        Ok(())
    }
}

impl Store for Etcd {
    fn load(&self) -> BoxFuture<'_, Result<State, String>> {
        Box::pin(self.load_now())
    }
    fn commit(&self, writes: Vec<Write>) -> BoxFuture<'_, Result<(), StoreError>> {
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
