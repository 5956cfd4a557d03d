//! HAProxy's default check (connect, held half-open, closed with a reset) for many servers at
//! once: non-blocking `connect`s started in a batch (the checks due in one driver tick), then
//! one `poll(2)` over the batch ([`settle`](ConnectPoller::settle)): a connect the kernel has
//! already completed (a local server's handshake runs inside the `connect` call) or refused
//! ends there. Only the others enter one epoll set of the driver's own, drained in a batch
//! when the driver's task wakes, each probe's timeout an entry of a queue per connect timeout.
//! No future, no tokio timer and no tokio registration per probe: a socket is added to the set
//! once and leaves it when it is closed (no `EPOLL_CTL_DEL`), and its error is read
//! (`SO_ERROR`) only when the kernel reports one. A settled check's socket is disconnected
//! (the same RST) and kept for a next check ([`connect_spare`](crate::connect_spare)): three
//! system calls per settled check (setsockopt TCP_QUICKACK, connect, the disconnecting
//! connect) plus one `poll` per batch; with a new socket or the epoll set, six (socket,
//! TCP_QUICKACK, connect, epoll_ctl, SO_LINGER, close). HAProxy makes eight, a tokio connect
//! made eight. The outcomes and their words are [`tcp::check`]'s.
//!
//! [`tcp::check`]: crate::probe::tcp::check

use crate::connect_spare::Spares;
use crate::probe::tcp::io_error_info;
use crate::status::{CheckOutcome, CheckStatus};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use socket2::Socket;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Events taken from the set per `epoll_wait`.
const EVENTS: usize = 256;

/// One connect in flight.
struct InFlight {
    check: usize,
    socket: Socket,
    start: Instant,
    deadline: Instant,
}

/// The epoll set, readable (to tokio) when one of its sockets has an event.
struct Set(Epoll);

impl AsRawFd for Set {
    fn as_raw_fd(&self) -> RawFd {
        self.0 .0.as_raw_fd()
    }
}

/// A connect started in this batch, not settled yet.
struct Fresh {
    check: usize,
    socket: Socket,
    v6: bool,
    start: Instant,
    timeout: Duration,
}

/// The connects in flight: a slab indexed by the epoll event's data, and their deadlines.
pub(crate) struct ConnectPoller {
    set: AsyncFd<Set>,
    /// Started since the last [`settle`](Self::settle).
    fresh: Vec<Fresh>,
    /// Sockets of settled checks, disconnected, for the next checks.
    pub(crate) spares: Spares,
    slots: Vec<Option<InFlight>>,
    free: Vec<usize>,
    /// (deadline, slot) in start order, one queue per connect timeout: each queue's deadlines
    /// only grow, so its front is its earliest (O(1) a probe, where a heap was O(log N)). An
    /// entry is stale when its slot was freed (or reused with another deadline).
    timeouts: Vec<(Duration, VecDeque<(Instant, usize)>)>,
    events: Vec<EpollEvent>,
}

impl ConnectPoller {
    /// A poller registered with the current tokio runtime (None if the kernel refuses a set:
    /// the driver then runs these checks as ordinary probes).
    pub fn new() -> Option<ConnectPoller> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).ok()?;
        // AsyncFd owns the set, so the I/O-safety concern behind the deprecation (someone else
        // closing the fd) cannot arise; the replacement, `register_with_interest`, is `unsafe`.
        #[allow(deprecated)]
        let set = AsyncFd::with_interest(Set(epoll), Interest::READABLE).ok()?;
        Some(ConnectPoller {
            set,
            fresh: Vec::new(),
            spares: Spares::new(),
            slots: Vec::new(),
            free: Vec::new(),
            timeouts: Vec::new(),
            events: vec![EpollEvent::empty(); EVENTS],
        })
    }

    /// Whether connects are in flight (the driver waits on [`ready`](Self::ready) only then).
    pub fn busy(&self) -> bool {
        self.slots.len() > self.free.len()
    }

    /// Starts check `check`'s connect to `dst`; the outcome at once when the connect completed
    /// or failed without waiting. A connect in progress waits for [`settle`](Self::settle).
    pub fn start(
        &mut self,
        check: usize,
        dst: SocketAddr,
        timeout: Duration,
        now: Instant,
    ) -> Option<CheckOutcome> {
        let failed = |e: std::io::Error| {
            Some(
                CheckOutcome::new(CheckStatus::L4Connection, Duration::ZERO)
                    .with_info(io_error_info(&e)),
            )
        };
        let socket = match self.spares.take(dst) {
            Ok(s) => s,
            Err(e) => return failed(e),
        };
        // HAProxy's half-open check: the handshake's last ACK waits, the RST goes first
        let _ = socket.set_quickack(false);
        match socket.connect(&dst.into()) {
            Ok(()) => {
                self.spares.give_back(socket, dst.is_ipv6());
                return Some(CheckOutcome::new(CheckStatus::L4Ok, Duration::ZERO));
            }
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EINPROGRESS as i32) => {}
            Err(e) => return failed(e),
        }
        self.fresh.push(Fresh {
            check,
            socket,
            v6: dst.is_ipv6(),
            start: now,
            timeout,
        });
        None
    }

    /// Ends the batch started since the last call: one `poll(2)` over its sockets; the connects
    /// already completed or refused give their outcome into `done` (reset at once), the others
    /// enter the epoll set and their timeout queue.
    pub fn settle(&mut self, now: Instant, done: &mut Vec<(usize, CheckOutcome)>) {
        if self.fresh.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.fresh);
        let mut ready: Vec<PollFlags> = Vec::with_capacity(batch.len());
        {
            let mut fds: Vec<PollFd<'_>> = batch
                .iter()
                .map(|f| PollFd::new(f.socket.as_fd(), PollFlags::POLLOUT))
                .collect();
            // EINTR or any failure: nothing settled here, all go to the epoll set
            if nix::poll::poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0) {
                ready.extend(
                    fds.iter()
                        .map(|f| f.revents().unwrap_or(PollFlags::empty())),
                );
            }
        }
        for (k, f) in batch.drain(..).enumerate() {
            let revents = ready.get(k).copied().unwrap_or(PollFlags::empty());
            let took = now.saturating_duration_since(f.start);
            if revents.intersects(PollFlags::POLLERR | PollFlags::POLLHUP) {
                let o = CheckOutcome::new(CheckStatus::L4Connection, took);
                done.push((
                    f.check,
                    match f.socket.take_error() {
                        Ok(Some(e)) | Err(e) => o.with_info(io_error_info(&e)),
                        Ok(None) => o,
                    },
                ));
            } else if revents.contains(PollFlags::POLLOUT) {
                // reset (a single RST) and kept for a next check
                self.spares.give_back(f.socket, f.v6);
                done.push((f.check, CheckOutcome::new(CheckStatus::L4Ok, took)));
            } else if let Some(o) = self.watch(f) {
                done.push(o);
            }
        }
        // the batch's allocation is kept for the next one
        self.fresh = batch;
    }

    /// A connect still in progress enters the epoll set and its timeout queue.
    fn watch(&mut self, f: Fresh) -> Option<(usize, CheckOutcome)> {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let event = EpollEvent::new(EpollFlags::EPOLLOUT, slot as u64);
        if let Err(e) = self.set.get_ref().0.add(&f.socket, event) {
            self.free.push(slot);
            let e: std::io::Error = e.into();
            return Some((
                f.check,
                CheckOutcome::new(CheckStatus::L4Connection, Duration::ZERO)
                    .with_info(io_error_info(&e)),
            ));
        }
        let deadline = f.start + f.timeout;
        let timeout = f.timeout;
        self.slots[slot] = Some(InFlight {
            check: f.check,
            socket: f.socket,
            start: f.start,
            deadline,
        });
        let queue = match self.timeouts.iter().position(|(t, _)| *t == timeout) {
            Some(q) => q,
            None => {
                self.timeouts.push((timeout, VecDeque::new()));
                self.timeouts.len() - 1
            }
        };
        self.timeouts[queue].1.push_back((deadline, slot));
        None
    }

    /// Resolves when the set may have events (call [`drain`](Self::drain) then).
    pub async fn ready(&self) {
        if let Ok(mut guard) = self.set.readable().await {
            // cleared before draining: an event after the drain's last wait is a new edge
            guard.clear_ready();
        }
    }

    /// The connects that completed or failed, as (check, outcome) into `done`.
    pub fn drain(&mut self, now: Instant, done: &mut Vec<(usize, CheckOutcome)>) {
        loop {
            let n = match self
                .set
                .get_ref()
                .0
                .wait(&mut self.events, EpollTimeout::ZERO)
            {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            };
            for ev in &self.events[..n] {
                let slot = ev.data() as usize;
                let Some(f) = self.slots.get_mut(slot).and_then(Option::take) else {
                    continue;
                };
                self.free.push(slot);
                let took = now.saturating_duration_since(f.start);
                let outcome = if ev
                    .events()
                    .intersects(EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP)
                {
                    let o = CheckOutcome::new(CheckStatus::L4Connection, took);
                    match f.socket.take_error() {
                        Ok(Some(e)) | Err(e) => o.with_info(io_error_info(&e)),
                        Ok(None) => o,
                    }
                } else {
                    // closed with a single RST (the socket leaves the set as it closes)
                    let _ = f.socket.set_linger(Some(Duration::ZERO));
                    CheckOutcome::new(CheckStatus::L4Ok, took)
                };
                done.push((f.check, outcome));
            }
            if n < self.events.len() {
                return;
            }
        }
    }

    /// When the earliest connect in flight times out.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timeouts
            .iter()
            .filter_map(|(_, q)| q.front().map(|(at, _)| *at))
            .min()
    }

    /// The connects whose time is up by `now`: "Layer4 timeout", their sockets closed.
    pub fn expire(&mut self, now: Instant, done: &mut Vec<(usize, CheckOutcome)>) {
        for (_, queue) in &mut self.timeouts {
            while let Some((at, slot)) = queue.front().copied() {
                if at > now {
                    break;
                }
                queue.pop_front();
                let Some(entry) = self.slots.get_mut(slot) else {
                    continue;
                };
                if entry.as_ref().is_some_and(|f| f.deadline == at) {
                    if let Some(f) = entry.take() {
                        self.free.push(slot);
                        let took = now.saturating_duration_since(f.start);
                        done.push((f.check, CheckOutcome::new(CheckStatus::L4Timeout, took)));
                    }
                }
            }
        }
    }

    /// Drops every connect in flight (a reload: their check indexes are the old plan's).
    pub fn clear(&mut self) {
        self.fresh.clear();
        self.slots.clear();
        self.free.clear();
        self.timeouts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Type};

    /// Runs the poller until `n` outcomes are in (bounded): settles the batch, then drains.
    async fn outcomes(p: &mut ConnectPoller, n: usize) -> Vec<(usize, CheckOutcome)> {
        let mut done = Vec::new();
        p.settle(crate::clock::now(), &mut done);
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while done.len() < n && std::time::Instant::now() < until {
            tokio::time::timeout(Duration::from_millis(500), p.ready())
                .await
                .ok();
            p.drain(crate::clock::now(), &mut done);
        }
        done.sort_by_key(|(i, _)| *i);
        done
    }

    /// The poller's outcomes are the probe's: an open port passes (never accepted: the
    /// half-open check), a closed one is refused with the OS's words.
    #[tokio::test]
    async fn outcomes_match_the_connect_probe() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open = l.local_addr().expect("addr");
        let closed = {
            let s = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            s.local_addr().expect("addr")
        };
        let mut p = ConnectPoller::new().expect("epoll");
        let now = crate::clock::now();
        let t = Duration::from_secs(2);
        let mut done = Vec::new();
        for (i, dst) in [(0, open), (1, closed)] {
            if let Some(o) = p.start(i, dst, t, now) {
                done.push((i, o));
            }
        }
        done.extend(outcomes(&mut p, 2 - done.len()).await);
        done.sort_by_key(|(i, _)| *i);
        let got: Vec<_> = done
            .iter()
            .map(|(i, o)| (*i, o.status, o.info.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, CheckStatus::L4Ok, None),
                (
                    1,
                    CheckStatus::L4Connection,
                    Some("Connection refused".into())
                )
            ]
        );
        assert!(!p.busy());
        assert!(
            tokio::time::timeout(Duration::from_millis(300), l.accept())
                .await
                .is_err(),
            "a half-open check is never accepted"
        );
    }

    /// A settled check's socket is reset and reused: ten checks to a listening server one after
    /// the other take one socket, all pass, and the server never gets a connection to accept
    /// (the ACK still waits on a reused socket: TCP_QUICKACK is set again each time).
    #[tokio::test]
    async fn settled_sockets_are_reset_and_reused_still_half_open() {
        reused_half_open("127.0.0.1:0").await;
        // IPv6 sockets are kept apart (when the machine has ::1)
        if std::net::TcpListener::bind("[::1]:0").is_ok() {
            reused_half_open("[::1]:0").await;
        } else {
            eprintln!("no ::1 on this machine: IPv6 reuse not tested");
        }
    }

    async fn reused_half_open(bind: &str) {
        let l = tokio::net::TcpListener::bind(bind).await.expect("bind");
        let open = l.local_addr().expect("addr");
        let mut p = ConnectPoller::new().expect("epoll");
        for round in 0..10 {
            let now = crate::clock::now();
            let mut done: Vec<(usize, CheckOutcome)> = p
                .start(round, open, Duration::from_secs(2), now)
                .map(|o| (round, o))
                .into_iter()
                .collect();
            done.extend(outcomes(&mut p, 1 - done.len()).await);
            assert_eq!(done.len(), 1, "round {round}");
            assert_eq!(done[0].1.status, CheckStatus::L4Ok, "round {round}");
        }
        assert!(!p.busy());
        // loopback handshakes complete inside `connect`: settled by the poll, socket reused
        // (a connect left to the epoll set would close its socket and take a new one)
        assert!(
            p.spares.created <= 2,
            "{} sockets for 10 checks",
            p.spares.created
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(300), l.accept())
                .await
                .is_err(),
            "a half-open check is never accepted, on a reused socket either"
        );
    }

    /// A connect the batch's `poll` does not settle waits in the epoll set and times out at its
    /// deadline: a listener whose accept queue is full drops the SYN.
    #[tokio::test]
    async fn a_connect_in_progress_waits_in_the_set_and_times_out() {
        let full = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        full.bind(&"127.0.0.1:0".parse::<SocketAddr>().expect("addr").into())
            .expect("bind");
        full.listen(0).expect("listen");
        let addr = full.local_addr().expect("addr").as_socket().expect("inet");
        // fill the accept queue (never accepted): the next SYN is dropped
        let mut fillers = Vec::new();
        for _ in 0..3 {
            if let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                fillers.push(s);
            }
        }
        assert!(!fillers.is_empty(), "the accept queue takes one connection");
        let mut p = ConnectPoller::new().expect("epoll");
        let start = crate::clock::now();
        assert!(p.start(7, addr, Duration::from_millis(50), start).is_none());
        let mut done = Vec::new();
        p.settle(start, &mut done);
        assert!(done.is_empty(), "{done:?}");
        assert!(p.busy());
        assert_eq!(p.next_timeout(), Some(start + Duration::from_millis(50)));
        p.expire(start + Duration::from_millis(49), &mut done);
        assert!(done.is_empty());
        p.expire(start + Duration::from_millis(50), &mut done);
        assert_eq!(done.len(), 1);
        assert_eq!((done[0].0, done[0].1.status), (7, CheckStatus::L4Timeout));
        assert!(!p.busy());
        // its socket closed: a late event for the slot finds nothing
        p.drain(crate::clock::now(), &mut done);
        assert_eq!(done.len(), 1);
    }
}
