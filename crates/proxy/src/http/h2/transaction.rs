//! One HTTP/2 stream as one transaction: the stream becomes the HTTP session's client
//! (`edge::H2Edge`: its head handed over as the neutral head, its bodies a source and a sink
//! under HTTP/2 flow control) and the session's phases serve it (`http::session::serve_h2`:
//! rules, route, balancing, persistence, logs, counters), with no HTTP/1 bytes in between.
//! A reset stream (either way) is a failed read or write for the session, as a client going
//! away.

use crate::state::Frontend;
use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// `tune.http.maxhdr N` on an HTTP/2 request head: HAProxy 2.6 decodes it into a list of
/// `2 * N` slots, pseudo-header fields included, one kept for the end: a head of `2 * N`
/// fields or more is refused.
pub fn too_many_fields<B>(req: &http::Request<B>, max_headers: usize) -> bool {
    let uri = req.uri();
    let pseudo = 2 + usize::from(uri.scheme().is_some()) + usize::from(uri.authority().is_some());
    req.headers().len() + pseudo >= 2 * max_headers
}

/// Whether stream `req` is refused at once, its reset sent: tunnels over HTTP/2 are not done
/// (the client is told to use HTTP/1.1 for a CONNECT).
pub fn refused<B>(req: &http::Request<B>, respond: &mut SendResponse<Bytes>) -> bool {
    if req.method() == http::Method::CONNECT {
        respond.send_reset(h2::Reason::HTTP_1_1_REQUIRED);
        return true;
    }
    false
}

/// One stream to serve to completion (not [`refused`]). Made without an `async fn`: the
/// future holds the stream's session once, not the arguments beside a copy of them
/// (`http::session::serve_h2`). Inlined where the future is put in its box
/// (`streams::Streams::push`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn serve(
    fe: Arc<Frontend>,
    req: (Box<http::Request<()>>, RecvStream),
    respond: SendResponse<Bytes>,
    peer: SocketAddr,
    local: SocketAddr,
    stop: watch::Receiver<bool>,
    track: Option<Arc<crate::track::Tracking>>,
    tls: Option<Arc<crate::stream::TlsInfo>>,
    deadlines: Arc<super::deadlines::Deadlines>,
    accepted: (std::time::SystemTime, std::time::Instant),
) -> impl std::future::Future<Output = ()> + Send + use<> {
    crate::http::session::serve_h2(
        fe, req, respond, tls, peer, local, stop, track, deadlines, accepted,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn maxhdr_counts_pseudo_fields_in_twice_the_slots() {
        let req = |n: usize| {
            let mut b = http::Request::builder().uri("http://a/");
            for i in 0..n {
                b = b.header(format!("x-{i}"), "1");
            }
            b.body(()).unwrap_or_default()
        };
        // tune.http.maxhdr 8 (haproxy 2.6, curl): 4 pseudo + 11 fields pass, + 12 do not
        assert!(!super::too_many_fields(&req(11), 8));
        assert!(super::too_many_fields(&req(12), 8));
    }
}
