//! fulcrum's data plane: listeners, HTTP/1 and TCP forwarding, balancing (being written).
//!
//! Entry points used by the binary's supervisor: `start` builds the run-time state from the
//! model and opens every `bind`; the handle applies reloads and stops gracefully.

use fulcrum_config::Config;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("{0}")]
    Bind(String),
}

pub struct ProxyHandle {}

/// Opens the listeners of every frontend/listen in `config` and starts serving.
pub async fn start(_config: &Config) -> Result<ProxyHandle, ProxyError> {
    Ok(ProxyHandle {})
}

impl ProxyHandle {
    /// Applies a new, already validated config in place.
    pub async fn reload(&self, _config: &Config) -> Result<(), ProxyError> {
        Ok(())
    }
    /// Stops accepting, lets in-flight requests finish within `grace`, then returns.
    pub async fn shutdown(self, _grace: Duration) {}
}
