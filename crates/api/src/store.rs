//! Where the API's state is persisted, behind one small trait (`Store`) with two
//! implementations: the embedded redb database (`store_embedded.rs`, the default, or memory
//! only without `store PATH`) and etcd (`store_etcd.rs`, when the config has a `cluster`
//! section), so every node of a cluster serves the same load balancers.
//!
//! Both keep every object as one JSON value under `KIND/ID`, and write one accepted change
//! (every object it touched) in one transaction before the API answers.

use crate::state::{Obj, State, KINDS};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::mpsc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One key written: `KIND/ID` and its JSON text, or `None` to remove it.
pub type Write = (String, Option<String>);

/// The 409 answered when a change lost a compare-and-swap and its retries.
pub const CONFLICT: &str =
    "Another API node changed the same objects at the same time; this change was not made. Retry it.";

/// Why a change was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Another node wrote one of the keys since this node read it (etcd compare-and-swap on
    /// each key's mod_revision): nothing of the change was written; reload and retry.
    Conflict,
    Failed(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Conflict => write!(f, "another node changed the same object meanwhile"),
            StoreError::Failed(e) => f.write_str(e),
        }
    }
}

impl From<String> for StoreError {
    fn from(e: String) -> Self {
        StoreError::Failed(e)
    }
}

pub trait Store: Send + Sync {
    /// Everything stored, as the in-memory state.
    fn load(&self) -> BoxFuture<'_, Result<State, String>>;
    /// Writes every key of one change in one transaction; with several writers (etcd), only if
    /// no key changed since this node last read or wrote it (else `StoreError::Conflict`).
    fn commit(&self, writes: Vec<Write>) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Signals a change written by someone else (another node); `None` when nobody else
    /// writes this store. Called once, when the API starts.
    fn watch(&self) -> Option<mpsc::UnboundedReceiver<()>> {
        None
    }
}

impl dyn Store {
    /// Writes (or removes, when gone from `state`) each changed object in one transaction.
    pub async fn save(
        &self,
        state: &State,
        changed: &[(String, String)],
    ) -> Result<(), StoreError> {
        if changed.is_empty() {
            return Ok(());
        }
        self.commit(writes(state, changed)?).await
    }
}

/// The keys and values of the changed objects, each key once (etcd refuses a transaction
/// naming a key twice).
pub fn writes(state: &State, changed: &[(String, String)]) -> Result<Vec<Write>, String> {
    let mut seen = std::collections::BTreeSet::new();
    changed
        .iter()
        .filter(|k| seen.insert(*k))
        .map(|(kind, id)| {
            let value = match state.get(kind, id) {
                Some(obj) => Some(serde_json::to_string(obj).map_err(|e| e.to_string())?),
                None => None,
            };
            Ok((format!("{kind}/{id}"), value))
        })
        .collect()
}

/// Adds one stored key/value to `state` (keys of unknown kinds are skipped).
pub fn decode(state: &mut State, key: &str, value: &str) -> Result<(), String> {
    let Some((kind, id)) = key.split_once('/') else {
        return Ok(());
    };
    if !KINDS.contains(&kind) {
        return Ok(());
    }
    let obj: Obj = serde_json::from_str(value)
        .map_err(|e| format!("api store: object {key} is not valid JSON: {e}"))?;
    state.insert(kind, id, obj);
    Ok(())
}

/// State in memory only (no `store PATH`, no cluster).
pub struct Memory;

impl Store for Memory {
    fn load(&self) -> BoxFuture<'_, Result<State, String>> {
        Box::pin(async { Ok(State::default()) })
    }
    fn commit(&self, _: Vec<Write>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_decode_round_trip() {
        let mut st = State::default();
        let mut o = Obj::new();
        o.insert("id".into(), "a".into());
        st.insert("pool", "a", o);
        let w = writes(
            &st,
            &[("pool".into(), "a".into()), ("pool".into(), "gone".into())],
        )
        .expect("writes");
        assert_eq!(w[0].0, "pool/a");
        assert_eq!(w[1], ("pool/gone".to_string(), None));
        let mut back = State::default();
        decode(&mut back, &w[0].0, w[0].1.as_deref().unwrap_or("")).expect("decode");
        decode(&mut back, "other/x", "not json").expect("unknown kind skipped");
        assert_eq!(back.get("pool", "a"), st.get("pool", "a"));
        assert!(decode(&mut back, "pool/b", "{").is_err());
    }
}
