//! (b') io_uring with the least submission work per request: as uring_floor.rs (same ring
//! flags, multishot accept), but each socket's receive is one multishot recv armed once for
//! the connection's life, reading into buffers the kernel picks from a provided buffer ring
//! (IORING_REGISTER_PBUF_RING). Per small keep-alive request the program submits only the two
//! sends; a buffer goes back to the ring when its bytes were sent. Sends of a direction go one
//! at a time, in order.

use crate::ring::{self, tag, Floor, Pair, Ring, Slots, CONNECT, RECV, SEND, SHUTDOWN};
use io_uring::types::BufRingEntry;
use io_uring::{cqueue, opcode, types, IoUring};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU16, Ordering};

const BGID: u16 = 0;
/// Buffers in the ring, and their size: 1024 × 16 KB, shared by every connection.
const ENTRIES: u16 = 1024;
const BUF: usize = 16 * 1024;

/// The provided buffer ring: the entries the kernel reads, the memory they point at.
struct Bufs {
    ring: *mut BufRingEntry,
    mem: Vec<u8>,
    tail: u16,
}

impl Bufs {
    fn new(uring: &IoUring) -> std::io::Result<Bufs> {
        let layout = std::alloc::Layout::from_size_align(ENTRIES as usize * 16, 4096)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        // SAFETY: a non-zero size; zeroed entries, the tail (in entry 0) starting at 0. The
        // memory lives as long as the process (the ring is registered for its life).
        let ring = unsafe { std::alloc::alloc_zeroed(layout) } as *mut BufRingEntry;
        if ring.is_null() {
            return Err(std::io::Error::other("out of memory"));
        }
        unsafe {
            uring
                .submitter()
                .register_buf_ring_with_flags(ring as u64, ENTRIES, BGID, 0)?
        };
        let mut b = Bufs {
            ring,
            mem: vec![0u8; ENTRIES as usize * BUF],
            tail: 0,
        };
        for bid in 0..ENTRIES {
            b.give(bid);
        }
        Ok(b)
    }

    fn ptr(&self, bid: u16) -> *const u8 {
        self.mem[bid as usize * BUF..].as_ptr()
    }

    /// Hands buffer `bid` (back) to the kernel.
    fn give(&mut self, bid: u16) {
        // SAFETY: the entry index is masked into the ring; the tail is the u16 the kernel
        // reads in entry 0, published with a release store after the entry is written.
        unsafe {
            let e = &mut *self.ring.add((self.tail & (ENTRIES - 1)) as usize);
            e.set_addr(self.ptr(bid) as u64);
            e.set_len(BUF as u32);
            e.set_bid(bid);
            self.tail = self.tail.wrapping_add(1);
            let tail = BufRingEntry::tail(self.ring) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Pair for Conn {
    fn server(&mut self) -> &mut RawFd {
        &mut self.fd[1]
    }
}

struct Conn {
    fd: [RawFd; 2],
    /// Per direction: buffers received and not yet sent (buffer id, bytes sent, length); the
    /// front one is being sent when `sending`.
    queue: [VecDeque<(u16, usize, usize)>; 2],
    sending: [bool; 2],
    recv_armed: [bool; 2],
    inflight: u32,
    closing: bool,
}

struct Multi {
    ring: Ring,
    bufs: Bufs,
    slots: Slots<Conn>,
}

pub fn run(l: std::net::TcpListener, backend: SocketAddr) -> std::io::Result<()> {
    let ring = Ring::new(&l, backend)?;
    let bufs = Bufs::new(&ring.ring)?;
    let mut f = Multi {
        ring,
        bufs,
        slots: Slots::new(),
    };
    ring::drive(&mut f)
}

impl Floor for Multi {
    fn ring(&mut self) -> &mut Ring {
        &mut self.ring
    }

    fn accepted(&mut self, client: RawFd) {
        let c = Conn {
            fd: [client, -1],
            queue: [VecDeque::new(), VecDeque::new()],
            sending: [false; 2],
            recv_armed: [false; 2],
            inflight: 1,
            closing: false,
        };
        self.slots.open(&mut self.ring, client, c);
    }

    fn complete(&mut self, i: usize, kind: u64, res: i32, flags: u32) {
        self.step(i, kind, res, flags);
    }
}

impl Multi {
    fn step(&mut self, i: usize, kind: u64, res: i32, flags: u32) {
        let Some(mut c) = self.slots.conns.get_mut(i).and_then(|c| c.take()) else {
            return;
        };
        let mut ok = true;
        match kind {
            CONNECT => {
                c.inflight -= 1;
                ok = res >= 0;
                if ok {
                    for side in 0..2 {
                        self.arm(&mut c, i, side);
                    }
                }
            }
            k if k == RECV || k == RECV + 1 => {
                let side = (k - RECV) as usize;
                if !cqueue::more(flags) {
                    c.inflight -= 1;
                    c.recv_armed[side] = false;
                }
                if res > 0 {
                    if let Some(bid) = cqueue::buffer_select(flags) {
                        if c.closing {
                            self.bufs.give(bid);
                        } else {
                            c.queue[side].push_back((bid, 0, res as usize));
                            self.send_next(&mut c, i, side);
                        }
                    }
                    if !c.recv_armed[side] && !c.closing {
                        self.arm(&mut c, i, side); // ended (e.g. for a CQ overflow): again
                    }
                } else if res == -libc::ENOBUFS && !c.closing {
                    self.arm(&mut c, i, side);
                } else {
                    ok = false;
                }
            }
            k if k == SEND || k == SEND + 1 => {
                let dir = (k - SEND) as usize;
                c.inflight -= 1;
                c.sending[dir] = false;
                if res < 0 {
                    ok = false;
                } else if let Some(front) = c.queue[dir].front_mut() {
                    front.1 += res as usize;
                    if front.1 >= front.2 {
                        let bid = front.0;
                        c.queue[dir].pop_front();
                        self.bufs.give(bid);
                    }
                }
                if !c.closing {
                    self.send_next(&mut c, i, dir);
                }
            }
            _ => c.inflight -= 1, // SHUTDOWN
        }
        if !ok && !c.closing {
            c.closing = true;
            for side in 0..2 {
                if c.recv_armed[side] {
                    c.inflight += 1;
                    let e = opcode::Shutdown::new(types::Fd(c.fd[side]), libc::SHUT_RDWR).build();
                    self.ring.push(e.user_data(tag(i, SHUTDOWN)));
                }
            }
        }
        if c.closing {
            // Buffers waiting to be sent go back; the one being sent returns with its send.
            for dir in 0..2 {
                let keep = if c.sending[dir] { 1 } else { 0 };
                while c.queue[dir].len() > keep {
                    if let Some((bid, _, _)) = c.queue[dir].pop_back() {
                        self.bufs.give(bid);
                    }
                }
            }
        }
        if c.closing && c.inflight == 0 {
            self.slots.close(&mut self.ring, i, c.fd);
        } else {
            self.slots.conns[i] = Some(c);
        }
    }

    fn arm(&mut self, c: &mut Conn, i: usize, side: usize) {
        c.inflight += 1;
        c.recv_armed[side] = true;
        let e = opcode::RecvMulti::new(types::Fd(c.fd[side]), BGID).build();
        self.ring.push(e.user_data(tag(i, RECV + side as u64)));
    }

    /// Sends the front of direction `dir`'s queue unless a send of it is in flight.
    fn send_next(&mut self, c: &mut Conn, i: usize, dir: usize) {
        if c.sending[dir] {
            return;
        }
        let Some(&(bid, at, len)) = c.queue[dir].front() else {
            return;
        };
        c.sending[dir] = true;
        c.inflight += 1;
        // SAFETY: within buffer `bid` (at < len ≤ BUF).
        let p = unsafe { self.bufs.ptr(bid).add(at) };
        let e = opcode::Send::new(types::Fd(c.fd[1 - dir]), p, (len - at) as u32).build();
        self.ring.push(e.user_data(tag(i, SEND + dir as u64)));
    }
}
