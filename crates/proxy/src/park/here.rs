//! The fallback of a connection the lot cannot take (another stop signal, no runtime, no
//! epoll set): it waits in its own task for what the lot would wait for.

use super::{sleep_opt, Parked};
use std::os::fd::{AsRawFd, RawFd};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::watch;
use tokio::time::Instant;

/// A socket the caller's task watches without owning it ([`wait_here`]).
struct Borrowed(RawFd);

impl AsRawFd for Borrowed {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Waits in the caller's task for what the lot would wait for (`conn` could not be parked).
pub async fn wait_here<T: Parked>(
    conn: T,
    deadline: Option<Instant>,
    mut stop: watch::Receiver<bool>,
) {
    // Registered for the wait only (dropped, so deregistered, before `resume` registers
    // the socket again, and before `conn` closes it on the other paths: the descriptor
    // stays open and the same while registered, the I/O safety the deprecation is about);
    // a socket the runtime cannot take is closed.
    #[allow(deprecated)]
    let Ok(watch) = AsyncFd::with_interest(Borrowed(conn.fd().as_raw_fd()), Interest::READABLE) else {
        return;
    };
    let arrived = tokio::select! {
        // Bytes, a close or an error: the session reads and sees which.
        _ = watch.readable() => true,
        _ = sleep_opt(deadline) => false,
        _ = stop.changed() => false,
    };
    drop(watch);
    if arrived {
        conn.resume();
    }
}
