//! The opening of a `mode tcp` session: from the server connection's establishment until the
//! server's first byte. The client's bytes forwarded meanwhile are kept (up to a cap), so a
//! server that resets the connection before answering (killed with the request still in its
//! accept queue or unread) can be replaced by another one and the bytes replayed there: the
//! client sees no failure. Once the server has sent a byte, or the client has sent more than
//! the cap, or half-closed, the session is committed to that server and the byte tunnel takes
//! over. An opening bounded by the session's idle timeout ends as a timeout would.
//!
//! Replayed: a reset (or a failed write) before the server's first byte, whatever was sent (a
//! server resets a connection closed with unread data, so it did not consume it all); a clean
//! close before the first byte only when nothing was sent yet (a server that read a request
//! and closed may have acted on it: that ends as a server close, as in HAProxy).

use crate::buf_pool::Lent;
use crate::stream::ClientStream;
use bytes::BytesMut;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How an opening ended.
#[derive(Debug)]
pub enum Opening {
    /// The server answered (or the client closed or sent more than the cap): tunnel from
    /// here. `sent`: client bytes already forwarded.
    Committed { sent: u64 },
    /// The server failed before answering: replay these client bytes elsewhere.
    Replay(BytesMut),
    /// The server sent no byte within the idle timeout. `sent`: client bytes it was given.
    Idle { sent: u64 },
    /// Reading the client failed (a reset) before the server's first byte.
    ClientFailed { sent: u64 },
}

/// Runs the opening on a fresh server connection: first writes `preface` (a PROXY protocol
/// header) and `kept` (the bytes a failed server had been sent), then relays client bytes to
/// the server until the server's first byte. With `first`, the server's first bytes are read
/// into it (the caller forwards them) rather than peeked at and left in the socket: one
/// system call less per connection where nothing inspects them.
pub async fn open<C: ClientStream, S: ClientStream>(
    client: &mut C,
    server: &mut S,
    (preface, kept): (&[u8], BytesMut),
    cap: usize,
    idle: Option<Duration>,
    mut first: Option<&mut BytesMut>,
) -> Opening {
    // Back to the thread's pool when the opening ends, unless replayed.
    let mut kept = Lent::from(kept);
    // The client's first bytes, read at once and sent with what goes first (HAProxy tries a
    // socket before it polls it): a session whose server connection was made within
    // `connect()` (loopback, `connect::tcp_with`) forwards them in the turn that accepted the
    // client, before the runtime reports the server's socket (a turn of its loop less per
    // connection). Else the read is the one the loop below would have made first (or, a
    // client that has sent nothing yet, one `recv` that finds nothing, as there).
    if kept.is_empty() {
        match read_now(client, &mut kept) {
            Ok(_) => {}
            Err(_) => return Opening::ClientFailed { sent: 0 },
        }
    }
    if !preface.is_empty() && send(server, preface).await.is_err() {
        return Opening::Replay(kept.into_inner());
    }
    if !kept.is_empty() && send(server, &kept).await.is_err() {
        return Opening::Replay(kept.into_inner());
    }
    if kept.len() >= cap {
        return Opening::Committed {
            sent: kept.len() as u64,
        };
    }
    let mut deadline = idle.map(|d| tokio::time::Instant::now() + d);
    loop {
        let from_client = tokio::select! {
            biased;
            r = first_bytes(server, first.as_deref_mut()) => {
                return match r {
                    Ok(n) if n > 0 => Opening::Committed { sent: kept.len() as u64 },
                    Ok(_) if !kept.is_empty() => Opening::Committed { sent: kept.len() as u64 },
                    _ => Opening::Replay(kept.into_inner()),
                };
            }
            r = client.ready() => r,
            _ = sleep_until(deadline) => return Opening::Idle { sent: kept.len() as u64 },
        };
        match from_client {
            Ok(n) if n > 0 => {}
            // The client closed: the tunnel relays that (and any answer).
            Ok(_) => {
                return Opening::Committed {
                    sent: kept.len() as u64,
                }
            }
            Err(_) => {
                return Opening::ClientFailed {
                    sent: kept.len() as u64,
                }
            }
        }
        let before = kept.len();
        kept.fill_from_pool();
        kept.reserve(4096);
        let room = kept.capacity() - before;
        // Read at once where the stream can (a plain socket: no peek before the read).
        let read = match client.try_read_buf(&mut kept) {
            Some(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Some(r) => r,
            None => client.read_buf(&mut *kept).await,
        };
        match read {
            Ok(n) if n > 0 => {
                if n < room {
                    // The socket is empty: the next wait is on readiness, not `EAGAIN`.
                    client.drained();
                }
            }
            Ok(_) => {
                return Opening::Committed {
                    sent: before as u64,
                }
            }
            Err(_) => {
                return Opening::ClientFailed {
                    sent: before as u64,
                }
            }
        }
        if server.write_all(&kept[before..]).await.is_err() {
            return Opening::Replay(kept.into_inner());
        }
        if kept.len() >= cap {
            return Opening::Committed {
                sent: kept.len() as u64,
            };
        }
        deadline = idle.map(|d| tokio::time::Instant::now() + d);
    }
}

/// Reads what the client has sent so far into `kept`, without waiting (an accepted socket is
/// taken as readable until a read finds nothing): the bytes read, 0 when none (or when this
/// kind of stream cannot read without waiting); a pooled buffer is held only when bytes came.
fn read_now<C: ClientStream>(client: &mut C, kept: &mut Lent) -> std::io::Result<usize> {
    kept.fill_from_pool();
    kept.reserve(4096);
    let room = kept.capacity() - kept.len();
    let n = match client.try_read_buf(kept) {
        Some(Ok(n)) => n,
        Some(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Some(Err(e)) => return Err(e),
        None => 0,
    };
    if n > 0 && n < room {
        // The socket is empty: the next wait is on readiness, not `EAGAIN`.
        client.drained();
    }
    if kept.is_empty() {
        kept.give_back();
    }
    Ok(n)
}

/// Writes all of `data` to the server: a plain TCP socket is written at once, without waiting
/// for the runtime to have reported it writable (a connection made within `connect()`,
/// `connect::tcp_with`); what the kernel did not take then waits for that report.
async fn send<S: ClientStream>(server: &mut S, data: &[u8]) -> std::io::Result<()> {
    let mut data = data;
    if let Some(s) = server.plain_tcp() {
        match socket2::SockRef::from(s).send_with_flags(data, libc::MSG_NOSIGNAL) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    if !data.is_empty() {
        server.write_all(data).await?;
    }
    Ok(())
}

/// Waits for the server's first byte (0: it closed): peeked at without `into`, read into
/// `into` where the stream reads without waiting (a plain socket), peeked at otherwise.
async fn first_bytes<S: ClientStream>(
    server: &mut S,
    into: Option<&mut BytesMut>,
) -> std::io::Result<usize> {
    let Some(buf) = into else {
        return server.peek_byte().await;
    };
    loop {
        // Exact where the stream cannot read without waiting (a peek), readiness otherwise.
        let ready = server.ready().await?;
        if ready == 0 {
            return Ok(0);
        }
        if buf.capacity() == 0 {
            // The caller forwards them and gives the buffer back (`tunnel`).
            *buf = crate::buf_pool::take_bytes();
        }
        buf.reserve(4096);
        let room = buf.capacity() - buf.len();
        match server.try_read_buf(buf) {
            None => return Ok(ready),
            Some(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Some(Ok(n)) => {
                if n > 0 && n < room {
                    // The socket is empty: the tunnel's next read waits on readiness.
                    server.drained();
                }
                return Ok(n);
            }
            Some(Err(e)) => return Err(e),
        }
    }
}

/// Until `deadline` (its timer armed at the worker's next tick: most openings end before,
/// `lazy_timer`), or never.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => crate::lazy_timer::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    async fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let a = l.local_addr().expect("addr");
        let c = TcpStream::connect(a).await.expect("connect");
        let (s, _) = l.accept().await.expect("accept");
        (c, s)
    }

    /// `open` with no PROXY header and a 16 KB cap.
    async fn opened(
        client: &mut TcpStream,
        server: &mut TcpStream,
        kept: BytesMut,
        idle: Option<Duration>,
        first: Option<&mut BytesMut>,
    ) -> Opening {
        open(client, server, (b"", kept), 1 << 14, idle, first).await
    }

    /// Each test runs twice: the server's first byte peeked at, then read into `got`.
    fn first(read: bool, got: &mut BytesMut) -> Option<&mut BytesMut> {
        read.then_some(got)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt")
    }

    #[test]
    fn a_reset_before_the_first_byte_asks_for_a_replay_of_what_was_sent() {
        for read in [false, true] {
            let mut read_first = BytesMut::new();
            rt().block_on(async {
                let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                // client side: `user` is what the client holds, `client` the proxy's end.
                let (mut user, mut client) = pair(&l).await;
                let (mut server, mut backend) = pair(&l).await;
                user.write_all(b"PING\r\n").await.expect("write");
                let reset = async {
                    let mut got = [0u8; 6];
                    backend.read_exact(&mut got).await.expect("read");
                    assert_eq!(&got, b"PING\r\n");
                    // Unread data at close makes a RST; set linger 0 to force one either way.
                    socket2::SockRef::from(&backend)
                        .set_linger(Some(Duration::ZERO))
                        .expect("linger");
                    drop(backend);
                };
                let (o, ()) = tokio::join!(
                    opened(
                        &mut client,
                        &mut server,
                        BytesMut::new(),
                        None,
                        first(read, &mut read_first)
                    ),
                    reset
                );
                match o {
                    Opening::Replay(b) => assert_eq!(&b[..], b"PING\r\n"),
                    o => panic!("{o:?}"),
                }
            });
        }
    }

    #[test]
    fn the_servers_first_byte_commits_and_replayed_bytes_go_first() {
        for read in [false, true] {
            let mut read_first = BytesMut::new();
            rt().block_on(async {
                let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let (_user, mut client) = pair(&l).await;
                let (mut server, mut backend) = pair(&l).await;
                let answer = async {
                    let mut got = [0u8; 3];
                    backend.read_exact(&mut got).await.expect("read");
                    assert_eq!(&got, b"old");
                    backend.write_all(b"+OK").await.expect("write");
                    backend
                };
                let (o, _b) = tokio::join!(
                    opened(
                        &mut client,
                        &mut server,
                        BytesMut::from(&b"old"[..]),
                        None,
                        first(read, &mut read_first)
                    ),
                    answer
                );
                assert!(matches!(o, Opening::Committed { sent: 3 }), "{o:?}");
            });
        }
    }

    #[test]
    fn a_clean_close_after_a_request_is_not_replayed_but_one_before_is() {
        for read in [false, true] {
            let mut read_first = BytesMut::new();
            rt().block_on(async {
                let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let (_user, mut client) = pair(&l).await;
                let (mut server, backend) = pair(&l).await;
                drop(backend);
                let o = opened(
                    &mut client,
                    &mut server,
                    BytesMut::new(),
                    None,
                    first(read, &mut read_first),
                )
                .await;
                assert!(matches!(o, Opening::Replay(ref b) if b.is_empty()), "{o:?}");

                let (mut user, mut client) = pair(&l).await;
                let (mut server, mut backend) = pair(&l).await;
                user.write_all(b"Q").await.expect("write");
                let close = async {
                    let mut got = [0u8; 1];
                    backend.read_exact(&mut got).await.expect("read");
                    drop(backend);
                };
                let (o, ()) = tokio::join!(
                    opened(
                        &mut client,
                        &mut server,
                        BytesMut::new(),
                        None,
                        first(read, &mut read_first)
                    ),
                    close
                );
                assert!(matches!(o, Opening::Committed { sent: 1 }), "{o:?}");
            });
        }
    }

    /// The client's first bytes reach a server connection made within `connect()` (eager,
    /// loopback) in the opening's first poll: before the runtime reported either socket.
    #[test]
    fn the_clients_first_bytes_go_out_in_the_first_poll() {
        use std::future::Future;
        rt().block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let (mut user, mut client) = pair(&l).await;
            user.write_all(b"HELLO").await.expect("write");
            let backend_l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let to = backend_l.local_addr().expect("addr");
            let mut server = crate::connect::tcp_with(to, None, true)
                .await
                .expect("connect");
            let mut got_first = BytesMut::new();
            {
                let o = opened(
                    &mut client,
                    &mut server,
                    BytesMut::new(),
                    None,
                    Some(&mut got_first),
                );
                let mut o = std::pin::pin!(o);
                let polled =
                    std::future::poll_fn(|cx| std::task::Poll::Ready(o.as_mut().poll(cx))).await;
                assert!(polled.is_pending(), "waits for the server's answer");
            }
            // Sent on loopback within that poll: already in the backend's socket.
            let (mut backend, _) = backend_l.accept().expect("accept");
            backend.set_nonblocking(true).expect("nonblocking");
            let mut got = [0u8; 8];
            let n = std::io::Read::read(&mut backend, &mut got).expect("sent in the first poll");
            assert_eq!(&got[..n], b"HELLO");
        });
    }

    #[test]
    fn silence_ends_as_idle() {
        for read in [false, true] {
            let mut read_first = BytesMut::new();
            rt().block_on(async {
                let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let (_user, mut client) = pair(&l).await;
                let (mut server, _backend) = pair(&l).await;
                let o = opened(
                    &mut client,
                    &mut server,
                    BytesMut::new(),
                    Some(Duration::from_millis(50)),
                    first(read, &mut read_first),
                )
                .await;
                assert!(matches!(o, Opening::Idle { .. }), "{o:?}");
            });
        }
    }

    #[test]
    fn the_servers_first_bytes_are_read_into_first_when_asked_and_left_unread_otherwise() {
        for read in [false, true] {
            let mut read_first = BytesMut::new();
            rt().block_on(async {
                let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let (_user, mut client) = pair(&l).await;
                let (mut server, mut backend) = pair(&l).await;
                backend.write_all(b"+OK").await.expect("write");
                let o = opened(
                    &mut client,
                    &mut server,
                    BytesMut::new(),
                    None,
                    first(read, &mut read_first),
                )
                .await;
                assert!(matches!(o, Opening::Committed { sent: 0 }), "{o:?}");
                let mut left = [0u8; 8];
                if read {
                    assert_eq!(&read_first[..], b"+OK");
                    let e = server.try_read(&mut left).expect_err("consumed");
                    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
                } else {
                    assert_eq!(server.read(&mut left).await.expect("read"), 3);
                    assert_eq!(&left[..3], b"+OK");
                }
            });
            assert_eq!(read_first.is_empty(), !read);
        }
    }
}
