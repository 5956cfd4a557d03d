//! A keep-alive connection between requests: its server connection handed to the idle pool
//! (or kept when private), its buffers given back, and taken again when bytes arrive. Quiet
//! for longer than `park::PARK_AFTER`, it is parked: its task ends, and what the next request
//! needs waits in the thread's parking lot ([`IdleConn`], under two hundred bytes in the lot's
//! slots, the socket off the runtime's registrations) until bytes arrive and the session is spawned again.

use super::*;
use crate::counters::SessionGuard;
use crate::park::{self, Parked};
use crate::stream::{ClientStream, Cold};
use std::os::fd::{AsFd, BorrowedFd};

/// How a connection's run of requests ended.
pub(super) enum End {
    /// Closed, or to be closed.
    Done,
    /// Idle: to be parked until this deadline (`park`).
    Park(Option<tokio::time::Instant>),
}

/// Runs a connection's requests until it closes, or parks it when it turns quiet.
pub(super) async fn live<C: ClientStream, K: Send + 'static>(
    mut s: Box<Session<C>>,
    counted: SessionGuard,
    keep: K,
) {
    match s.run().await {
        End::Done => {
            if let Some(a) = s.attached.take() {
                a.release();
            }
            // The next connection of this thread reuses them (its shell too).
            s.release_bufs();
            super::super::bufs::give_shell(s.bufs);
        }
        End::Park(deadline) => {
            s.release_bufs();
            let s = *s;
            super::super::bufs::give_shell(s.bufs);
            // Only streams that say `PARK` come here, and they can all be taken off the
            // runtime; one that could not is closed, as at the idle deadline.
            let Ok(Ok(client)) = s.client.into_cold() else {
                return;
            };
            let stop = s.stop.clone();
            let idle = IdleConn::<C, K> {
                fe: s.fe,
                client,
                peer: s.peer,
                local: s.local,
                stop: s.stop,
                since: s.wait_from.unwrap_or_else(crate::clock::monotonic_ns),
                served: s.served,
                track: s.track,
                attached: s.attached.map(Box::new),
                counted,
                keep,
                kind: std::marker::PhantomData,
            };
            if let Err(idle) = park::park(idle, deadline, &stop) {
                park::wait_here(idle, deadline, stop).await;
            }
        }
    }
}

/// What a parked connection keeps: the client socket and what its next request's session
/// starts from. Dropping it closes the connection (its counters and permits go with it).
pub(super) struct IdleConn<C, K> {
    fe: Arc<Frontend>,
    /// The socket, off the runtime while parked.
    client: Cold,
    peer: SocketAddr,
    local: SocketAddr,
    stop: watch::Receiver<bool>,
    /// When the wait for the next request began (its deadlines run from here;
    /// `clock::monotonic_ns`).
    since: u64,
    served: u32,
    track: Option<Arc<Tracking>>,
    /// A private server connection (`http-reuse never`, NTLM), kept while idle.
    attached: Option<Box<Attached>>,
    counted: SessionGuard,
    keep: K,
    /// The kind of stream it goes back to.
    kind: std::marker::PhantomData<fn() -> C>,
}

impl<C: ClientStream, K: Send + 'static> Parked for IdleConn<C, K> {
    fn fd(&self) -> BorrowedFd<'_> {
        self.client.as_fd()
    }

    fn stopping(&self) -> bool {
        // a stop, or its generation's connections ended (`hard-stop-after`...)
        *self.stop.borrow() || self.fe.end.ended()
    }

    fn resume(self) {
        let i = self;
        // Back on the runtime; a socket it cannot take is closed (the guards go with it).
        let Ok(client) = C::from_cold(i.client) else {
            return;
        };
        let end = i.fe.end.tracker();
        let shell = super::super::bufs::shell();
        let mut s = Session::fresh(
            i.fe,
            client,
            (i.peer, i.local),
            i.stop,
            i.track,
            // (its own task: outside the listener's, as a task-local `%Th` was)
            (
                tokio::time::Instant::from_std(crate::clock::instant_of(i.since)),
                std::time::Duration::ZERO,
            ),
            shell,
        );
        s.attached = i.attached.map(|a| *a);
        s.wait_from = Some(i.since);
        s.served = i.served;
        crate::end::spawn(end, live(s, i.counted, i.keep));
    }
}

impl<C: ClientStream> Session<C> {
    /// The client connection is idle between requests: it keeps no buffers and no shared
    /// server connection.
    pub(super) fn go_idle(&mut self) {
        self.release_bufs();
        if self.attached.as_ref().is_some_and(|a| !a.private) {
            if let Some(a) = self.attached.take() {
                a.release();
            }
        }
    }

    /// Gives this connection's transaction buffers back to the thread's pool.
    pub(super) fn release_bufs(&mut self) {
        super::super::bufs::give_back(&mut self.bufs);
    }

    /// Takes a set of transaction buffers from the thread's pool (bytes have arrived).
    pub(super) fn acquire_bufs(&mut self) {
        super::super::bufs::lend(&mut self.bufs, self.fe.bufsize);
    }
}
