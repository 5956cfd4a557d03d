//! `tcp-request content switch-mode http`: a `mode tcp` frontend's stream made HTTP by its
//! content rules (HAProxy 2.6's stream upgrade). The TCP session (`tcp`) stops after its
//! frontend's content rules and hands back an [`Upgrade`]: the client connection, and the
//! bytes inspection already read from it (`tcp-request inspect-delay`). The HTTP/1 session
//! (`http::session::serve_upgraded`) then serves the connection as if an HTTP frontend had
//! accepted it, those bytes first in its request buffer (nothing lost, nothing read twice):
//! the frontend's `tcp-request content` and `http-request` rules for each request, routing
//! to `mode http` backends, one log line per request, keep-alive. The client stream is the
//! original socket, so an idle switched connection parks (`park`) as any other.
//!
//! A `mode tcp` frontend routing to a `mode http` backend upgrades the same way once routed
//! (HAProxy 2.6's implicit upgrade: its HTTP rules then run too, whatever its warning says).

use crate::counters::SessionGuard;
use bytes::BytesMut;
use std::net::SocketAddr;

/// A TCP stream made HTTP, for the HTTP session.
pub struct Upgrade<C> {
    pub client: C,
    /// What the content rules inspected: the start of the first request.
    pub kept: BytesMut,
    /// (client, local) addresses, as the content rules left them.
    pub addrs: (SocketAddr, SocketAddr),
    /// The frontend's session count, taken at the accept (one session, not two).
    pub counted: SessionGuard,
    /// The accept: the first request's `timeout http-request` and log clock run from here.
    pub accepted: tokio::time::Instant,
}
