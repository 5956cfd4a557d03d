//! What holds an accept loop back besides the global and frontend `maxconn`: the bind's own
//! `maxconn` (connections this listener holds at once) and the process's accept rates
//! (`maxconnrate`, `maxsessrate`, and `maxsslrate` for `ssl` listeners). HAProxy's listeners
//! stop accepting at a limit; fulcrum's workers each accept on a socket of their own, so a
//! worker waits for these limits right after `accept()`, before the connection is counted or
//! read (a client sees the same wait; nothing is read from it meanwhile). The rates use `rate_limit`'s one-second sliding counter
//! (HAProxy's `freq_ctr`). fulcrum makes a session of every accepted connection, so
//! `maxsessrate` counts what `maxconnrate` counts (HAProxy leaves out connections
//! `tcp-request connection` rejects); `maxsslrate` counts connections to `ssl` listeners
//! (HAProxy counts TLS handshakes).

use crate::rate_limit::SessionRate;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The process's accept rates, shared by every listener (built once at start, as HAProxy
/// reads them once).
#[derive(Debug, Default, Clone)]
pub struct Rates {
    pub conn: Option<Arc<SessionRate>>,
    pub sess: Option<Arc<SessionRate>>,
    pub ssl: Option<Arc<SessionRate>>,
}

impl Rates {
    pub fn new(l: &fulcrum_config::model_limits::GlobalLimits) -> Rates {
        let rate = |n: Option<u32>| n.map(|n| Arc::new(SessionRate::new(n)));
        Rates {
            conn: rate(l.maxconnrate),
            sess: rate(l.maxsessrate),
            ssl: rate(l.maxsslrate),
        }
    }
}

/// One listener's limits.
#[derive(Debug, Default, Clone)]
pub struct AcceptLimits {
    /// `bind ... maxconn N`.
    pub maxconn: Option<Arc<Semaphore>>,
    /// The rates that apply to this listener (`ssl` only on `ssl` binds).
    pub rates: Vec<Arc<SessionRate>>,
}

impl AcceptLimits {
    pub fn new(b: &fulcrum_config::model::Bind, rates: &Rates) -> AcceptLimits {
        let mut all: Vec<Arc<SessionRate>> =
            rates.conn.iter().chain(&rates.sess).cloned().collect();
        if b.ssl {
            all.extend(rates.ssl.iter().cloned());
        }
        AcceptLimits {
            maxconn: b
                .limits
                .maxconn
                .map(|n| Arc::new(Semaphore::new(n as usize))),
            rates: all,
        }
    }

    /// Waits until the listener may accept one more connection; the permit is held for the
    /// connection's life.
    pub async fn admit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let permit = match &self.maxconn {
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        for r in &self.rates {
            crate::rate_limit::wait(r).await;
        }
        permit
    }
}
