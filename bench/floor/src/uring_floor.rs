//! (b) The floor of io_uring driven directly (the `io-uring` crate, no runtime): one ring set
//! up as the kernel advises for one thread (SINGLE_ISSUER + DEFER_TASKRUN: completions run in
//! our `io_uring_enter`, no interrupting task work; FLOOR_URING_PLAIN=1 leaves the flags out),
//! a multishot accept, and per connection pair single-shot recv/send operations on 16 KB
//! buffers. Every operation of a loop turn goes to the kernel in the one `io_uring_enter` that
//! also waits for the next completions: per small keep-alive request no system call of its
//! own, the same four socket operations done inside the kernel. A new connection costs
//! `socket` + `setsockopt(TCP_NODELAY)` as system calls (as fulcrum), the connect, shutdown
//! and close as ring operations.

use crate::net::BUF;
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

// What a completion is for: the low 3 bits of its user_data; the connection's slot above.
const ACCEPT: u64 = 0;
const RECV: u64 = 1; // + side (0 client, 1 server)
const SEND: u64 = 3; // + direction (0 client → server, 1 server → client)
const CONNECT: u64 = 5;
const SHUTDOWN: u64 = 6;
const CLOSE: u64 = 7;

struct Conn {
    /// [client, server]
    fd: [RawFd; 2],
    /// Per direction (0: read from the client, 1: read from the server): its buffer, the bytes
    /// read, the bytes of them sent.
    buf: [Box<[u8]>; 2],
    len: [usize; 2],
    sent: [usize; 2],
    recv_pending: [bool; 2],
    /// Operations submitted and not completed: the slot and its buffers live until 0.
    inflight: u32,
    closing: bool,
}

struct Floor {
    ring: IoUring,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    listen: RawFd,
    backend: Box<(libc::sockaddr_storage, libc::socklen_t)>,
    family: i32,
}

pub fn run(l: std::net::TcpListener, backend: SocketAddr) -> std::io::Result<()> {
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
    let mut f = Floor {
        ring,
        conns: Vec::new(),
        free: Vec::new(),
        listen: l.as_raw_fd(),
        backend: Box::new((storage, sa.len())),
        family: if backend.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        },
    };
    f.arm_accept();
    let mut done: Vec<(u64, i32, u32)> = Vec::with_capacity(1024);
    loop {
        match f.ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e)
                if e.raw_os_error() == Some(libc::EINTR)
                    || e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => return Err(e),
        }
        done.clear();
        done.extend(
            f.ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for &(ud, res, flags) in &done {
            f.complete(ud, res, flags);
        }
    }
    #[allow(unreachable_code)]
    {
        drop(l);
        Ok(())
    }
}

impl Floor {
    fn push(&mut self, e: squeue::Entry) {
        // SAFETY: every pointer an entry carries (a connection's boxed buffers, the boxed
        // backend address) outlives the operation: a slot is freed only when nothing of it is
        // in flight, and the address lives as long as the ring.
        while unsafe { self.ring.submission().push(&e) }.is_err() {
            let _ = self.ring.submit();
        }
    }

    fn arm_accept(&mut self) {
        self.push(
            opcode::AcceptMulti::new(types::Fd(self.listen))
                .build()
                .user_data(ACCEPT),
        );
    }

    fn complete(&mut self, ud: u64, res: i32, flags: u32) {
        let kind = ud & 7;
        let i = (ud >> 3) as usize;
        match kind {
            ACCEPT => {
                if !cqueue::more(flags) {
                    self.arm_accept();
                }
                if res >= 0 {
                    self.accepted(res);
                }
            }
            CLOSE => {}
            _ => self.step(i, kind, res),
        }
    }

    fn accepted(&mut self, client: RawFd) {
        // SAFETY: plain system calls on descriptors this loop owns.
        let s = unsafe { libc::socket(self.family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if s < 0 {
            unsafe { libc::close(client) };
            return;
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
        let buf = || vec![0u8; BUF].into_boxed_slice();
        let c = Conn {
            fd: [client, s],
            buf: [buf(), buf()],
            len: [0; 2],
            sent: [0; 2],
            recv_pending: [false; 2],
            inflight: 1,
            closing: false,
        };
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
        let addr = &self.backend.0 as *const _ as *const libc::sockaddr;
        let e = opcode::Connect::new(types::Fd(s), addr, self.backend.1).build();
        self.push(e.user_data(tag(i, CONNECT)));
    }

    fn step(&mut self, i: usize, kind: u64, res: i32) {
        let Some(c) = self.conns.get_mut(i).and_then(|c| c.as_mut()) else {
            return;
        };
        c.inflight -= 1;
        let mut next: [Option<squeue::Entry>; 2] = [None, None];
        let ok = match kind {
            CONNECT => {
                if res >= 0 && !c.closing {
                    next = [Some(recv(c, i, 0)), Some(recv(c, i, 1))];
                }
                res >= 0
            }
            k if k == RECV || k == RECV + 1 => {
                let side = (k - RECV) as usize;
                c.recv_pending[side] = false;
                if res > 0 && !c.closing {
                    c.len[side] = res as usize;
                    c.sent[side] = 0;
                    next[0] = Some(send(c, i, side));
                }
                res > 0
            }
            k if k == SEND || k == SEND + 1 => {
                let dir = (k - SEND) as usize;
                if res >= 0 && !c.closing {
                    c.sent[dir] += res as usize;
                    next[0] = Some(if c.sent[dir] < c.len[dir] {
                        send(c, i, dir)
                    } else {
                        recv(c, i, dir)
                    });
                }
                res >= 0
            }
            _ => true, // SHUTDOWN
        };
        if !ok && !c.closing {
            // Wake the receives still waiting (a shut-down socket reads EOF), then close once
            // nothing is in flight.
            c.closing = true;
            for (side, slot) in next.iter_mut().enumerate() {
                if c.recv_pending[side] {
                    c.inflight += 1;
                    *slot = Some(
                        opcode::Shutdown::new(types::Fd(c.fd[side]), libc::SHUT_RDWR)
                            .build()
                            .user_data(tag(i, SHUTDOWN)),
                    );
                }
            }
        }
        let finished = c.closing && c.inflight == 0;
        let fds = c.fd;
        for e in next.into_iter().flatten() {
            self.push(e);
        }
        if finished {
            for fd in fds {
                self.push(opcode::Close::new(types::Fd(fd)).build().user_data(CLOSE));
            }
            self.conns[i] = None;
            self.free.push(i);
        }
    }
}

fn tag(i: usize, kind: u64) -> u64 {
    ((i as u64) << 3) | kind
}

fn recv(c: &mut Conn, i: usize, side: usize) -> squeue::Entry {
    c.inflight += 1;
    c.recv_pending[side] = true;
    opcode::Recv::new(types::Fd(c.fd[side]), c.buf[side].as_mut_ptr(), BUF as u32)
        .build()
        .user_data(tag(i, RECV + side as u64))
}

fn send(c: &mut Conn, i: usize, dir: usize) -> squeue::Entry {
    c.inflight += 1;
    let b = &c.buf[dir][c.sent[dir]..c.len[dir]];
    opcode::Send::new(types::Fd(c.fd[1 - dir]), b.as_ptr(), b.len() as u32)
        .build()
        .user_data(tag(i, SEND + dir as u64))
}
