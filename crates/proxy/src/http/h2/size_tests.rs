//! How large one HTTP/2 stream is: a guard on per-stream memory. Every stream's future lives
//! in its connection's set (`FuturesUnordered`: moved into a heap task as it is accepted)
//! for as long as the request is in flight, 100 of them per connection under
//! `tune.h2.max-concurrent-streams 100`: its size is memory per in-flight request and bytes
//! copied per request.

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use std::net::SocketAddr;
use std::sync::Arc;

type Args = (
    Arc<crate::state::Frontend>,
    (Box<http::Request<()>>, RecvStream),
    SendResponse<Bytes>,
    SocketAddr,
    tokio::sync::watch::Receiver<bool>,
    Option<Arc<crate::track::Tracking>>,
    Option<Arc<crate::stream::TlsInfo>>,
    Arc<super::deadlines::Deadlines>,
);

/// The size of what `f` returns, without calling it.
fn returned<R>(_: impl FnOnce(Args) -> R) -> usize {
    std::mem::size_of::<R>()
}

#[test]
fn stream_future_is_small() {
    let stream = returned(|(fe, req, respond, peer, stop, track, tls, deadlines)| {
        let now = (std::time::SystemTime::now(), std::time::Instant::now());
        super::transaction::serve(
            fe, req, respond, peer, peer, stop, track, tls, deadlines, now,
        )
    });
    eprintln!("h2 stream future: {stream} bytes");
    // 10,824 bytes before session 20 (the arguments of two `async fn`s beside their copies,
    // the request head kept in the edge, a TLS and an HTTP/2 handshake inline, a TLS server
    // connection moved out of its box); 6,432 since. The rest is mostly the exchange with an
    // HTTP/1 server and the response rules. Session 22: 6,712 (the received head kept for
    // passing on unchanged, 224 bytes; each head's 8-byte summary of its header names).
    // Session 26: 6,728 (a proxy's answer held across an await, `after_local_answer`'s copy,
    // carries the pointer to its kept HTTP/2 fields: `response::H2Fields`). Session 27:
    // 5,176 (no future of its own around the phases; the futures of answers, early hints,
    // wait-for-body and tcp-response rules built only when there is one; the encoder, a
    // pending cache store and the rules' log facts boxed when there is one). Session 28:
    // 4,944 (the session's transaction buffers boxed, a pointer: −328 bytes, which a pooled
    // set holds on the heap as before; +96 for what assigning a server settled before the
    // rest waits: `request/connect.rs`'s `Later`).
    assert!(
        stream <= 4_944,
        "an HTTP/2 stream's future is {stream} bytes"
    );
}
