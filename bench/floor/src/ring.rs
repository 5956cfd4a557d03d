//! What the two io_uring floors share: the ring and its flags, the backend's address and the
//! backend sockets (socket + TCP_NODELAY as system calls, the connect as a ring operation), the
//! multishot accept, the slots of connections, and the loop that submits, waits in one
//! `io_uring_enter` and hands each completion to the floor.

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

// What a completion is for: the low 3 bits of its user_data; the connection's slot above.
pub const ACCEPT: u64 = 0;
pub const RECV: u64 = 1; // + side (0 client, 1 server)
pub const SEND: u64 = 3; // + direction (0 client → server, 1 server → client)
pub const CONNECT: u64 = 5;
pub const SHUTDOWN: u64 = 6;
pub const CLOSE: u64 = 7;

/// The user_data of operation `kind` of the connection in slot `i`.
pub fn tag(i: usize, kind: u64) -> u64 {
    ((i as u64) << 3) | kind
}

pub struct Ring {
    pub ring: IoUring,
    listen: RawFd,
    backend: Box<(libc::sockaddr_storage, libc::socklen_t)>,
    family: i32,
}

/// A floor driven by [`drive`].
pub trait Floor {
    fn ring(&mut self) -> &mut Ring;
    /// A client was accepted (its descriptor).
    fn accepted(&mut self, client: RawFd);
    /// A completion of operation `kind` of the connection in slot `i` (closes are not told).
    fn complete(&mut self, i: usize, kind: u64, res: i32, flags: u32);
}

impl Ring {
    /// SINGLE_ISSUER + DEFER_TASKRUN + COOP_TASKRUN unless FLOOR_URING_PLAIN is set.
    pub fn new(l: &std::net::TcpListener, backend: SocketAddr) -> std::io::Result<Ring> {
        let mut b = IoUring::builder();
        if std::env::var_os("FLOOR_URING_PLAIN").is_none() {
            b.setup_single_issuer()
                .setup_defer_taskrun()
                .setup_coop_taskrun();
        }
        let ring = b.setup_submit_all().build(4096)?;
        let sa = socket2::SockAddr::from(backend);
        // SAFETY: sockaddr_storage is plain old data; SockAddr's bytes fit it (len ≤ its size).
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        unsafe {
            std::ptr::copy_nonoverlapping(
                sa.as_ptr() as *const u8,
                &mut storage as *mut _ as *mut u8,
                sa.len() as usize,
            )
        };
        let mut r = Ring {
            ring,
            listen: l.as_raw_fd(),
            backend: Box::new((storage, sa.len())),
            family: if backend.is_ipv4() {
                libc::AF_INET
            } else {
                libc::AF_INET6
            },
        };
        r.arm_accept();
        Ok(r)
    }

    /// Queues `e`, submitting what is queued when the ring is full.
    pub fn push(&mut self, e: squeue::Entry) {
        // SAFETY: every pointer an entry carries (a connection's buffers, the boxed backend
        // address) outlives the operation: the floors free a slot only when nothing of it is
        // in flight, and the address lives as long as the ring.
        while unsafe { self.ring.submission().push(&e) }.is_err() {
            let _ = self.ring.submit();
        }
    }

    fn arm_accept(&mut self) {
        let e = opcode::AcceptMulti::new(types::Fd(self.listen)).build();
        self.push(e.user_data(ACCEPT));
    }

    /// A backend socket with TCP_NODELAY (fulcrum's connect.rs sets it on each), connecting
    /// as operation `user_data`; None (and the client closed) when no socket can be had.
    pub fn connect(&mut self, client: RawFd, user_data: u64) -> Option<RawFd> {
        // SAFETY: plain system calls on descriptors this loop owns.
        let s = unsafe { libc::socket(self.family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if s < 0 {
            unsafe { libc::close(client) };
            return None;
        }
        let one: libc::c_int = 1;
        unsafe {
            libc::setsockopt(
                s,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                &one as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        let addr = &self.backend.0 as *const _ as *const libc::sockaddr;
        let e = opcode::Connect::new(types::Fd(s), addr, self.backend.1).build();
        self.push(e.user_data(user_data));
        Some(s)
    }
}

/// A connection pair as the slots see it: its backend socket is set once connecting.
pub trait Pair {
    fn server(&mut self) -> &mut RawFd;
}

/// The floor's connections by slot, freed slots reused.
pub struct Slots<T> {
    pub conns: Vec<Option<T>>,
    free: Vec<usize>,
}

impl<T: Pair> Slots<T> {
    pub fn new() -> Self {
        Slots {
            conns: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Puts the connection `c` of `client` in a slot and connects its backend socket; when no
    /// socket can be had the client is closed and the slot freed.
    pub fn open(&mut self, ring: &mut Ring, client: RawFd, c: T) {
        let i = match self.free.pop() {
            Some(i) => {
                self.conns[i] = Some(c);
                i
            }
            None => {
                self.conns.push(Some(c));
                self.conns.len() - 1
            }
        };
        match ring.connect(client, tag(i, CONNECT)) {
            Some(s) => {
                if let Some(c) = self.conns[i].as_mut() {
                    *c.server() = s;
                }
            }
            None => self.release(i),
        }
    }

    /// Closes the pair in slot `i` (its descriptors `fds`), nothing of it being in flight.
    pub fn close(&mut self, ring: &mut Ring, i: usize, fds: [RawFd; 2]) {
        for fd in fds {
            ring.push(opcode::Close::new(types::Fd(fd)).build().user_data(CLOSE));
        }
        self.release(i);
    }

    /// Slot `i` is free again.
    fn release(&mut self, i: usize) {
        self.conns[i] = None;
        self.free.push(i);
    }
}

/// Submits, waits for at least one completion and hands them out, forever.
pub fn drive(f: &mut impl Floor) -> std::io::Result<()> {
    let mut done: Vec<(u64, i32, u32)> = Vec::with_capacity(1024);
    loop {
        match f.ring().ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e)
                if e.raw_os_error() == Some(libc::EINTR)
                    || e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => return Err(e),
        }
        done.clear();
        done.extend(
            f.ring()
                .ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for &(ud, res, flags) in &done {
            if ud == ACCEPT {
                if !cqueue::more(flags) {
                    f.ring().arm_accept();
                }
                if res >= 0 {
                    f.accepted(res);
                }
            } else if ud & 7 != CLOSE {
                f.complete((ud >> 3) as usize, ud & 7, res, flags);
            }
        }
    }
}
