//! `tcp-request connection` rules at accept time (`listener`): the verdict, the
//! connection's stick counters, the addresses `set-src`/`set-dst` left, the socket options
//! `set-mark`/`set-tos` asked for (set here) and whether `expect-proxy layer4` or
//! `expect-netscaler-cip layer4` ran.

use crate::state::Frontend;
use crate::tcp_rules::Verdict;
use crate::track::Tracking;
use std::net::SocketAddr;
use std::sync::Arc;

/// `tcp-request connection` rules (the `session` rules run in the session's task, after a PROXY header),
/// the connection's stick counters (when the configuration has stick tables), and its
/// addresses as `set-src`/`set-dst` rules left them.
pub(super) fn connection_rules<S: crate::sockopt::HasSocket>(
    fe: &Frontend,
    peer: SocketAddr,
    local: SocketAddr,
    sock: &S,
    (id, seed): (u16, &Option<crate::front::Seed>),
) -> (
    Verdict,
    Option<Arc<Tracking>>,
    (SocketAddr, SocketAddr),
    crate::accept_proxy::Asked,
) {
    let track = fe.new_tracking();
    if fe.tcp_connection.is_empty() {
        return (Verdict::Accept, track, (peer, local), Default::default());
    }
    let counters = fe.counters(track.as_deref(), fe.own_table.as_ref());
    // The connection as accepted (no PROXY header read yet, as HAProxy's connection rules).
    let unix = seed.as_ref().is_some_and(|s| s.fd.is_none());
    let facts = seed
        .clone()
        .map(|s| crate::front::ConnFacts::new(id, s, (peer, local), unix, None));
    let place = crate::place::Place {
        conn: facts.as_ref(),
        ..crate::place::Place::at(fe)
    };
    let seen = crate::http::sample_env::Situation::new(peer, local)
        .with_counters(counters)
        .at(Some(&place));
    let ctx = seen.view(None, None);
    let moved = crate::tcp_rules::Moved::default();
    let v = crate::tcp_rules::eval(&fe.tcp_connection, &ctx, false, &moved);
    // `set-mark`/`set-tos` (`sockopt`)
    sock.with(&mut |s| moved.sock.set(&s));
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    let expect = crate::accept_proxy::Asked {
        proxy: moved.expect_proxy.load(relaxed),
        cip: moved.expect_cip.load(relaxed),
    };
    (v, track, moved.get(peer, local), expect)
}
