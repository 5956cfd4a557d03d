//! `sockpair@N`: connections that arrive as file descriptors over the unix socket N, as
//! HAProxy's `sockpair@` (one byte of data with an `SCM_RIGHTS` message per connection).
//!
//! Only the receiving side: [`recv_fd`] reads one message, [`stream`] turns the descriptor
//! into a TCP or unix client connection by its family.

use crate::stream::Conn;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use socket2::{Domain, Socket};
use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd};

pub enum Received {
    Fd(OwnedFd),
    /// A message without a descriptor.
    Nothing,
    /// The other end closed the pair.
    Closed,
}

/// Reads one message (non-blocking: `WouldBlock` when there is none).
pub fn recv_fd(s: &tokio::net::UnixStream) -> io::Result<Received> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let msg = recvmsg::<()>(
        s.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT,
    )
    .map_err(io::Error::from)?;
    let mut fds = Vec::new();
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmRights(v) = c {
                fds.extend(v);
            }
        }
    }
    if fds.is_empty() {
        return Ok(if msg.bytes == 0 {
            Received::Closed
        } else {
            Received::Nothing
        });
    }
    let mut owned: Vec<OwnedFd> = fds
        .into_iter()
        .filter_map(crate::inherit::adopt_received)
        .collect();
    // HAProxy sends one descriptor per message; any extra would leak, so they are closed.
    match owned.len() {
        0 => Ok(Received::Nothing),
        _ => Ok(Received::Fd(owned.swap_remove(0))),
    }
}

/// A received connection as a client stream.
pub(crate) fn stream(fd: OwnedFd) -> io::Result<Conn> {
    let s = Socket::from(fd);
    s.set_nonblocking(true)?;
    if s.domain()? == Domain::UNIX {
        let u = tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(
            OwnedFd::from(s),
        ))?;
        return Ok(Conn::Unix(u));
    }
    let _ = s.set_nodelay(true);
    let t = tokio::net::TcpStream::from_std(std::net::TcpStream::from(s))?;
    let peer = t.peer_addr()?;
    let local = t.local_addr().unwrap_or(peer);
    Ok(Conn::Tcp(t, peer, local))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{sendmsg, ControlMessage};
    use std::io::{IoSlice, Read, Write};
    use std::os::fd::AsRawFd;

    #[test]
    fn receives_a_connection_as_haproxy_sends_it() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async {
            let (tx, rx) = std::os::unix::net::UnixStream::pair().expect("pair");
            rx.set_nonblocking(true).expect("nb");
            let rx = tokio::net::UnixStream::from_std(rx).expect("tokio");
            let (mut client, conn) = std::os::unix::net::UnixStream::pair().expect("conn pair");
            let fds = [conn.as_raw_fd()];
            sendmsg::<()>(
                tx.as_raw_fd(),
                &[IoSlice::new(b"\0")],
                &[ControlMessage::ScmRights(&fds)],
                MsgFlags::empty(),
                None,
            )
            .expect("send");
            drop(conn);
            let got = rx
                .async_io(tokio::io::Interest::READABLE, || recv_fd(&rx))
                .await
                .expect("recv");
            let Received::Fd(fd) = got else {
                panic!("no descriptor received")
            };
            let Ok(Conn::Unix(u)) = stream(fd) else {
                panic!("not a unix stream")
            };
            let mut u = u.into_std().expect("std");
            u.set_nonblocking(false).expect("blocking");
            client.write_all(b"hi").expect("write");
            let mut b = [0u8; 2];
            u.read_exact(&mut b).expect("read");
            assert_eq!(&b, b"hi");
            drop(tx);
            let closed = rx
                .async_io(tokio::io::Interest::READABLE, || recv_fd(&rx))
                .await
                .expect("recv");
            assert!(matches!(closed, Received::Closed));
        });
    }
}
