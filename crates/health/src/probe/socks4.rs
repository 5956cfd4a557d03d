//! A check's connect through the server's SOCKS4 proxy (`tcp-check connect via-socks4`,
//! server `check-via-socks4` with `socks4 ADDR:PORT`): HAProxy 2.6's CONNECT request (user id
//! "HAProxy") and the proxy's 8-byte reply, as haproxy judges it: a denial is a socket error
//! ("SOCKS4 Proxy deny the request"), no (complete) reply within `timeout check` a layer-7
//! timeout at the connect step.

use std::net::SocketAddr;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How the proxy answered.
#[derive(Debug)]
pub enum Refused {
    Denied,
    Timeout,
    Io(std::io::Error),
}

use fulcrum_config::socks4::request;

/// Asks the proxy on `s` for `dst`, the reply expected before `deadline`.
pub async fn through(s: &mut TcpStream, dst: SocketAddr, deadline: Instant) -> Result<(), Refused> {
    let req = request(dst)
        .ok_or_else(|| Refused::Io(std::io::Error::other("SOCKS4 reaches IPv4 servers only")))?;
    let talk = async {
        s.write_all(&req).await?;
        let mut reply = [0u8; 8];
        s.read_exact(&mut reply).await.map(|_| reply)
    };
    match tokio::time::timeout_at(deadline.into(), talk).await {
        Err(_) => Err(Refused::Timeout),
        // a short reply and a close: haproxy waits for the rest until its timeout
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            tokio::time::sleep_until(deadline.into()).await;
            Err(Refused::Timeout)
        }
        Ok(Err(e)) => Err(Refused::Io(e)),
        Ok(Ok(reply)) if reply[1] == 0x5a => Ok(()),
        Ok(Ok(_)) => Err(Refused::Denied),
    }
}
