//! Runs a client's TLS handshake in its own task, within the frontend's `timeout client`
//! (HAProxy bounds the handshake by it too), then hands the connection to the session.
//! A failed handshake (no shared version or suite, a refused client certificate,
//! `strict-sni`) closes the connection and is logged at debug level.

use super::acceptor::{ServerTls, TlsBind};
use super::conn::TlsConn;
use crate::state::Frontend;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;

pub fn spawn<F>(
    fe: Arc<Frontend>,
    tls: Arc<TlsBind>,
    sock: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    then: F,
) where
    F: FnOnce(Arc<Frontend>, TlsConn<ServerTls>) + Send + 'static,
{
    tokio::spawn(async move {
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
            Ok(c) => then(fe, c),
            Err(e) => tracing::debug!(
                "{}: TLS handshake from {peer} to {local} failed: {e}",
                fe.name
            ),
        }
    });
}
