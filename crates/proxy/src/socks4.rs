//! SOCKS4 to a server (`server ... socks4 ADDR:PORT`): HAProxy's CONNECT request (version 4,
//! command 1, the server's port and IPv4 address, user id "HAProxy") on a connection to the
//! proxy, then the proxy's 8-byte reply, granted (0x5A) or not.

use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use fulcrum_config::socks4::request;

/// Asks the proxy on `s` for a connection to `dst`; Ok once granted.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    dst: SocketAddr,
) -> io::Result<()> {
    let req = request(dst).ok_or_else(|| io::Error::other("SOCKS4 reaches IPv4 servers only"))?;
    s.write_all(&req).await?;
    let mut reply = [0u8; 8];
    s.read_exact(&mut reply).await?;
    if reply[1] != 0x5a {
        return Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "SOCKS4 Proxy deny the request",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn granted_or_denied() {
        for (reply, ok) in [(0x5au8, true), (0x5b, false)] {
            let (mut a, mut b) = tokio::io::duplex(64);
            let proxy = tokio::spawn(async move {
                let mut req = [0u8; 16];
                b.read_exact(&mut req).await.expect("request");
                b.write_all(&[0, reply, 0, 0, 0, 0, 0, 0])
                    .await
                    .expect("reply");
                req
            });
            let r = connect(&mut a, "10.0.0.1:80".parse().expect("addr")).await;
            assert_eq!(r.is_ok(), ok, "{r:?}");
            assert_eq!(
                &proxy.await.expect("proxy")[..8],
                b"\x04\x01\x00\x50\x0a\x00\x00\x01"
            );
        }
    }
}
