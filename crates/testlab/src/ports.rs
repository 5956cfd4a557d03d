//! Free loopback TCP ports for tests, held until the test process exits.
//!
//! A port handed out here stays bound by a socket on 127.0.0.1 that never listens, with
//! SO_REUSEADDR. The kernel then gives that port to no other `bind(…:0)` and no outgoing
//! connection, in this process or any other, so two tests (or a test's own client sockets in
//! TIME_WAIT) can no longer race for it between "found free" and "bound by the server". The server
//! under test still binds and listens on it: fulcrum, haproxy, nginx, tokio's and std's listeners
//! all set SO_REUSEADDR, which Linux lets share a port with sockets that do not listen. A
//! connection to a held port nobody listens on is refused, as a free port's would be.
//! `free_range(n)` holds n consecutive ports, so `port + 1 .. port + n - 1` are safe to use.

use socket2::{Domain, Socket, Type};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Mutex;

/// Every socket holding a port handed out by this process.
static HELD: Mutex<Vec<Socket>> = Mutex::new(Vec::new());

/// How many tries before giving up on a run of consecutive free ports.
const TRIES: usize = 200;

fn hold(port: u16) -> Option<(u16, Socket)> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    s.set_reuse_address(true).ok()?;
    let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    s.bind(&addr.into()).ok()?;
    let port = s.local_addr().ok()?.as_socket()?.port();
    Some((port, s))
}

/// A free port on 127.0.0.1, held for the life of the test process.
pub fn free_port() -> u16 {
    free_range(1)
}

/// The first of `n` consecutive free ports on 127.0.0.1, all held for the life of the process.
pub fn free_range(n: u16) -> u16 {
    assert!(n >= 1, "free_range(0)");
    for _ in 0..TRIES {
        let Some((first, s)) = hold(0) else { continue };
        if u32::from(first) + u32::from(n) > 65_536 {
            continue;
        }
        let mut run = vec![s];
        for p in first + 1..first.saturating_add(n) {
            match hold(p) {
                Some((_, s)) => run.push(s),
                None => break,
            }
        }
        if run.len() == usize::from(n) {
            HELD.lock().unwrap_or_else(|e| e.into_inner()).extend(run);
            return first;
        }
    }
    panic!("no run of {n} free ports on 127.0.0.1 after {TRIES} tries");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_held_port_is_not_handed_out_twice_and_a_server_can_still_listen_on_it() {
        let base = free_range(3);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let p = free_port();
            assert!(!(base..base + 3).contains(&p), "{p} handed out twice");
            assert!(seen.insert(p), "{p} handed out twice");
        }
        // Nobody listens: refused, as on a free port.
        assert!(TcpStream::connect(("127.0.0.1", base + 1)).is_err());
        // The server under test (SO_REUSEADDR, as std sets it) binds and serves on it.
        let l = TcpListener::bind(("127.0.0.1", base + 1)).expect("bind on a held port");
        let c = TcpStream::connect(("127.0.0.1", base + 1)).expect("connect");
        let (_, peer) = l.accept().expect("accept");
        assert_eq!(peer, c.local_addr().expect("addr"));
    }
}
