//! The farm's side of the servers' `slowstart` and `maxqueue` (see `server/limits.rs`): when
//! a slow start moves, the balancer is rebuilt with the new scales; a request that a
//! persistence sends to a full server with `maxqueue` waits for that server in its own queue
//! (bounded by `timeout queue`, else `timeout connect`), and when `maxqueue` are waiting
//! already it is redispatched (`option redispatch`, not `force-persist`) or answered 503, as
//! HAProxy 2.6's `SRV_STATUS_FULL`.

use super::{Farm, NoServer};
use crate::counters::Ctr;

/// What waiting for a persistent request's server gave.
pub(super) enum Wait {
    /// The server was taken (`served` counts the request).
    Taken,
    /// Its queue is full: balance over the others (redispatch).
    Full,
    /// No server for the request.
    Failed(NoServer),
}

impl<P> Farm<P> {
    /// A server has `redir PREFIX` (HTTP GET/HEAD requests ask the farm about it).
    pub fn has_redir(&self) -> bool {
        self.redir
    }

    /// The servers' slow-start scales, when a server has `slowstart` (else 0: nothing to do).
    pub(super) fn ramp_signature(&self) -> u64 {
        if !self.slowstart {
            return 0;
        }
        self.servers.iter().fold(1u64, |h, s| {
            h.wrapping_mul(31).wrapping_add(u64::from(s.weight_scale()))
        })
    }

    /// Takes server `index` for a request persistence sends to it, waiting in its own queue
    /// when it is full and has `maxqueue`.
    pub(super) async fn wait_for_server(&self, index: usize, force: bool) -> Wait {
        let s = &self.servers[index];
        if s.limits.maxqueue().is_none() || s.has_room() {
            s.take();
            return Wait::Taken;
        }
        let Some(_seat) = s.limits.enter_queue() else {
            if self.options.redispatch && !force {
                return Wait::Full;
            }
            s.counters.inc(Ctr::ErrConn);
            self.counters.inc(Ctr::ErrConn);
            return Wait::Failed(NoServer::Unavailable);
        };
        let limit = self.timeouts.queue.or(self.timeouts.connect);
        let deadline = limit.map(|d| tokio::time::Instant::now() + d);
        loop {
            let freed = s.limits.freed.notified();
            if s.has_room() {
                s.take();
                return Wait::Taken;
            }
            match deadline {
                Some(d) => {
                    if tokio::time::timeout_at(d, freed).await.is_err() {
                        return Wait::Failed(NoServer::QueueTimeout);
                    }
                }
                None => freed.await,
            }
        }
    }
}
