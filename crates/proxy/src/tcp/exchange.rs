//! A TCP session's last phases: the byte exchange (`tunnel`), then counting and logging. What
//! they need is all [`Exchange`] holds: the session's future is this state and the tunnel's
//! while the connection lives (idle most of the time), not the larger one of the phases
//! before it (`serve`, `size_tests`).

use super::session::Session;
use super::Done;
use crate::backend::{Assigned, Backend};
use crate::buf_pool::Lent;
use crate::connect::ServerConn;
use crate::counters::SessionGuard;
use crate::farm::Retries;
use crate::stream::ClientStream;
use crate::switch_mode::Upgrade;
use crate::termination::Termination;
use crate::tunnel::{tunnel, Side, Tunnel, TunnelEnd};
use std::sync::Arc;
use std::time::Duration;

/// A session connected to a server, ready to exchange bytes.
pub(super) struct Exchange<C> {
    pub ses: Session,
    /// The frontend's session count (`scur`) until the line is logged.
    pub counted: SessionGuard,
    pub client: C,
    pub server: ServerConn,
    pub assigned: Assigned,
    pub be: Arc<Backend>,
    pub tunnel: Tunnel,
    /// The server's first bytes, forwarded first.
    pub shown: Lent,
    /// Client bytes the opening sent before the exchange.
    pub sent: u64,
    /// `%Tw`, `%Tc`, `%rc`
    pub waited: Duration,
    pub tc: Duration,
    pub retries: Retries,
    /// How an idle timeout ends it (`idle_limit`).
    pub idle_end: Termination,
}

impl<C: ClientStream> Exchange<C> {
    /// Exchanges bytes until both sides are done, then counts and logs the session.
    ///
    /// An `async` block, not an `async fn`: the function's future would hold `self` twice (as
    /// its argument, and as the local the body binds it to), the block holds it once, used
    /// in place (its fields are not bound to locals before the last await either).
    #[allow(clippy::manual_async_fn)] // the `async fn` it suggests holds `self` twice
    pub fn run(mut self) -> impl std::future::Future<Output = Option<Upgrade<C>>> {
        async move {
            let none = Lent::default();
            let shown = std::mem::take(&mut self.shown);
            let t = &self.tunnel;
            // Compiled once per kind of server connection (TCP, unix, TLS). Those but TCP are
            // boxed: their tunnels (copies through split halves, a peek) are larger than the
            // plain TCP one, which sets this future's size alone (a TLS session's state is some
            // KB anyway, unix servers are rare).
            let (up, down, end) = match &mut self.server {
                ServerConn::Tcp(s) => tunnel(&mut self.client, none, s, shown, t).await,
                ServerConn::Unix(s) => Box::pin(tunnel(&mut self.client, none, s, shown, t)).await,
                ServerConn::Tls(s) => {
                    Box::pin(tunnel(&mut self.client, none, &mut **s, shown, t)).await
                }
                ServerConn::H2(_) => (0, 0, TunnelEnd::Error(Side::Server)),
            };
            let Exchange {
                ses,
                counted,
                assigned,
                be,
                sent,
                waited,
                tc,
                retries,
                idle_end,
                ..
            } = self;
            let up = up + sent;
            if let Some(t) = &ses.track {
                t.bytes(up, down);
            }
            let term = match end {
                TunnelEnd::Timeout => idle_end,
                end => end.termination(),
            };
            // Phase: count and log.
            let srv = assigned.server().clone();
            crate::record::tcp(
                &ses.fe.counters,
                Some(&be.counters),
                Some(&srv.counters),
                up,
                down,
                term,
                Some(waited),
                Some(tc),
                ses.accepted.elapsed(),
            );
            drop(assigned);
            ses.log_end(&Done {
                backend: Some(&be),
                server: Some(&srv),
                queue: Some(waited),
                connect: Some(tc),
                bytes: down,
                bytes_in: up,
                term,
                retries,
            });
            drop(counted);
            None
        }
    }
}
