//! The in-memory byte pipes between one HTTP/2 stream and the session that serves it: the
//! stream's request goes to the session as HTTP/1 bytes through one pipe, the session's
//! answer comes back through the other. [`StreamIo`] is the session's side, a
//! [`ClientStream`] like a TCP connection (so the phases run unchanged); [`Sender`] and
//! [`Receiver`] are the stream driver's ends.
//!
//! Each pipe holds at most `cap` bytes: a writer waits (backpressure) until the reader has
//! taken some, so a slow side slows the other instead of growing memory, and HTTP/2 flow
//! control (window updates) follows what the session really consumed. Dropping one end is
//! seen by the other: the reader gets end of file, the writer a broken pipe.

use crate::stream::{ClientStream, PeekRead};
use bytes::{Bytes, BytesMut};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Default)]
struct State {
    buf: BytesMut,
    /// The writer finished (shutdown or dropped): end of file once `buf` is drained.
    closed: bool,
    /// The reader is gone: writes fail.
    gone: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

struct Shared {
    state: Mutex<State>,
    cap: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain bytes and flags: still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut s = self.lock();
        if s.gone {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if s.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = self.cap.saturating_sub(s.buf.len());
        if room == 0 {
            s.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        s.buf.extend_from_slice(&data[..n]);
        if let Some(w) = s.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        if let Some(w) = s.reader.take() {
            w.wake();
        }
    }

    /// Ready with how many bytes wait (0: end of file) without taking them.
    fn poll_peek(&self, cx: &mut Context<'_>) -> Poll<usize> {
        let mut s = self.lock();
        if !s.buf.is_empty() || s.closed {
            return Poll::Ready(s.buf.len());
        }
        s.reader = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Takes up to `max` bytes (empty: end of file).
    fn poll_take(&self, cx: &mut Context<'_>, max: usize) -> Poll<Bytes> {
        let mut s = self.lock();
        if s.buf.is_empty() {
            if s.closed {
                return Poll::Ready(Bytes::new());
            }
            s.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = max.min(s.buf.len());
        let out = s.buf.split_to(n).freeze();
        if let Some(w) = s.writer.take() {
            w.wake();
        }
        Poll::Ready(out)
    }

    fn reader_gone(&self) {
        let mut s = self.lock();
        s.gone = true;
        s.buf.clear();
        if let Some(w) = s.writer.take() {
            w.wake();
        }
    }
}

/// A pipe of at most `cap` bytes in flight.
pub fn pipe(cap: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        cap: cap.max(1),
    });
    (Sender(shared.clone()), Receiver(shared))
}

/// The writing end of a pipe.
pub struct Sender(Arc<Shared>);

impl Sender {
    /// Writes all of `data`, waiting for room.
    pub async fn send(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = poll_fn(|cx| self.0.poll_write(cx, data)).await?;
            data = &data[n..];
        }
        Ok(())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The reading end of a pipe.
pub struct Receiver(Arc<Shared>);

impl Receiver {
    /// The next bytes, at most `max` (empty: the writer finished).
    pub fn recv(&self, max: usize) -> impl Future<Output = Bytes> + '_ {
        poll_fn(move |cx| self.0.poll_take(cx, max))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.0.reader_gone();
    }
}

impl AsyncRead for Receiver {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.0.poll_take(cx, buf.remaining()) {
            Poll::Ready(b) => {
                buf.put_slice(&b);
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl PeekRead for &mut Receiver {
    async fn peek_byte(&mut self) -> io::Result<usize> {
        Ok(poll_fn(|cx| self.0.poll_peek(cx)).await)
    }
}

impl AsyncWrite for Sender {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write(cx, data)
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.close();
        Poll::Ready(Ok(()))
    }
}

/// The session's side of one HTTP/2 stream: reads the request, writes the answer.
pub struct StreamIo {
    pub request: Receiver,
    pub answer: Sender,
    /// The connection's TLS handshake, when HTTP/2 runs over TLS.
    pub tls: Option<Arc<crate::stream::TlsInfo>>,
}

impl AsyncRead for StreamIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.request).poll_read(cx, buf)
    }
}

impl AsyncWrite for StreamIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.answer).poll_write(cx, data)
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.answer).poll_shutdown(cx)
    }
}

impl ClientStream for StreamIo {
    const UNIX: bool = false;
    const H2: bool = true;
    type Read<'a> = &'a mut Receiver;
    type Write<'a> = &'a mut Sender;
    async fn peek_byte(&mut self) -> io::Result<usize> {
        Ok(poll_fn(|cx| self.request.0.poll_peek(cx)).await)
    }
    fn split_halves(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        (&mut self.request, &mut self.answer)
    }
    fn tls(&self) -> Option<&Arc<crate::stream::TlsInfo>> {
        self.tls.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_flow_with_backpressure_and_end_of_file() {
        let (tx, mut rx) = pipe(4);
        let writer = tokio::spawn(async move { tx.send(b"hello world").await });
        let mut got = Vec::new();
        let n = rx.read_to_end(&mut got).await.expect("read");
        assert_eq!((n, &got[..]), (11, &b"hello world"[..]));
        assert!(writer.await.is_ok());
    }

    #[tokio::test]
    async fn a_gone_reader_breaks_the_writer() {
        let (mut tx, rx) = pipe(4);
        drop(rx);
        let e = tx.write_all(b"x").await.expect_err("broken pipe");
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }

    #[tokio::test]
    async fn peek_waits_without_consuming() {
        let (tx, rx) = pipe(16);
        let mut io = StreamIo {
            request: rx,
            answer: pipe(1).0,
            tls: None,
        };
        tx.send(b"ab").await.expect("send");
        assert_eq!(io.peek_byte().await.expect("peek"), 2);
        assert_eq!(io.request.recv(10).await, Bytes::from_static(b"ab"));
        drop(tx);
        assert_eq!(io.peek_byte().await.expect("peek"), 0);
    }
}
