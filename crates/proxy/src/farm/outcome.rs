//! How getting a server connection went: the retries it took (`%rc`), why it failed, and the
//! termination state (HAProxy's log flags) each failure ends a session with.

use crate::termination::{Cause, Phase, Termination};

/// Why no server connection could be had; each maps to HAProxy's status and log flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoServer {
    /// No usable server at all (503, `SC`).
    Unavailable,
    /// Queued for longer than `timeout queue` (503, `sQ`).
    QueueTimeout,
    /// Every attempt failed (503, `SC`) or timed out (503, `sC`).
    ConnectFailed(ConnectFailure),
    /// The server assigned has `redir PREFIX` (the HTTP session answers 302, `LC`).
    Redirect,
}

impl NoServer {
    /// The termination state a session ends with when it got no server connection.
    pub fn termination(self) -> Termination {
        match self {
            NoServer::QueueTimeout => Termination::new(Cause::ServerTimeout, Phase::Queue),
            NoServer::ConnectFailed(ConnectFailure::TimedOut) => {
                Termination::new(Cause::ServerTimeout, Phase::Connect)
            }
            NoServer::Unavailable | NoServer::ConnectFailed(ConnectFailure::Refused) => {
                Termination::new(Cause::Server, Phase::Connect)
            }
            NoServer::Redirect => Termination::new(Cause::Local, Phase::Connect),
        }
    }
}

/// How one connection attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Refused, reset, unreachable.
    Refused,
    /// No answer within `timeout connect`.
    TimedOut,
}

/// The connection retries a stream made, as HAProxy 2.6 logs them in `%rc` (the `retries`
/// field of `option httplog` / `tcplog`): failed attempts after the first, and whether the
/// stream was redispatched to another server (HAProxy's `SF_REDISP`, written `+` before the
/// count; it also makes the line an error for `option dontlog-normal`). Four bytes: it rides
/// in every request's state (a count past 65,535 stays there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retries {
    pub count: u16,
    pub redispatched: bool,
}

impl Retries {
    /// Counts one more retry.
    pub fn one_more(&mut self) {
        self.count = self.count.saturating_add(1);
    }

    /// Adds the retries of a later connection of the same stream (a replay, a `retry-on`).
    pub fn add(&mut self, later: Retries) {
        self.count = self.count.saturating_add(later.count);
        self.redispatched |= later.redispatched;
    }
}
