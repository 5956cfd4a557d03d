//! (c) The floor of a bare epoll loop (mio, edge-triggered, no tasks, no wakers): one slab of
//! connection pairs, token 2i = client, 2i+1 = server. A readable side is read (into the
//! loop's one buffer) until a short read (the socket is then drained, as tokio assumes too)
//! and written to the other side; what the other side cannot take is copied aside and waits
//! for its writability. 4 system calls per small request plus
//! the amortized epoll_wait.

use crate::net::BUF;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;

const LISTENER: Token = Token(usize::MAX);

/// One direction's bytes read but not yet written (allocated only when a write fell short).
struct Pending {
    buf: Vec<u8>,
    at: usize,
}

struct Pair {
    sock: [TcpStream; 2],
    /// [client → server, server → client]
    pend: [Pending; 2],
}

pub fn run(l: std::net::TcpListener, backend: SocketAddr) -> std::io::Result<()> {
    let mut poll = Poll::new()?;
    let mut l = TcpListener::from_std(l);
    poll.registry()
        .register(&mut l, LISTENER, Interest::READABLE)?;
    let mut pairs: Vec<Option<Pair>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; BUF];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                accept_all(&l, &poll, backend, &mut pairs, &mut free);
                continue;
            }
            let i = ev.token().0 / 2;
            let side = ev.token().0 % 2;
            let Some(p) = pairs.get_mut(i).and_then(|p| p.as_mut()) else {
                continue;
            };
            // Readable side: forward from it; writable side (reported with every edge of the
            // socket): flush what waits for it, if anything, and go on reading that direction.
            let ok = (!ev.is_readable() || forward(p, side, ev.is_read_closed(), &mut scratch))
                && (!ev.is_writable()
                    || !blocked(p, 1 - side)
                    || forward(p, 1 - side, false, &mut scratch))
                && !ev.is_error();
            if !ok {
                if let Some(mut p) = pairs[i].take() {
                    let _ = poll.registry().deregister(&mut p.sock[0]);
                    let _ = poll.registry().deregister(&mut p.sock[1]);
                }
                free.push(i);
            }
        }
    }
}

fn accept_all(
    l: &TcpListener,
    poll: &Poll,
    backend: SocketAddr,
    pairs: &mut Vec<Option<Pair>>,
    free: &mut Vec<usize>,
) {
    loop {
        let Ok((c, _)) = l.accept() else { return };
        let Ok(s) = TcpStream::connect(backend) else {
            continue;
        };
        let _ = s.set_nodelay(true);
        let i = free.pop().unwrap_or_else(|| {
            pairs.push(None);
            pairs.len() - 1
        });
        let pend = || Pending {
            buf: Vec::new(),
            at: 0,
        };
        let mut p = Pair {
            sock: [c, s],
            pend: [pend(), pend()],
        };
        let both = Interest::READABLE | Interest::WRITABLE;
        if poll
            .registry()
            .register(&mut p.sock[0], Token(2 * i), both)
            .is_err()
            || poll
                .registry()
                .register(&mut p.sock[1], Token(2 * i + 1), both)
                .is_err()
        {
            free.push(i);
            continue;
        }
        pairs[i] = Some(p);
    }
}

/// Flushes direction `from`, then reads side `from` into `scratch` (the loop's one read
/// buffer) and writes to the other side while bytes come; what the other side cannot take is
/// kept in the direction's pending buffer. False once the pair must close. `closed`: the peer's
/// FIN is known to be there (read to EOF).
fn forward(p: &mut Pair, from: usize, closed: bool, scratch: &mut [u8]) -> bool {
    let to = 1 - from;
    loop {
        if !flush(p, from) {
            return false;
        }
        if blocked(p, from) {
            return true; // the other side is full: its writability resumes us
        }
        let n = match p.sock[from].read(scratch) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        let mut at = 0;
        while at < n {
            match p.sock[to].write(&scratch[at..n]) {
                Ok(k) => at += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        if at < n {
            let d = &mut p.pend[from];
            d.buf.clear();
            d.buf.extend_from_slice(&scratch[at..n]);
            d.at = 0;
            return true;
        }
        // A short read drained the socket (edge-triggered: the next bytes raise a new event).
        if n < scratch.len() && !closed {
            return true;
        }
    }
}

/// Whether direction `dir` holds bytes its destination could not take yet.
fn blocked(p: &Pair, dir: usize) -> bool {
    p.pend[dir].at < p.pend[dir].buf.len()
}

/// Writes what direction `dir` holds to its destination; false on error.
fn flush(p: &mut Pair, dir: usize) -> bool {
    let to = 1 - dir;
    let d = &mut p.pend[dir];
    while d.at < d.buf.len() {
        match p.sock[to].write(&d.buf[d.at..]) {
            Ok(n) => d.at += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    d.buf.clear();
    d.at = 0;
    true
}
