//! Applets: answers the proxy makes itself instead of forwarding to a server, the way HAProxy
//! serves its stats page and its `prometheus-exporter` service.
//!
//! The data plane only knows this interface; the pages themselves live above it (the
//! `fulcrum-stats` crate implements [`Services`]). A session calls an applet from one named
//! phase (see `http::session`): after the frontend's or the backend's `http-request` rules,
//! either because a rule said `use-service NAME` or because the request is for a proxy's
//! `stats uri`. Names resolve when the configuration is compiled, so an unknown service is a
//! configuration error, never a surprise at request time ([`crate::state::Services`]).
//!
//! Dynamic dispatch here is deliberate: an applet is called once per administrative request,
//! never per byte, and it keeps the data plane free of the pages' code.

use crate::acl::Ctx;
use crate::http::message::Message;
use crate::http::response::Response;

/// What an applet sees of the request (protocol-neutral: method, target, headers, body).
pub struct AppletRequest<'a> {
    pub method: &'a [u8],
    /// The request target (path and query) as written.
    pub uri: &'a [u8],
    /// The request head, for headers such as `authorization`.
    pub head: &'a Message,
    /// The body, when [`Applet::wants_body`] said so (at most [`MAX_BODY`] bytes).
    pub body: &'a [u8],
    /// The request's ACL context (conditions such as `stats admin if ...`).
    pub ctx: &'a Ctx<'a>,
}

/// The largest body a session reads for an applet.
pub const MAX_BODY: u64 = 64 * 1024;

/// An applet's answer: a neutral response the client's codec encodes (HTTP/1 or HTTP/2).
pub type Answer = Response;

/// An answer the proxy serves itself.
pub trait Applet: Send + Sync {
    /// The service name (`use-service NAME`) or what the applet is (logs, debugging).
    fn name(&self) -> &str;
    /// How the log line's server field names the applet when it answers, as HAProxy's
    /// (`<STATS>` for the stats page, `<PROMEX>` for the Prometheus exporter).
    fn log_name(&self) -> &'static str;
    /// Whether this request is for the applet (a `stats uri` prefix); always for a service
    /// chosen by `use-service`.
    fn matches(&self, _req: &Message) -> bool {
        true
    }
    /// Whether the session reads the request body (up to [`MAX_BODY`]) before answering.
    fn wants_body(&self) -> bool {
        false
    }
    /// The answer.
    fn answer(&self, req: &AppletRequest<'_>) -> Answer;
}

impl std::fmt::Debug for dyn Applet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "applet {}", self.name())
    }
}
