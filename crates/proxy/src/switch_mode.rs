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
//!
//! `switch-mode http proto h2` hands the connection to the HTTP/2 server instead, the
//! inspected bytes (the client preface) replayed first, the session counted once: as
//! HAProxy's destructive upgrade to H2 ends the TCP stream (its tracked entries and
//! transaction variables go) and each HTTP/2 stream then runs the frontend's content rules,
//! the first one too.
//!
//! The frontend's `tcp-request content` rules ran once for the stream before it was made
//! HTTP: HAProxy's stream goes on as the first request's, so they are not run again for it
//! ([`Inspected`]: what they left for it); each later request runs them, as HAProxy's new
//! stream per request does. Entries they tracked are the first request's (released when it
//! ends, tracked again by the next one's rules).

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
    /// `%Th`: the PROXY header and TLS handshake before the session.
    pub handshake: std::time::Duration,
    /// What the frontend's content rules left for the first request.
    pub inspected: Inspected,
    /// `switch-mode http proto h2`: the connection speaks HTTP/2 with prior knowledge
    /// (`http::h2::serve_upgraded`).
    pub h2: bool,
}

/// What the frontend's `tcp-request content` rules left for the first request of a stream
/// made HTTP (they are not run again for it): its `capture` slots, `set-priority-*`,
/// `set-log-level` (the addresses `set-src`/`set-dst` moved are [`Upgrade::addrs`]).
#[derive(Default)]
pub struct Inspected {
    pub captures: Option<crate::http::capture::Samples>,
    pub priority: Option<(i32, i32)>,
    pub level: Option<u8>,
}
