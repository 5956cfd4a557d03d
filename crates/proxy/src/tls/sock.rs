//! The TCP socket under a client's TLS stream, which an idle connection takes off the
//! runtime and puts back: tokio-rustls cannot rebuild a stream from its parts, so the stream
//! keeps this wrapper for its whole life and the socket is taken out of it while parked.
//! Here, it is the runtime's `TcpStream` (reads and writes pass straight through); out, the
//! parking lot watches it as a plain descriptor (`park`), and a read or write here fails.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub enum Sock {
    /// On the runtime.
    Live(TcpStream),
    /// Taken out while its connection is parked (the lot holds it, off the runtime).
    Out,
}

impl Sock {
    /// The runtime's socket, while it is here.
    pub fn live(&self) -> Option<&TcpStream> {
        match self {
            Sock::Live(s) => Some(s),
            Sock::Out => None,
        }
    }

    /// Takes the socket out, off the runtime's registrations (`None`: it was not here, or
    /// could not be taken off; it is then closed).
    pub fn take_cold(&mut self) -> Option<std::net::TcpStream> {
        match std::mem::replace(self, Sock::Out) {
            Sock::Live(s) => s.into_std().ok(),
            Sock::Out => None,
        }
    }

    /// Puts a cold socket back, on the runtime (something arrived).
    pub fn put_cold(&mut self, s: std::net::TcpStream) -> io::Result<()> {
        *self = Sock::Live(TcpStream::from_std(s)?);
        Ok(())
    }

    fn get(self: Pin<&mut Self>) -> io::Result<Pin<&mut TcpStream>> {
        match self.get_mut() {
            Sock::Live(s) => Ok(Pin::new(s)),
            Sock::Out => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl AsyncRead for Sock {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get()?.poll_read(cx, buf)
    }
}

impl AsyncWrite for Sock {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get()?.poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get()?.poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get()?.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get()?.poll_shutdown(cx)
    }
}
