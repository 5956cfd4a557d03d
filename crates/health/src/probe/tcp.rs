//! TCP connect checks (HAProxy's default check, keepalived TCP_CHECK): connected in time →
//! "Layer4 check passed", refused/unreachable → "Layer4 connection problem" with the OS error
//! as info (as HAProxy: `info: "Connection refused"`), no answer in time → "Layer4 timeout".
//! A server on a unix socket is checked by connecting to it the same way.

use super::addr::{CheckAddr, Conn};
use crate::status::{CheckOutcome, CheckStatus};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// Connects within `timeout`; the stream is returned for checks that go on talking.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, CheckOutcome> {
    let start = crate::clock::now();
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(
            CheckOutcome::new(CheckStatus::L4Connection, crate::clock::since(start))
                .with_info(io_error_info(&e)),
        ),
        Err(_) => Err(CheckOutcome::new(
            CheckStatus::L4Timeout,
            crate::clock::since(start),
        )),
    }
}

/// [`connect`] to any check address: IP (from a `source`), unix path or abstract name.
pub async fn connect_to(addr: &CheckAddr, timeout: Duration) -> Result<Conn, CheckOutcome> {
    connect_to_with(addr, timeout, false).await
}

/// [`connect_to`]; `delayed_ack`: see [`super::addr::connect_with`].
async fn connect_to_with(
    addr: &CheckAddr,
    timeout: Duration,
    delayed_ack: bool,
) -> Result<Conn, CheckOutcome> {
    let start = crate::clock::now();
    match tokio::time::timeout(timeout, super::addr::connect_with(addr, delayed_ack)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(
            CheckOutcome::new(CheckStatus::L4Connection, crate::clock::since(start))
                .with_info(io_error_info(&e)),
        ),
        Err(_) => Err(CheckOutcome::new(
            CheckStatus::L4Timeout,
            crate::clock::since(start),
        )),
    }
}

/// A connect check; `reset`: as HAProxy does, the handshake's last ACK held back (TCP_QUICKACK
/// off) and the connection closed with a single RST, so the server never accepts it;
/// keepalived's TCP_CHECK completes the handshake and closes cleanly.
pub async fn check(addr: &CheckAddr, timeout: Duration, reset: bool) -> CheckOutcome {
    let start = crate::clock::now();
    match connect_to_with(addr, timeout, reset).await {
        Ok(stream) => {
            if let (true, Conn::Tcp(s)) = (reset, &stream) {
                let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
            }
            CheckOutcome::new(CheckStatus::L4Ok, crate::clock::since(start))
        }
        Err(outcome) => outcome,
    }
}

/// The OS's words for a failed connect, as HAProxy shows them ("Connection refused").
pub fn io_error_info(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "Connection refused".to_string(),
        io::ErrorKind::ConnectionReset => "Connection reset by peer".to_string(),
        _ => {
            // strip Rust's " (os error N)" suffix
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// HAProxy's connect check holds the handshake's last ACK back and ends with a single RST:
    /// the server never accepts it (measured: haproxy 2.6 checking a listener every 200 ms for
    /// 2 s, 0 accepted); keepalived's TCP_CHECK completes the handshake and closes cleanly (the
    /// server reads end of file).
    #[tokio::test]
    async fn connect_checks_close_as_haproxy_and_keepalived_do() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: CheckAddr = l.local_addr().expect("addr").into();
        let o = check(&addr, Duration::from_secs(2), true).await;
        assert_eq!(o.status, CheckStatus::L4Ok);
        assert!(
            tokio::time::timeout(Duration::from_millis(500), l.accept())
                .await
                .is_err(),
            "an HAProxy-style check is never accepted"
        );
        let o = check(&addr, Duration::from_secs(2), false).await;
        assert_eq!(o.status, CheckStatus::L4Ok);
        let (mut s, _) = tokio::time::timeout(Duration::from_secs(2), l.accept())
            .await
            .expect("a keepalived check is accepted")
            .expect("accept");
        let mut b = [0u8; 8];
        let r = tokio::time::timeout(Duration::from_secs(2), s.read(&mut b))
            .await
            .expect("closed in time");
        assert_eq!(r.expect("end of file"), 0);
    }
}
