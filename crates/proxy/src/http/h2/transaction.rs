//! One HTTP/2 stream as one transaction: the stream becomes the HTTP session's client
//! (`edge::H2Edge`: its head handed over as the neutral head, its bodies a source and a sink
//! under HTTP/2 flow control) and the session's phases serve it (`http::session::serve_h2`:
//! rules, route, balancing, persistence, logs, counters), with no HTTP/1 bytes in between.
//! A reset stream (either way) is a failed read or write for the session, as a client going
//! away.

use super::edge::H2Edge;
use crate::state::Frontend;
use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// Serves one stream to completion.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    fe: Arc<Frontend>,
    req: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    peer: SocketAddr,
    local: SocketAddr,
    stop: watch::Receiver<bool>,
    track: Option<Arc<crate::track::Tracking>>,
    tls: Option<Arc<crate::stream::TlsInfo>>,
) {
    if req.method() == http::Method::CONNECT {
        // Tunnels over HTTP/2 are not done: the client is told to use HTTP/1.1 for it.
        respond.send_reset(h2::Reason::HTTP_1_1_REQUIRED);
        return;
    }
    let edge = H2Edge::new(req, respond, tls);
    crate::http::session::serve_h2(fe, edge, peer, local, stop, track).await;
}
