//! Runs a client's TLS handshake in its own task, within the frontend's `timeout client`
//! (HAProxy bounds the handshake by it too), then hands the connection to the session.
//! A failed handshake (no shared version or suite, a refused client certificate,
//! `strict-sni`) closes the connection and is logged as HAProxy logs it (`log_error`). Every handshake is
//! counted in the frontend's `ssl_sess`/`ssl_reused_sess`/`ssl_failed_handshake`.

use super::acceptor::{ServerTls, TlsBind};
use super::conn::{count_handshake, TlsConn};
use crate::state::Frontend;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;

pub fn spawn<F>(
    fe: Arc<Frontend>,
    tls: Arc<TlsBind>,
    mut sock: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    // `accept-proxy`/`accept-netscaler-cip` on the bind or asked by a rule, and the
    // listener's number in its frontend (error lines).
    (expect, bind): (crate::accept_proxy::Expect, u16),
    then: F,
) where
    // The session's addresses, and the PROXY header read (`fc_rcvd_proxy`, `fc_pp_*`).
    F: FnOnce(
            Arc<Frontend>,
            TlsConn<ServerTls>,
            (SocketAddr, SocketAddr),
            Option<crate::proxy_protocol::Header>,
        ) + Send
        + 'static,
{
    tokio::spawn(async move {
        let accepted = std::time::SystemTime::now();
        // `accept-proxy`: the PROXY header comes before the TLS handshake.
        let addrs = (peer, local);
        let limit = fe.timeouts.client;
        let ((peer, local), header) =
            match crate::accept_proxy::client_header(&mut sock, expect, limit, addrs).await {
                Ok(a) => a,
                Err(m) => {
                    let failure = crate::log_error::Failure::from(m);
                    crate::log_error::connection_error(&fe, addrs, accepted, bind, failure);
                    return;
                }
            };
        let hs = tls.accept(sock);
        let r = match fe.timeouts.client {
            Some(t) => match tokio::time::timeout(t, hs).await {
                Ok(r) => r,
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "handshake timed out",
                )),
            },
            None => hs.await,
        };
        match r {
            Ok(mut c) => {
                count_handshake(&fe.counters, Some(c.info().resumed), true);
                // TLS 1.3 session tickets are queued at the end of the handshake: send them
                // now, not with the first response (a client that reads nothing before it
                // leaves would never get one to resume with).
                let _ = tokio::io::AsyncWriteExt::flush(&mut c).await;
                then(fe, c, (peer, local), header)
            }
            Err(e) => {
                count_handshake(&fe.counters, None, true);
                tracing::debug!(
                    "{}: TLS handshake from {peer} to {local} failed: {e}",
                    fe.name
                );
                let failure = crate::log_error::Failure::of_tls(&e);
                crate::log_error::connection_error(&fe, (peer, local), accepted, bind, failure);
            }
        }
    });
}
