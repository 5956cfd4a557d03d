//! What a client connection must offer the HTTP and TCP sessions: a TCP stream, or a unix
//! stream (a `bind` on a path, `abns@`, or an inherited unix socket). Server connections offer
//! the same (`connect::ServerStream`), for servers on `unix@`/`abns@` addresses.
//!
//! The sessions are generic over [`ClientStream`], so each kind is compiled on its own and the
//! TCP path stays exactly what it was (no boxing, no dynamic dispatch per read). `ready` waits
//! for data without taking a buffer, so idle connections hold no memory: on TCP and unix
//! streams it is the runtime's readiness (no system call) and `try_read_buf` tells a spurious
//! wake; `peek` (`recv(MSG_PEEK)`, through socket2 on unix) is the exact fallback.
//! A TLS client is `tls::conn`'s `TlsConn`, which also answers [`ClientStream::tls`].

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use tokio::io::{AsyncRead, AsyncWrite, Interest};
use tokio::net::{tcp, unix, TcpStream, UnixStream};

/// An accepted client connection: TCP with its peer and local addresses, or unix.
pub(crate) enum Conn {
    Tcp(TcpStream, std::net::SocketAddr, std::net::SocketAddr),
    Unix(UnixStream),
}

/// A read half that can wait for data without consuming it.
pub trait PeekRead: AsyncRead + Unpin + Send {
    fn peek_byte(&mut self) -> impl Future<Output = io::Result<usize>> + Send;
    /// Tells the stream that a read just returned less than it asked for: the kernel's
    /// receive queue is empty, so the next read waits for readiness instead of trying a
    /// `recv` that would say `EAGAIN` (HAProxy's short-read rule). Sound with the runtime's
    /// edge-triggered readiness: bytes arriving later raise a new edge, and a close stays
    /// visible (the runtime never clears it).
    fn drained(&self) {}
}

pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// A unix-socket client: no IP address (HAProxy logs `unix:ID`, adds no X-Forwarded-For).
    const UNIX: bool;
    /// One HTTP/2 stream (`http::h2::edge`) rather than a connection: its head is handed over
    /// as the neutral head and its response head sent from it (not as bytes), it serves one
    /// request, and its connection counts the session.
    const H2: bool = false;
    /// Whether an idle connection of this kind can be parked without a task (`park`):
    /// [`Self::into_cold`] and [`Self::from_cold`] answer.
    const PARK: bool = false;
    type Read<'a>: PeekRead + 'a;
    type Write<'a>: AsyncWrite + Unpin + Send + 'a;
    /// Waits until at least one byte can be read (0: the peer closed).
    fn peek_byte(&mut self) -> impl Future<Output = io::Result<usize>> + Send;
    /// Waits, holding no buffer, until the client may have sent something (0: the peer
    /// closed). May wake with nothing to read when [`Self::try_read_buf`] is offered (it then
    /// says `WouldBlock`); by default it is exact ([`Self::peek_byte`]).
    fn ready(&mut self) -> impl Future<Output = io::Result<usize>> + Send {
        self.peek_byte()
    }
    /// Reads what has arrived without waiting (`WouldBlock`: nothing yet), or `None` when
    /// this kind of stream cannot (the caller then reads asynchronously after [`Self::ready`]).
    fn try_read_buf(&mut self, buf: &mut bytes::BytesMut) -> Option<io::Result<usize>> {
        let _ = buf;
        None
    }
    fn split_halves(&mut self) -> (Self::Read<'_>, Self::Write<'_>);
    /// The socket off the runtime's registrations, for an idle connection parked without a
    /// task (`park` watches it itself); `Err(self)` when this kind of stream is never parked
    /// (`PARK` false), `Ok(Err(_))` when it could not be taken off (it is then closed).
    fn into_cold(self) -> Result<io::Result<Cold>, Self>
    where
        Self: Sized,
    {
        Err(self)
    }
    /// A parked socket back on the runtime (something arrived).
    fn from_cold(cold: Cold) -> io::Result<Self>
    where
        Self: Sized,
    {
        drop(cold);
        Err(io::ErrorKind::Unsupported.into())
    }
    /// A read just returned less than it asked for (see [`PeekRead::drained`]).
    fn drained(&self) {}
    /// Copies what the client sent so far into `buf` without consuming it, waiting for at
    /// least one byte (0: closed). Plain streams only: a TLS client has nothing to inspect.
    fn peek_into(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send {
        let _ = buf;
        async { Ok(0) }
    }
    /// What the TLS handshake settled, on a TLS connection (the `ssl_fc*`/`ssl_c_*` fetches).
    fn tls(&self) -> Option<&std::sync::Arc<TlsInfo>> {
        None
    }
    /// The plain TCP socket this stream is, for kernel splicing (`splice`); `None` for TLS,
    /// unix sockets and HTTP/2 streams.
    fn plain_tcp(&self) -> Option<&TcpStream> {
        None
    }
    /// Runs `f` on the client's own IP socket (`set-mark`, `set-tos`: `sockopt`); nothing
    /// for a unix client or an HTTP/2 stream.
    fn with_socket(&self, f: &mut dyn FnMut(socket2::SockRef<'_>)) {
        let _ = f;
    }
}

/// What a client's TLS handshake settled, as HAProxy's `ssl_fc*`/`ssl_c_*` fetches show it.
#[derive(Debug, Clone, Default)]
pub struct TlsInfo {
    /// `TLSv1.2`, `TLSv1.3` (`ssl_fc_protocol`, `%sslv`).
    pub version: &'static str,
    /// OpenSSL's name of the suite, e.g. `TLS_AES_128_GCM_SHA256` (`ssl_fc_cipher`, `%sslc`).
    pub cipher: &'static str,
    /// Secret bits of the suite's cipher (`ssl_fc_use_keysize`).
    pub bits: u32,
    pub sni: Option<Box<str>>,
    pub alpn: Option<Box<str>>,
    /// The session was resumed (`ssl_fc_is_resumed`).
    pub resumed: bool,
    /// The client's certificate, when it sent one (verified: rustls refuses the handshake
    /// otherwise, so `ssl_c_verify` is 0).
    pub client_cert: Option<Box<ClientCert>>,
}

#[derive(Debug, Clone, Default)]
pub struct ClientCert {
    /// `/C=FR/CN=name` (`ssl_c_s_dn`, `ssl_c_i_dn`).
    pub subject: String,
    pub issuer: String,
    /// Upper-case hex (`ssl_c_serial`).
    pub serial: String,
    /// The DNs' (type, value) pairs in order (`ssl_c_s_dn(CN)`, `ssl_c_i_dn(O,2)`).
    pub subject_entries: Vec<(String, String)>,
    pub issuer_entries: Vec<(String, String)>,
    /// SHA-1 of the DER certificate (`ssl_c_sha1`).
    pub sha1: Vec<u8>,
    /// Validity as `YYMMDDhhmmssZ` (`ssl_c_notbefore`, `ssl_c_notafter`).
    pub not_before: String,
    pub not_after: String,
    /// The X.509 version, 1-based (`ssl_c_version`: 3 for a v3 certificate).
    pub version: i64,
    /// OpenSSL's short names of the signature and key algorithms (`ssl_c_sig_alg`,
    /// `ssl_c_key_alg`).
    pub sig_alg: String,
    pub key_alg: String,
}

impl ClientStream for TcpStream {
    const UNIX: bool = false;
    const PARK: bool = true;
    fn with_socket(&self, f: &mut dyn FnMut(socket2::SockRef<'_>)) {
        f(socket2::SockRef::from(self));
    }
    type Read<'a> = tcp::ReadHalf<'a>;
    type Write<'a> = tcp::WriteHalf<'a>;
    fn plain_tcp(&self) -> Option<&TcpStream> {
        Some(self)
    }
    async fn peek_into(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.peek(buf).await
    }
    async fn peek_byte(&mut self) -> io::Result<usize> {
        self.peek(&mut [0u8; 1]).await
    }
    async fn ready(&mut self) -> io::Result<usize> {
        // The stream's own reader slot (`poll_read_ready`, as reads use), not `readable()`'s
        // list of waiters: no lock taken to wait and to stop waiting.
        std::future::poll_fn(|cx| self.poll_read_ready(cx))
            .await
            .map(|()| 1)
    }
    fn try_read_buf(&mut self, buf: &mut bytes::BytesMut) -> Option<io::Result<usize>> {
        Some(TcpStream::try_read_buf(self, buf))
    }
    fn into_cold(self) -> Result<io::Result<Cold>, Self> {
        Ok(self.into_std().map(Cold::Tcp))
    }
    fn from_cold(cold: Cold) -> io::Result<Self> {
        match cold {
            Cold::Tcp(s) => TcpStream::from_std(s),
            _ => Err(io::ErrorKind::InvalidInput.into()),
        }
    }
    fn drained(&self) {
        let _ = self.try_io(Interest::READABLE, would_block);
    }
    fn split_halves(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        self.split()
    }
}

impl PeekRead for tcp::ReadHalf<'_> {
    async fn peek_byte(&mut self) -> io::Result<usize> {
        self.peek(&mut [0u8; 1]).await
    }
    fn drained(&self) {
        let _ = self.as_ref().try_io(Interest::READABLE, would_block);
    }
}

/// A parked client's socket, off the runtime (`ClientStream::into_cold`): only its
/// descriptor, which `park` watches, or with the rest of its stream (a TLS session's state),
/// which only the kind of stream that parked it takes back. That rest is boxed twice: a thin
/// pointer keeps every parked connection's state 8 bytes smaller than a `Box<dyn Any>` would
/// (one more small allocation per parked TLS connection, none for plain ones).
pub enum Cold {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
    With(std::net::TcpStream, Box<Box<dyn std::any::Any + Send>>),
}

impl std::os::fd::AsFd for Cold {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Cold::Tcp(s) | Cold::With(s, _) => s.as_fd(),
            Cold::Unix(s) => s.as_fd(),
        }
    }
}

/// What `try_io` is given to clear a socket's read readiness without a system call.
fn would_block() -> io::Result<()> {
    Err(io::ErrorKind::WouldBlock.into())
}

async fn unix_peek(s: &UnixStream) -> io::Result<usize> {
    s.async_io(Interest::READABLE, || {
        let mut b = [MaybeUninit::<u8>::uninit(); 1];
        socket2::SockRef::from(s).peek(&mut b)
    })
    .await
}

impl ClientStream for UnixStream {
    const UNIX: bool = true;
    const PARK: bool = true;
    type Read<'a> = unix::ReadHalf<'a>;
    type Write<'a> = unix::WriteHalf<'a>;
    async fn peek_byte(&mut self) -> io::Result<usize> {
        unix_peek(self).await
    }
    async fn ready(&mut self) -> io::Result<usize> {
        self.readable().await.map(|()| 1)
    }
    fn try_read_buf(&mut self, buf: &mut bytes::BytesMut) -> Option<io::Result<usize>> {
        Some(UnixStream::try_read_buf(self, buf))
    }
    fn into_cold(self) -> Result<io::Result<Cold>, Self> {
        Ok(self.into_std().map(Cold::Unix))
    }
    fn from_cold(cold: Cold) -> io::Result<Self> {
        match cold {
            Cold::Unix(s) => UnixStream::from_std(s),
            _ => Err(io::ErrorKind::InvalidInput.into()),
        }
    }
    fn drained(&self) {
        let _ = self.try_io(Interest::READABLE, would_block);
    }
    fn split_halves(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        self.split()
    }
}

impl PeekRead for unix::ReadHalf<'_> {
    async fn peek_byte(&mut self) -> io::Result<usize> {
        unix_peek(self.as_ref()).await
    }
    fn drained(&self) {
        let _ = self.as_ref().try_io(Interest::READABLE, would_block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn unix_peek_waits_for_data_and_sees_close() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async {
            let (mut a, mut b) = UnixStream::pair().expect("pair");
            b.write_all(b"x").await.expect("write");
            assert_eq!(a.peek_byte().await.expect("peek"), 1);
            {
                // Peeking does not consume, on the stream nor on its read half.
                let (mut r, _w) = a.split_halves();
                assert_eq!(r.peek_byte().await.expect("peek half"), 1);
            }
            let mut got = [0u8; 1];
            a.read_exact(&mut got).await.expect("read");
            assert_eq!(&got, b"x");
            drop(b);
            assert_eq!(a.peek_byte().await.expect("peek after close"), 0);
        });
    }
}
