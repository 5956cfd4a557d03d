//! `bind ... accept-proxy`: reads the PROXY protocol header (v1 or v2, `proxy_protocol`)
//! that starts an accepted connection, within a time limit, reading no byte past it, and
//! gives the session the client and destination addresses it carries. A missing, malformed
//! or late header closes the connection, as HAProxy does. The same for a NetScaler Client
//! IP header (`accept-netscaler-cip`, `netscaler_cip`), read first when both are expected
//! (HAProxy's order). Unlike HAProxy, which peeks at the first segment and calls a CIP
//! header split over two segments truncated, the rest of a header is waited for.

use crate::netscaler_cip::{self, Unusable};
use crate::proxy_protocol::{self, Header, V2_SIG};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Why a connection had no usable PROXY header, as HAProxy tells it (`conn_err_code_str`;
/// each is logged, `Closed` and `Aborted` not under `option dontlognull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The peer closed before its first byte.
    Closed,
    /// A socket error (a reset) before the first byte.
    Aborted,
    /// The time limit passed before the first byte.
    Timeout,
    /// Part of a header, then a close, an error or the time limit (or a v1 line longer than
    /// a header can be).
    Truncated,
    /// The first bytes are neither a v1 nor a v2 header (nor v2's version).
    NotProxy,
    /// A header with a bad field (address, port, length, command, family).
    BadHeader,
    /// A v1 header whose protocol is not `TCP4`, `TCP6` or `UNKNOWN`.
    BadProto,
}

/// The headers an accepted connection must start with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expect {
    /// A NetScaler Client IP header with this magic number.
    pub cip: Option<u32>,
    /// A PROXY header.
    pub proxy: bool,
}

/// What `tcp-request connection expect-proxy|expect-netscaler-cip layer4` rules asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Asked {
    pub proxy: bool,
    pub cip: bool,
}

impl Expect {
    /// What the bind expects and what the rules added (a CIP header expected by a rule has
    /// the bind's magic number, HAProxy's 0 without `accept-netscaler-cip`).
    pub fn and_rules(self, asked: Asked) -> Expect {
        Expect {
            cip: if asked.cip {
                self.cip.or(Some(0))
            } else {
                self.cip
            },
            proxy: self.proxy || asked.proxy,
        }
    }
}

/// Which header was missing, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Proxy(Missing),
    Cip(Missing),
}

impl Missing {
    /// HAProxy's words for a NetScaler Client IP header missing this way (`NotProxy`: a bad
    /// magic number).
    pub fn cip_message(self) -> &'static str {
        match self {
            Missing::Closed => "Connection closed while waiting for NetScaler Client IP header",
            Missing::Aborted => "Connection error while waiting for NetScaler Client IP header",
            Missing::Timeout => "Timeout while waiting for a NetScaler Client IP header",
            Missing::Truncated | Missing::BadHeader => {
                "Truncated NetScaler Client IP header received"
            }
            Missing::NotProxy => "Received an invalid NetScaler Client IP magic number",
            Missing::BadProto => "Received an unhandled protocol in the NetScaler Client IP header",
        }
    }

    /// HAProxy's words for it in the connection's log line.
    pub fn message(self) -> &'static str {
        match self {
            Missing::Closed => "Connection closed while waiting for PROXY protocol header",
            Missing::Aborted => "Connection error while waiting for PROXY protocol header",
            Missing::Timeout => "Timeout while waiting for PROXY protocol header",
            Missing::Truncated => "Truncated PROXY protocol header received",
            Missing::NotProxy => {
                "Received something which does not look like a PROXY protocol header"
            }
            Missing::BadHeader => "Received an invalid PROXY protocol header",
            Missing::BadProto => "Received an unhandled protocol in the PROXY protocol header",
        }
    }
}

/// Reads a NetScaler Client IP header with `magic` within `limit`, no byte past it: the
/// (client, destination) addresses it carries.
pub async fn read_cip<S: AsyncRead + Unpin>(
    s: &mut S,
    magic: u32,
    limit: Option<Duration>,
) -> Result<(SocketAddr, SocketAddr), Missing> {
    let mut buf = Vec::with_capacity(64);
    let r = within(limit, read_cip_header(s, magic, &mut buf)).await;
    r.unwrap_or(Err(late(&buf)))
}

/// `f`'s outcome, `None` when `limit` passed first.
async fn within<T>(limit: Option<Duration>, f: impl std::future::Future<Output = T>) -> Option<T> {
    match limit {
        Some(d) => tokio::time::timeout(d, f).await.ok(),
        None => Some(f.await),
    }
}

/// Why a header was missing when the time ran out with `buf` read.
fn late(buf: &[u8]) -> Missing {
    if buf.is_empty() {
        Missing::Timeout
    } else {
        Missing::Truncated
    }
}

async fn read_cip_header<S: AsyncRead + Unpin>(
    s: &mut S,
    magic: u32,
    buf: &mut Vec<u8>,
) -> Result<(SocketAddr, SocketAddr), Missing> {
    let class = |u| match u {
        Unusable::Truncated => Missing::Truncated,
        Unusable::BadMagic => Missing::NotProxy,
        Unusable::BadProto => Missing::BadProto,
    };
    fill(s, buf, netscaler_cip::PREFIX).await?;
    let len = netscaler_cip::length(buf, magic).map_err(class)?;
    fill(s, buf, len).await?;
    netscaler_cip::addresses(buf).map_err(class)
}

/// Reads the header within `limit`, no byte past it; `Err` says why there is none.
pub async fn read<S: AsyncRead + Unpin>(
    s: &mut S,
    limit: Option<Duration>,
) -> Result<Header, Missing> {
    let mut buf = Vec::with_capacity(16);
    let r = within(limit, read_header(s, &mut buf)).await;
    r.unwrap_or(Err(late(&buf)))
}

async fn read_header<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
) -> Result<Header, Missing> {
    // 8 bytes: shorter than either version's shortest header.
    fill(s, buf, 8).await?;
    loop {
        match proxy_protocol::needed(buf) {
            Err(_) => return Err(unusable(buf)),
            Ok(Some(n)) if n <= buf.len() => {
                return proxy_protocol::parse(&buf[..n]).map_err(|_| unusable(&buf[..n]))
            }
            // v2 of another version: not a header (HAProxy looks before reading the rest).
            Ok(Some(_)) if unusable(buf) == Missing::NotProxy => return Err(Missing::NotProxy),
            // v2: the rest at once.
            Ok(Some(n)) => fill(s, buf, n).await?,
            // v1 (up to its LF) or the v2 length field: one byte at a time, so nothing after
            // the header is consumed.
            Ok(None) => fill(s, buf, buf.len() + 1).await?,
        }
    }
}

/// Reads until `buf` holds `upto` bytes.
async fn fill<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
    upto: usize,
) -> Result<(), Missing> {
    let mut chunk = [0u8; 64];
    while buf.len() < upto {
        let want = (upto - buf.len()).min(chunk.len());
        match s.read(&mut chunk[..want]).await {
            Ok(0) if buf.is_empty() => return Err(Missing::Closed),
            Err(_) if buf.is_empty() => return Err(Missing::Aborted),
            Ok(0) | Err(_) => return Err(Missing::Truncated),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(())
}

/// What is wrong with bytes that are no usable header, in HAProxy's classes: not a header
/// (neither signature, or v2 with another version), a v1 protocol it does not know, or a bad
/// field.
fn unusable(buf: &[u8]) -> Missing {
    if buf.starts_with(V2_SIG) {
        return match buf.get(12) {
            Some(v) if v >> 4 != 2 => Missing::NotProxy,
            _ => Missing::BadHeader,
        };
    }
    let n = buf.len().min(6);
    if buf[..n] != b"PROXY "[..n] {
        return Missing::NotProxy;
    }
    let proto = buf[n..].split(|&c| c == b' ' || c == b'\r').next();
    match proto {
        // A v1 line without its LF within the longest a header can be: HAProxy calls it
        // truncated.
        _ if buf.len() >= proxy_protocol::V1_MAX && !buf.contains(&b'\n') => Missing::Truncated,
        Some(b"TCP4" | b"TCP6" | b"UNKNOWN") => Missing::BadHeader,
        _ => Missing::BadProto,
    }
}

/// The addresses a session should use: the header's when it carries IP addresses, else the
/// connection's own (v1 `UNKNOWN`, v2 `LOCAL`, UNIX family).
pub fn addresses(h: &Header, peer: SocketAddr, local: SocketAddr) -> (SocketAddr, SocketAddr) {
    h.addrs.unwrap_or((peer, local))
}

/// The addresses a new connection speaks for: those of the headers it must start with
/// (read off `s` within `limit`: a NetScaler Client IP header's, then a PROXY header's),
/// else the socket's own; `Err` when a header is missing or invalid (the connection is then
/// closed, and logged). The PROXY header read goes with them (`fc_rcvd_proxy`, `fc_pp_*`).
pub async fn client_header<S: AsyncRead + Unpin>(
    s: &mut S,
    expect: Expect,
    limit: Option<Duration>,
    (peer, local): (SocketAddr, SocketAddr),
) -> Result<((SocketAddr, SocketAddr), Option<Header>), Refused> {
    let (peer, local) = match expect.cip {
        Some(magic) => read_cip(s, magic, limit).await.map_err(Refused::Cip)?,
        None => (peer, local),
    };
    if !expect.proxy {
        return Ok(((peer, local), None));
    }
    read(s, limit)
        .await
        .map(|h| (addresses(&h, peer, local), Some(h)))
        .map_err(Refused::Proxy)
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
            let cases: &[(&[u8], Missing)] = &[
                (b"", Missing::Closed),
                (b"GET", Missing::Truncated),
                (b"GET / HTTP/1.1\r\n\r\n", Missing::NotProxy),
                (b"PROXY TCP4", Missing::Truncated),
                (b"PROXY TCP4 1.2.3.4\r\n", Missing::BadHeader),
                (b"PROXY TCP4 1.2.3.4 5.6.7.8 x 2\r\n", Missing::BadHeader),
                (b"PROXY TCP9 1.2.3.4 5.6.7.8 1 2\r\n", Missing::BadProto),
                (b"\r\n\r\n\0\r\nQUIT\n\x99\x11\0\x0c", Missing::NotProxy),
                (b"\r\n\r\n\0\r\nQUIT\n\x21\x71\0\x00", Missing::BadHeader),
                (
                    b"\r\n\r\n\0\r\nQUIT\n\x21\x11\0\x0c\0\0",
                    Missing::Truncated,
                ),
            ];
            let proxy = Expect {
                cip: None,
                proxy: true,
            };
            for (input, want) in cases {
                let mut r = *input;
                let got = client_header(&mut r, proxy, None, (a, b)).await;
                assert_eq!(got.err(), Some(Refused::Proxy(*want)), "{input:?}");
            }
            // a CIP header, then a PROXY header: the PROXY header's addresses win; the
            // bytes after both are left
            let c: SocketAddr = "192.0.2.9:5000".parse().expect("lit");
            let mut input = netscaler_cip::encode(0, c, b, false);
            let cip_only = input.len();
            input.extend_from_slice(&proxy_protocol::v1(Some((a, b))));
            input.extend_from_slice(b"GET /");
            let cip_rule = Asked {
                proxy: false,
                cip: true,
            };
            let both = proxy.and_rules(cip_rule);
            let mut r = &input[..];
            let got = client_header(&mut r, both, None, (b, a)).await;
            assert_eq!(got.map(|(x, _)| x), Ok((a, b)));
            assert_eq!(r, b"GET /");
            let mut r = &input[..];
            let cip = Expect::default().and_rules(cip_rule);
            let got = client_header(&mut r, cip, None, (b, a)).await;
            assert_eq!(got.map(|(x, _)| x), Ok((c, b)));
            assert_eq!(r.len(), input.len() - cip_only);
            let mut r = &input[..];
            let other = Expect {
                cip: Some(9),
                proxy: false,
            };
            let got = client_header(&mut r, other, None, (b, a)).await;
            assert_eq!(got.err(), Some(Refused::Cip(Missing::NotProxy)));
            let mut long = b"PROXY TCP4 ".to_vec();
            long.resize(200, b'1');
            let mut r = &long[..];
            assert_eq!(read(&mut r, None).await.err(), Some(Missing::Truncated));
        });
    }
}
