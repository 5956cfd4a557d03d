//! Passive health's entry point on the data plane: what the proxy saw while talking to a
//! server (`observe layer4|layer7`), handed to whoever judges it (the health engine, wired by
//! the binary's supervisor through `ProxyHandle::set_observer`).
//!
//! Costs nothing unless the server has `observe` (one relaxed atomic load) and a sink is set.

use std::sync::{Arc, RwLock};

/// One event seen on a real client request to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerEvent {
    /// The TCP connection to the server was established.
    ConnectOk,
    /// Connecting failed (refused, reset) or `timeout connect` struck.
    ConnectFailed { timeout: bool },
    /// A complete final response head with this status arrived.
    HttpStatus(u16),
    /// The response head could not be parsed (or was too large).
    HttpInvalid,
    /// Reading the response failed.
    HttpReadError,
    /// `timeout server` struck while waiting for the response head.
    HttpReadTimeout,
    /// The server closed before a complete response head.
    HttpBrokenPipe,
}

/// Receives observations; called from every worker thread, so it must be cheap and not block.
pub trait ObservationSink: Send + Sync {
    fn observe(&self, backend: &str, server: &str, event: ServerEvent);
}

/// The sink shared by every backend of a runtime, across reloads.
#[derive(Default)]
pub struct SinkSlot(RwLock<Option<Arc<dyn ObservationSink>>>);

impl SinkSlot {
    pub fn set(&self, sink: Option<Arc<dyn ObservationSink>>) {
        match self.0.write() {
            Ok(mut g) => *g = sink,
            Err(p) => *p.into_inner() = sink,
        }
    }
    pub fn get(&self) -> Option<Arc<dyn ObservationSink>> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Rec(Mutex<Vec<(String, String, ServerEvent)>>);
    impl ObservationSink for Rec {
        fn observe(&self, backend: &str, server: &str, event: ServerEvent) {
            if let Ok(mut v) = self.0.lock() {
                v.push((backend.into(), server.into(), event));
            }
        }
    }

    #[test]
    fn slot_forwards_to_the_sink_once_set() {
        let slot = SinkSlot::default();
        assert!(slot.get().is_none());
        let rec = Arc::new(Rec(Mutex::new(Vec::new())));
        slot.set(Some(rec.clone()));
        if let Some(s) = slot.get() {
            s.observe("be", "s1", ServerEvent::HttpStatus(500));
        }
        slot.set(None);
        assert!(slot.get().is_none());
        let seen = rec.0.lock().map(|v| v.clone()).unwrap_or_default();
        assert_eq!(
            seen,
            vec![(
                "be".to_string(),
                "s1".to_string(),
                ServerEvent::HttpStatus(500)
            )]
        );
    }
}
