//! The connection a check script talks over: plain (TCP or unix), TLS after a `connect ssl`
//! / `check-ssl` handshake, or HTTP/2 streams over either; writing a step's bytes and reading
//! the answer into the check's one buffer (at most [`CHECK_BUFFER`]), whatever the kind.

use crate::probe::addr::Conn;
use crate::probe::h2check::H2Link;
use crate::probe::script_run::CHECK_BUFFER;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A check connection: plain, or TLS after a `connect ssl` / `check-ssl` handshake.
pub(crate) enum Link {
    Plain(Conn),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
    /// HTTP/2 streams over either (`proto h2`, `check-proto h2`, ALPN `h2`).
    H2(Box<H2Link>),
}

pub(crate) async fn write(conn: &mut Link, data: &[u8]) -> std::io::Result<()> {
    match conn {
        Link::Plain(Conn::Tcp(s)) => s.write_all(data).await,
        Link::Plain(Conn::Unix(s)) => s.write_all(data).await,
        Link::Tls(s) => {
            s.write_all(data).await?;
            s.flush().await
        }
        Link::H2(h) => h.send(data).await,
    }
}

pub(crate) async fn read(conn: &mut Link, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let room = CHECK_BUFFER.saturating_sub(buf.len());
    if let Link::H2(h) = conn {
        return h.read(buf, room).await;
    }
    let mut chunk = vec![0u8; room.min(4096)];
    let n = match conn {
        Link::Plain(Conn::Tcp(s)) => s.read(&mut chunk).await?,
        Link::Plain(Conn::Unix(s)) => s.read(&mut chunk).await?,
        // a TLS peer closing without close_notify ends the answer too
        Link::Tls(s) => match s.read(&mut chunk).await {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            r => r?,
        },
        Link::H2(_) => 0,
    };
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}
