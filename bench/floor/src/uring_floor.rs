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
use crate::ring::{self, tag, Floor, Pair, Ring, Slots, CONNECT, RECV, SEND, SHUTDOWN};
use io_uring::{opcode, squeue, types};
use std::net::SocketAddr;
use std::os::fd::RawFd;

impl Pair for Conn {
    fn server(&mut self) -> &mut RawFd {
        &mut self.fd[1]
    }
}

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

struct Uring {
    ring: Ring,
    slots: Slots<Conn>,
}

pub fn run(l: std::net::TcpListener, backend: SocketAddr) -> std::io::Result<()> {
    let mut f = Uring {
        ring: Ring::new(&l, backend)?,
        slots: Slots::new(),
    };
    ring::drive(&mut f)
}

impl Floor for Uring {
    fn ring(&mut self) -> &mut Ring {
        &mut self.ring
    }

    fn accepted(&mut self, client: RawFd) {
        let buf = || vec![0u8; BUF].into_boxed_slice();
        let c = Conn {
            fd: [client, -1],
            buf: [buf(), buf()],
            len: [0; 2],
            sent: [0; 2],
            recv_pending: [false; 2],
            inflight: 1,
            closing: false,
        };
        self.slots.open(&mut self.ring, client, c);
    }

    fn complete(&mut self, i: usize, kind: u64, res: i32, _flags: u32) {
        let Some(c) = self.slots.conns.get_mut(i).and_then(|c| c.as_mut()) else {
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
            self.ring.push(e);
        }
        if finished {
            self.slots.close(&mut self.ring, i, fds);
        }
    }
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
