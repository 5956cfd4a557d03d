//! The sockets of finished plain connect checks, kept for the next checks. A check's socket is
//! not closed but disconnected: `connect` to an `AF_UNSPEC` address makes the kernel send the
//! same RST a close with `SO_LINGER 0` sends (what HAProxy does) and puts the socket back in
//! its unconnected state, so the next check (to any server of the same address family) skips
//! creating a socket and its file and tearing them down: two system calls fewer per check
//! (socket and close; the disconnect replaces `SO_LINGER`), and most of the kernel's work
//! outside TCP itself. What the server sees is unchanged: SYN, the delayed ACK never sent, RST
//! (TCP_QUICKACK is set again before every connect: the disconnect clears it). At most
//! [`SPARE_MAX`] sockets a family are kept; a socket whose disconnect fails is closed.

use socket2::{Domain, SockAddr, Socket, Type};
use std::net::SocketAddr;
use std::time::Duration;

/// Disconnected sockets kept per address family (more than a tick's batch never waits).
pub(crate) const SPARE_MAX: usize = 64;

pub(crate) struct Spares {
    /// The `AF_UNSPEC` address a disconnect `connect`s to (None: no reuse, close as HAProxy).
    unspec: Option<SockAddr>,
    v4: Vec<Socket>,
    v6: Vec<Socket>,
    /// Sockets created (not taken from the spares) since start: the tests' measure.
    pub created: u64,
}

/// An all-zero socket address: family 0, `AF_UNSPEC`.
#[allow(unsafe_code)]
fn unspecified() -> Option<SockAddr> {
    // SAFETY: `try_init` hands over a zeroed `sockaddr_storage` with its full length; left as
    // it is, its family is AF_UNSPEC (0), for which all-zero storage is the whole (valid)
    // content. Nothing is written through the pointers.
    unsafe { SockAddr::try_init(|_, _| Ok(())) }
        .ok()
        .map(|(_, a)| a)
}

impl Spares {
    pub fn new() -> Spares {
        Spares {
            unspec: unspecified(),
            v4: Vec::new(),
            v6: Vec::new(),
            created: 0,
        }
    }

    fn pool(&mut self, v6: bool) -> &mut Vec<Socket> {
        if v6 {
            &mut self.v6
        } else {
            &mut self.v4
        }
    }

    /// A socket for a check to `dst`: a spare one, else a new non-blocking one.
    pub fn take(&mut self, dst: SocketAddr) -> std::io::Result<Socket> {
        if let Some(s) = self.pool(dst.is_ipv6()).pop() {
            return Ok(s);
        }
        self.created += 1;
        Socket::new(Domain::for_address(dst), Type::STREAM.nonblocking(), None)
    }

    /// A check's socket once its connect succeeded (`v6`: its family): reset and kept, or
    /// closed with a reset when it cannot be disconnected or enough are kept.
    pub fn give_back(&mut self, socket: Socket, v6: bool) {
        let reset = match &self.unspec {
            Some(unspec) => socket.connect(unspec).is_ok(),
            None => false,
        };
        if !reset {
            // as HAProxy: a single RST as it closes
            let _ = socket.set_linger(Some(Duration::ZERO));
            return;
        }
        let pool = self.pool(v6);
        if pool.len() < SPARE_MAX {
            pool.push(socket);
        }
        // else: closed, already reset (no second RST: the socket is unconnected)
    }
}
