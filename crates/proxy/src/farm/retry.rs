//! Getting a connection for a request: assign a server, then connect with `retries` and
//! `option redispatch`. A refused connection moves at once to another server that can take the
//! request (nothing listens on the refused one) when the request may move (`option
//! redispatch`, or nothing ties it to that server); otherwise the same server is retried after
//! HAProxy's turn-around delay, and with `option redispatch` the last retry moves. A request a
//! server failed after the connection (the HTTP session's replays, a TCP opening reset) comes
//! back through [`Farm::connect_avoiding`].

use super::{Assigned, ConnectFailure, Farm, Hints, NoServer, Origin, Retries};
use crate::connect::ServerConn;
use crate::counters::Ctr;
use crate::server::ServerRt;
use fulcrum_config::model::Balance;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl<P> Farm<P> {
    /// Assigns a server and opens a connection to it, with retries and redispatch.
    /// `reuse` may supply an idle connection for the chosen server (tried first).
    pub async fn connect(
        self: &Arc<Self>,
        hints: &Hints<'_>,
        dst: SocketAddr,
        reuse: impl FnMut(&ServerRt) -> Option<ServerConn>,
        waited: &mut Duration,
    ) -> ConnectResult<P> {
        self.connect_avoiding(hints, dst, None, reuse, waited).await
    }

    /// Whether another usable server than `failed` could take a request now.
    fn another_usable(&self, failed: usize) -> bool {
        self.group()
            .iter()
            .any(|c| c.index != failed && self.servers[c.index].has_room())
    }

    /// Whether a request may leave the server it was given at once: always with `option
    /// redispatch`; without it only when nothing ties it to that server (no persistence, no
    /// hash balancing), since then another server is what balancing would have chosen anyway.
    fn may_move(&self, hints: &Hints<'_>) -> bool {
        self.options.redispatch || (hints.prefer.is_none() && !hash_balanced(&self.balance))
    }

    /// [`Farm::connect`] for a request that `avoid` just failed (a server that closed without
    /// answering): balanced elsewhere when another server can take it.
    pub async fn connect_avoiding(
        self: &Arc<Self>,
        hints: &Hints<'_>,
        dst: SocketAddr,
        avoid: Option<usize>,
        mut reuse: impl FnMut(&ServerRt) -> Option<ServerConn>,
        waited: &mut Duration,
    ) -> ConnectResult<P> {
        let t0 = Instant::now();
        let assigned = self
            .assign_for(hints, avoid, avoid.is_none())
            .await
            .map_err(|why| NoConnection::new(why, None, Retries::default()))?;
        *waited = t0.elapsed();
        match self.settle_now(assigned, hints, &mut reuse) {
            Settled::Done(r) => r,
            Settled::Open(a, tried) => self.open_for(a, hints, dst, &mut reuse, tried).await,
        }
    }

    /// [`Farm::connect`] when it needs no waiting, the usual keep-alive request: no
    /// persistence preference, nobody queued, a server with room picked at once, and `reuse`
    /// gives an idle connection to it (no future is built for the connect, its retries and
    /// timers). `None`: nothing was taken, [`Farm::connect`] does all; [`Settled::Open`]: a
    /// server is assigned, [`Farm::open_for`] connects to it.
    pub fn connect_now(
        self: &Arc<Self>,
        hints: &Hints<'_>,
        reuse: &mut impl FnMut(&ServerRt) -> Option<ServerConn>,
    ) -> Option<Settled<P>> {
        if hints.prefer.is_some() || self.queue.len() > 0 {
            return None;
        }
        let index = self.try_pick(hints, None).ok().flatten()?;
        let assigned = self.assigned(index, true);
        Some(self.settle_now(assigned, hints, reuse))
    }

    /// What an assigned server gives without waiting: a `redir` answer, an HTTP/2 server's
    /// shared connection with room, or an idle connection `reuse` supplies; else
    /// [`Settled::Open`] (an HTTP/2 server's connection is looked up again after the turn
    /// `open_for` may wait for).
    fn settle_now(
        &self,
        assigned: Assigned<P>,
        hints: &Hints<'_>,
        reuse: &mut impl FnMut(&ServerRt) -> Option<ServerConn>,
    ) -> Settled<P> {
        // `redir PREFIX`: no connection, the HTTP session answers (HAProxy counts the session)
        if hints.redirect && assigned.server().limits.redir().is_some() {
            let srv = assigned.server().clone();
            return Settled::Done(Err(NoConnection::new(
                NoServer::Redirect,
                Some(srv),
                Retries::default(),
            )));
        }
        if assigned.server().h2_mode() != crate::server::H2Mode::Never {
            // An open HTTP/2 connection with room for another stream carries it without the
            // turn ([`Farm::open_for`]'s first look, here so the usual request waits for nothing).
            if let Some(c) = crate::connect::h2::shared(assigned.server().id) {
                assigned.server().counters.inc(Ctr::Reuse);
                self.counters.inc(Ctr::Reuse);
                return Settled::Done(Ok((assigned, ServerConn::H2(c), Origin::Reused)));
            }
            return Settled::Open(assigned, false);
        }
        match self.reused(&assigned, hints, reuse) {
            Some(s) => Settled::Done(Ok((assigned, s, Origin::Reused))),
            None => Settled::Open(assigned, true),
        }
    }

    /// An idle connection `reuse` supplies for the assigned server, counted as a reuse.
    fn reused(
        &self,
        assigned: &Assigned<P>,
        hints: &Hints<'_>,
        reuse: &mut impl FnMut(&ServerRt) -> Option<ServerConn>,
    ) -> Option<ServerConn> {
        // `sni EXPR`: an idle connection opened for another SNI does not serve this request
        // (closed; HAProxy keys its idle connections by SNI too).
        let dynamic_sni = assigned.server().tls().is_some_and(|t| t.sni.is_some());
        let sni = dynamic_sni
            .then(|| hints.sni_for(assigned.server()))
            .flatten();
        let s = reuse(assigned.server()).filter(|c| !dynamic_sni || same_sni(c, &sni))?;
        assigned.server().counters.inc(Ctr::Reuse);
        self.counters.inc(Ctr::Reuse);
        Some(s)
    }

    /// Connects to an assigned server (`reuse` already asked when `tried`), with retries and
    /// redispatch.
    pub async fn open_for(
        self: &Arc<Self>,
        mut assigned: Assigned<P>,
        hints: &Hints<'_>,
        dst: SocketAddr,
        reuse: &mut impl FnMut(&ServerRt) -> Option<ServerConn>,
        tried: bool,
    ) -> ConnectResult<P> {
        // HTTP/2 servers: an open connection with room for another stream carries the request
        // (HAProxy's available connections, shared by every session in any `http-reuse`
        // mode but `never`).
        // Requests arriving together wait for the first connection rather than opening one
        // each (held until this request has its connection).
        // A connection with room is taken without the turn (the common case: no lock to
        // wait on per request).
        let (id, mode) = (assigned.server().id, assigned.server().h2_mode());
        let mut shared = (mode != crate::server::H2Mode::Never)
            .then(|| crate::connect::h2::shared(id))
            .flatten();
        // Held until this request has its connection.
        let turn = match mode {
            _ if shared.is_some() => None,
            crate::server::H2Mode::Always => Some(crate::connect::h2::open_turn(id).await),
            crate::server::H2Mode::Alpn if crate::connect::h2::spoke_h2(id) => {
                Some(crate::connect::h2::open_turn(id).await)
            }
            _ => None,
        };
        if turn.is_some() {
            // The connection another request opened while this one waited for the turn.
            shared = crate::connect::h2::shared(id);
        }
        // (`tried`: `reuse` was asked already, and the server speaks no HTTP/2)
        if !tried {
            if let Some(s) = shared.map(ServerConn::H2) {
                assigned.server().counters.inc(Ctr::Reuse);
                self.counters.inc(Ctr::Reuse);
                return Ok((assigned, s, Origin::Reused));
            }
            if let Some(s) = self.reused(&assigned, hints, reuse) {
                return Ok((assigned, s, Origin::Reused));
            }
        }
        let (mut attempt, mut retries) = (0u32, Retries::default());
        loop {
            let sni = hints.sni_for(assigned.server());
            let failure = match self.attempt(assigned.server(), dst, sni.as_deref()).await {
                Ok(s) => {
                    assigned.retries = retries;
                    return Ok((assigned, s, Origin::Fresh));
                }
                Err(f) => f,
            };
            if attempt >= self.retries {
                let srv = assigned.server().clone();
                let why = NoServer::ConnectFailed(failure);
                return Err(NoConnection::new(why, Some(srv), retries));
            }
            attempt += 1;
            retries.one_more();
            // A refused connection means nothing listens there: when another server can take
            // the request it moves now, with no turn-around delay (HAProxy waits up to 1 s and
            // retries the same server). A timed-out connect already cost `timeout connect`.
            let move_now = failure == ConnectFailure::Refused
                && self.may_move(hints)
                && self.another_usable(assigned.index);
            let redispatch = move_now
                || (self.options.redispatch && attempt == self.retries && self.servers.len() > 1);
            if redispatch {
                let failed = assigned.server().clone();
                let index = assigned.index;
                drop(assigned);
                let next = self.assign_for(hints, Some(index), false).await;
                // HAProxy counts a redispatch on the server left when the new assignment is
                // another server (and marks the stream redispatched), else a retry.
                let moved = next.as_ref().map_or(true, |a| a.index != index);
                self.count_retry(&failed, moved);
                retries.redispatched |= moved;
                assigned = next.map_err(|why| NoConnection::new(why, None, retries))?;
            } else {
                self.count_retry(assigned.server(), false);
                if failure == ConnectFailure::Refused {
                    // HAProxy's turn-around: give a restarting server a moment before
                    // retrying (only when no other server can take the request).
                    let pause = self
                        .timeouts
                        .connect
                        .unwrap_or(Duration::from_secs(1))
                        .min(Duration::from_secs(1));
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Counts a connection retry on `server` and the backend: `wredis` when it moved the
    /// request to another server, else `wretr` (also after a `retry-on` retry's new
    /// assignment: `retry_on::count_reassign`).
    pub(crate) fn count_retry(&self, server: &ServerRt, moved: bool) {
        let kind = if moved {
            Ctr::Redispatches
        } else {
            Ctr::Retries
        };
        server.counters.inc(kind);
        self.counters.inc(kind);
    }
}

/// How far [`Farm::connect_now`] got without waiting.
pub enum Settled<P> {
    /// The outcome: an idle connection to the assigned server, or an answer (`redir`).
    Done(ConnectResult<P>),
    /// A server assigned, a connection still to open ([`Farm::open_for`]); whether `reuse`
    /// was asked already.
    Open(Assigned<P>, bool),
}

/// What connecting a request gives: its server (with the retries it took), the connection
/// and where it came from, or why there is none.
pub type ConnectResult<P> = Result<(Assigned<P>, ServerConn, Origin), NoConnection>;

/// Why a request got no server connection, the server it was for (if any), and the
/// connection retries it made before giving up (`%rc` on its `SC` line).
pub struct NoConnection {
    pub why: NoServer,
    pub server: Option<Arc<ServerRt>>,
    pub retries: Retries,
}

impl NoConnection {
    fn new(why: NoServer, server: Option<Arc<ServerRt>>, retries: Retries) -> Self {
        NoConnection {
            why,
            server,
            retries,
        }
    }
}

/// Whether idle connection `c` was opened with SNI `sni`.
fn same_sni(c: &ServerConn, sni: &Option<String>) -> bool {
    match c {
        ServerConn::Tls(t) => t.info().sni.as_deref() == sni.as_deref(),
        _ => sni.is_none(),
    }
}

/// Whether `balance` maps a request to a server by a hash of the request (source, URI, header,
/// ...), which moving a request to another server would break.
fn hash_balanced(b: &Balance) -> bool {
    !matches!(
        b,
        Balance::Roundrobin
            | Balance::StaticRr
            | Balance::Leastconn
            | Balance::First
            | Balance::Random { .. }
    )
}
