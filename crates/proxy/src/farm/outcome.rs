//! How getting a server connection failed, and the termination state (HAProxy's log flags)
//! each failure ends a session with.

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
