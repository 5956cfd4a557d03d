//! A TLS connection as the sessions see it: [`TlsConn`] implements [`ClientStream`] over a
//! tokio-rustls stream on TCP (client side: a `bind ... ssl` connection; server side: a
//! `server ... ssl` connection), so the HTTP and TCP sessions are compiled for it as for a
//! plain TCP stream (generic, no dynamic dispatch per read).
//!
//! Waiting for data without a buffer (`peek_byte`) must look at rustls first: the request
//! often arrives with the handshake's last flight and is already decrypted inside rustls, so
//! peeking the socket alone would wait forever. The halves for the tunnel share the stream
//! through an uncontended mutex (both run in one task); the whole stream needs no lock.
//!
//! An idle client connection parks as a plain one does (`park`): its socket goes to the
//! lot, the rest (rustls's state, what the handshake settled) waits beside it, boxed.

use super::sock::Sock;
use crate::counters::{Counters, Ctr, SessionGuard};
use crate::stream::{ClientCert, ClientStream, Cold, PeekRead, TlsInfo};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A tokio-rustls stream over TCP, client or server side.
pub trait TlsIo: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Whether an idle connection of this kind can be parked ([`TlsIo::take_cold`]).
    const PARK: bool = false;
    /// Whether a read would return without the socket: decrypted data, a close, an error.
    fn buffered(&mut self) -> bool;
    /// Whether rustls holds bytes to send.
    fn wants_write(&self) -> bool;
    /// The socket, while on the runtime.
    fn tcp(&self) -> Option<&TcpStream>;
    /// Takes the socket out, off the runtime (`None`: this kind is never parked, or it could
    /// not be taken off).
    fn take_cold(&mut self) -> Option<std::net::TcpStream> {
        None
    }
    /// Puts a socket taken by [`TlsIo::take_cold`] back, on the runtime.
    fn put_cold(&mut self, s: std::net::TcpStream) -> io::Result<()> {
        drop(s);
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Whether rustls, its records just processed, holds decrypted data, a close or an error.
fn has_news(processed: Result<rustls::IoState, rustls::Error>) -> bool {
    match processed {
        Ok(s) => s.plaintext_bytes_to_read() > 0 || s.peer_has_closed(),
        Err(_) => true,
    }
}

impl TlsIo for tokio_rustls::server::TlsStream<Sock> {
    const PARK: bool = true;
    fn buffered(&mut self) -> bool {
        has_news(self.get_mut().1.process_new_packets())
    }
    fn wants_write(&self) -> bool {
        self.get_ref().1.wants_write()
    }
    fn tcp(&self) -> Option<&TcpStream> {
        self.get_ref().0.live()
    }
    fn take_cold(&mut self) -> Option<std::net::TcpStream> {
        self.get_mut().0.take_cold()
    }
    fn put_cold(&mut self, s: std::net::TcpStream) -> io::Result<()> {
        self.get_mut().0.put_cold(s)
    }
}

impl TlsIo for tokio_rustls::client::TlsStream<TcpStream> {
    fn buffered(&mut self) -> bool {
        has_news(self.get_mut().1.process_new_packets())
    }
    fn wants_write(&self) -> bool {
        self.get_ref().1.wants_write()
    }
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self.get_ref().0)
    }
}

impl<S> std::fmt::Debug for TlsConn<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TlsConn({} {})", self.info.version, self.info.cipher)
    }
}

pub struct TlsConn<S> {
    inner: Mutex<S>,
    info: Arc<TlsInfo>,
    /// Counted in the process's open TLS connections while it lives.
    _open: SessionGuard,
}

fn lock<S>(m: &Mutex<S>) -> MutexGuard<'_, S> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn poll_peek<S: TlsIo>(s: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
    if s.buffered() {
        return Poll::Ready(Ok(1));
    }
    let mut b = [0u8; 1];
    let mut rb = ReadBuf::new(&mut b);
    match s.tcp() {
        Some(t) => t.poll_peek(cx, &mut rb),
        None => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
    }
}

impl<S: TlsIo> TlsConn<S> {
    /// `open`: the guard taken when the handshake started ([`super::totals::connection`]).
    pub fn new(stream: S, info: TlsInfo, open: SessionGuard) -> Self {
        TlsConn {
            inner: Mutex::new(stream),
            info: Arc::new(info),
            _open: open,
        }
    }
    fn get(&mut self) -> Pin<&mut S> {
        Pin::new(self.inner.get_mut().unwrap_or_else(|p| p.into_inner()))
    }
    /// What the handshake settled (version, suite, resumption...).
    pub fn info(&self) -> &TlsInfo {
        &self.info
    }

    /// The stream inside (to return a server connection to the idle pool, for example).
    pub fn into_inner(self) -> S {
        self.inner.into_inner().unwrap_or_else(|p| p.into_inner())
    }
    pub fn get_ref(&mut self) -> &mut S {
        self.inner.get_mut().unwrap_or_else(|p| p.into_inner())
    }

    /// The TCP connection's own address.
    pub fn tcp_local_addr(&self) -> Option<std::net::SocketAddr> {
        lock(&self.inner).tcp()?.local_addr().ok()
    }

    /// An idle pooled connection is usable: nothing decrypted is waiting and the socket has
    /// neither data (an alert, a close) nor an EOF; checked with a non-blocking peek.
    pub fn idle_and_open(&self) -> bool {
        let s = lock(&self.inner);
        let Some(tcp) = s.tcp() else {
            return false;
        };
        let mut b = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        matches!(socket2::SockRef::from(tcp).peek(&mut b), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

impl<S: TlsIo> AsyncRead for TlsConn<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get().poll_read(cx, buf)
    }
}

impl<S: TlsIo> AsyncWrite for TlsConn<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get().poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get().poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get().poll_shutdown(cx)
    }
}

pub struct ReadHalf<'a, S>(&'a Mutex<S>);
pub struct WriteHalf<'a, S>(&'a Mutex<S>);

impl<S: TlsIo> AsyncRead for ReadHalf<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(self.0)).poll_read(cx, buf)
    }
}

impl<S: TlsIo> PeekRead for ReadHalf<'_, S> {
    async fn peek_byte(&mut self) -> io::Result<usize> {
        poll_fn(|cx| poll_peek(&mut *lock(self.0), cx)).await
    }
}

impl<S: TlsIo> AsyncWrite for WriteHalf<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(self.0)).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(self.0)).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(self.0)).poll_shutdown(cx)
    }
}

impl<S: TlsIo> ClientStream for TlsConn<S> {
    const UNIX: bool = false;
    const PARK: bool = S::PARK;
    type Read<'a> = ReadHalf<'a, S>;
    type Write<'a> = WriteHalf<'a, S>;
    async fn peek_byte(&mut self) -> io::Result<usize> {
        let s = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        poll_fn(|cx| poll_peek(s, cx)).await
    }
    fn split_halves(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        (ReadHalf(&self.inner), WriteHalf(&self.inner))
    }
    fn tls(&self) -> Option<&Arc<TlsInfo>> {
        Some(&self.info)
    }
    fn with_socket(&self, f: &mut dyn FnMut(socket2::SockRef<'_>)) {
        if let Some(tcp) = lock(&self.inner).tcp() {
            f(socket2::SockRef::from(tcp));
        }
    }
    /// The socket goes to the lot; the rest of the connection (rustls's state, what the
    /// handshake settled) waits beside it, boxed. Parked only when rustls holds nothing
    /// either way (the idle wait found nothing decrypted, and responses are flushed); one that
    /// does, or whose socket cannot leave the runtime, is closed.
    fn into_cold(mut self) -> Result<io::Result<Cold>, Self> {
        if !S::PARK {
            return Err(self);
        }
        let s = self.get_ref();
        if s.buffered() || s.wants_write() {
            return Ok(Err(io::ErrorKind::WouldBlock.into()));
        }
        Ok(match s.take_cold() {
            Some(sock) => Ok(Cold::With(sock, Box::new(Box::new(self)))),
            None => Err(io::ErrorKind::NotConnected.into()),
        })
    }
    fn from_cold(cold: Cold) -> io::Result<Self> {
        let Cold::With(sock, rest) = cold else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        let mut conn = *(*rest)
            .downcast::<Self>()
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        conn.get_ref().put_cold(sock)?;
        Ok(conn)
    }
}

/// A boxed TLS connection is a stream too: a server connection goes through a request's
/// exchange in its box (`connect::ServerConn::Tls`), so the request's future carries a
/// pointer rather than the TLS state. Never parked (only client connections are).
impl<S: TlsIo> ClientStream for Box<TlsConn<S>> {
    const UNIX: bool = false;
    type Read<'a> = ReadHalf<'a, S>;
    type Write<'a> = WriteHalf<'a, S>;
    fn peek_byte(&mut self) -> impl std::future::Future<Output = io::Result<usize>> + Send {
        (**self).peek_byte()
    }
    fn split_halves(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        (**self).split_halves()
    }
    fn tls(&self) -> Option<&Arc<TlsInfo>> {
        Some(&self.info)
    }
    fn with_socket(&self, f: &mut dyn FnMut(socket2::SockRef<'_>)) {
        (**self).with_socket(f)
    }
}

/// What the handshake settled, for the fetches and logs.
/// Counts a handshake as HAProxy's SSL stats module does: `Some(resumed)` when it succeeded
/// (a full one or a resumed one), `None` when it failed.
pub fn count_handshake(c: &Counters, outcome: Option<bool>, frontend: bool) {
    if outcome == Some(false) {
        super::totals::full_handshake(frontend);
    }
    c.inc(match outcome {
        Some(false) => Ctr::SslSess,
        Some(true) => Ctr::SslReused,
        None => Ctr::SslFailed,
    });
}

pub fn info(c: &rustls::CommonState) -> TlsInfo {
    let suite = c.negotiated_cipher_suite();
    TlsInfo {
        version: match c.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "",
        },
        cipher: suite.map_or("", super::suites::openssl_name),
        bits: suite.map_or(0, super::suites::bits),
        sni: None,
        alpn: c.alpn_protocol().map(|p| String::from_utf8_lossy(p).into()),
        resumed: c.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        client_cert: c
            .peer_certificates()
            .and_then(|v| v.first())
            .and_then(|cert| client_cert(cert).map(Box::new)),
    }
}

/// What the `ssl_c_*` fetches read of a client certificate (DER).
fn client_cert(cert: &[u8]) -> Option<ClientCert> {
    use super::der::validity_raw;
    use super::der::{attributes, dn_text, fields, key_alg_name, serial_hex, sig_alg_name};
    let f = fields(cert)?;
    let (not_before, not_after) = validity_raw(f.validity).unwrap_or_default();
    Some(ClientCert {
        subject: dn_text(f.subject),
        issuer: dn_text(f.issuer),
        serial: serial_hex(f.serial),
        subject_entries: attributes(f.subject),
        issuer_entries: attributes(f.issuer),
        sha1: ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert)
            .as_ref()
            .to_vec(),
        not_before,
        not_after,
        version: f.version + 1,
        sig_alg: sig_alg_name(f.sig_alg),
        key_alg: key_alg_name(f.spki),
    })
}
