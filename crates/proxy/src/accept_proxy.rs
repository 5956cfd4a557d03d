//! `bind ... accept-proxy`: reads the PROXY protocol header (v1 or v2, `proxy_protocol`)
//! that starts an accepted connection, within a time limit, reading no byte past it, and
//! gives the session the client and destination addresses it carries. A missing, malformed
//! or late header closes the connection, as HAProxy does.

use crate::proxy_protocol::{self, Header, Invalid};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Reads the header; `Err` when it is malformed, the peer closed, or `limit` passed.
pub async fn read<S: AsyncRead + Unpin>(
    s: &mut S,
    limit: Option<Duration>,
) -> Result<Header, Invalid> {
    let work = async {
        // 8 bytes: shorter than either version's shortest header.
        let mut buf = vec![0u8; 8];
        s.read_exact(&mut buf).await.map_err(|_| Invalid)?;
        loop {
            match proxy_protocol::needed(&buf)? {
                Some(n) if n <= buf.len() => return proxy_protocol::parse(&buf[..n]),
                Some(n) => {
                    // v2: the rest at once.
                    let have = buf.len();
                    buf.resize(n, 0);
                    s.read_exact(&mut buf[have..]).await.map_err(|_| Invalid)?;
                }
                None => {
                    // v1 (up to its LF) or the v2 length field: one byte at a time, so nothing
                    // after the header is consumed.
                    let mut b = [0u8; 1];
                    s.read_exact(&mut b).await.map_err(|_| Invalid)?;
                    buf.push(b[0]);
                }
            }
        }
    };
    match limit {
        Some(d) => tokio::time::timeout(d, work).await.map_err(|_| Invalid)?,
        None => work.await,
    }
}

/// The addresses a session should use: the header's when it carries IP addresses, else the
/// connection's own (v1 `UNKNOWN`, v2 `LOCAL`, UNIX family).
pub fn addresses(h: &Header, peer: SocketAddr, local: SocketAddr) -> (SocketAddr, SocketAddr) {
    h.addrs.unwrap_or((peer, local))
}

/// Why a connection had no usable PROXY header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Its first bytes are neither a v1 nor a v2 header (HAProxy logs this one).
    NotProxy,
    /// Malformed, truncated, late, or the peer closed.
    Other,
}

/// The addresses a new connection speaks for: with `accept-proxy`, the PROXY header's (read
/// off `s` within `limit`), else the socket's own; `Err` when the header is missing or
/// invalid (the connection is then closed).
pub async fn client_addresses<S: AsyncRead + Unpin>(
    s: &mut S,
    accept_proxy: bool,
    limit: Option<Duration>,
    addrs: (SocketAddr, SocketAddr),
) -> Result<(SocketAddr, SocketAddr), Missing> {
    client_header(s, accept_proxy, limit, addrs)
        .await
        .map(|(a, _)| a)
}

/// [`client_addresses`], with the PROXY header read (`fc_rcvd_proxy`, `fc_pp_*`).
pub async fn client_header<S: AsyncRead + Unpin>(
    s: &mut S,
    accept_proxy: bool,
    limit: Option<Duration>,
    (peer, local): (SocketAddr, SocketAddr),
) -> Result<((SocketAddr, SocketAddr), Option<Header>), Missing> {
    if !accept_proxy {
        return Ok(((peer, local), None));
    }
    let mut first = [0u8; 8];
    let r = read_noting(s, limit, &mut first).await;
    match r {
        Ok(h) => Ok((addresses(&h, peer, local), Some(h))),
        Err(_) if first != [0u8; 8] && proxy_protocol::needed(&first).is_err() => {
            Err(Missing::NotProxy)
        }
        Err(_) => Err(Missing::Other),
    }
}

/// [`read`], keeping the first 8 bytes in `first` (zeros when fewer came).
async fn read_noting<S: AsyncRead + Unpin>(
    s: &mut S,
    limit: Option<Duration>,
    first: &mut [u8; 8],
) -> Result<Header, Invalid> {
    let mut tee = Tee {
        inner: s,
        first,
        at: 0,
    };
    read(&mut tee, limit).await
}

/// Copies the first bytes read through it.
struct Tee<'a, S> {
    inner: &'a mut S,
    first: &'a mut [u8; 8],
    at: usize,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tee<'_, S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let r = std::pin::Pin::new(&mut *this.inner).poll_read(cx, buf);
        let got = &buf.filled()[before..];
        let n = got.len().min(8 - this.at);
        this.first[this.at..this.at + n].copy_from_slice(&got[..n]);
        this.at += n;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exactly_the_header() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async {
            let a: SocketAddr = "192.0.2.7:4000".parse().expect("lit");
            let b: SocketAddr = "192.0.2.8:80".parse().expect("lit");
            for head in [
                proxy_protocol::v1(Some((a, b))),
                proxy_protocol::v2(Some((a, b)), &[(1, b"h2")]),
            ] {
                let mut input = head.clone();
                input.extend_from_slice(b"GET /");
                let mut r = &input[..];
                let h = read(&mut r, None).await.expect("header");
                assert_eq!(addresses(&h, b, a), (a, b));
                assert_eq!(r, b"GET /");
            }
            let mut r = &b"GET / HTTP/1.1\r\n\r\n"[..];
            assert!(read(&mut r, None).await.is_err());
            let mut r = &b"GET / HTTP/1.1\r\n\r\n"[..];
            let got = client_addresses(&mut r, true, None, (a, b)).await;
            assert_eq!(got, Err(Missing::NotProxy));
            let mut r = &b"PROXY TCP4 1.2.3.4\r\n"[..];
            let got = client_addresses(&mut r, true, None, (a, b)).await;
            assert_eq!(got, Err(Missing::Other));
            let mut r = &b"PROXY TCP4"[..];
            assert!(read(&mut r, None).await.is_err());
        });
    }
}
