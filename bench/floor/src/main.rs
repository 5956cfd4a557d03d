//! `floor MODEL LISTEN BACKEND`: the least work a proxy can do for bench/floor/run.sh — accept a
//! client, connect one backend connection for it, forward bytes both ways, close both when
//! either side ends. No parsing, no timeouts, no logs: what is left is the I/O model's own cost
//! per request, the floor a proxy built on it cannot go below. One thread (pin it with taskset).
//!
//! MODEL: `tokio` (current-thread runtime, as fulcrum's workers), `uring` (io_uring driven
//! directly, a recv and a send submitted per forwarded read), `uring-multi` (io_uring with
//! multishot receives into a provided buffer ring: only the sends submitted), `monoio` (the
//! io_uring thread-per-core runtime), `mio` (a bare epoll loop).

mod mio_floor;
mod monoio_floor;
mod net;
mod ring;
mod tokio_floor;
mod uring_floor;
mod uring_multi;

use std::net::SocketAddr;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: floor tokio|uring|uring-multi|monoio|mio LISTEN_ADDR BACKEND_ADDR";
    let (model, listen, backend) = match args.as_slice() {
        [_, m, l, b] => (m.as_str(), l, b),
        _ => fail(usage),
    };
    let listen: SocketAddr = listen.parse().unwrap_or_else(|_| fail("bad LISTEN_ADDR"));
    let backend: SocketAddr = backend.parse().unwrap_or_else(|_| fail("bad BACKEND_ADDR"));
    let listener = net::listener(listen).unwrap_or_else(|e| fail(&format!("listen {listen}: {e}")));
    let r = match model {
        "tokio" => tokio_floor::run(listener, backend),
        "uring" => uring_floor::run(listener, backend),
        "uring-multi" => uring_multi::run(listener, backend),
        "monoio" => monoio_floor::run(listener, backend),
        "mio" => mio_floor::run(listener, backend),
        _ => fail(usage),
    };
    if let Err(e) = r {
        fail(&format!("{model}: {e}"));
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("floor: {msg}");
    std::process::exit(2)
}
