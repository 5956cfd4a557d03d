//! `set-mark` and `set-tos` in `tcp-request` and `http-request|http-response` rules: what
//! the rules asked for, kept until the caller applies it to the client's socket (`SO_MARK`,
//! and `IP_TOS` or `IPV6_TCLASS` by the socket's family), as HAProxy 2.6 does at the rule.
//! A socket that is not IP (a unix client) or an HTTP/2 stream has no socket of its own:
//! nothing is set there (HAProxy's `setsockopt` fails the same way on a unix socket).

use std::sync::atomic::{AtomicU64, Ordering};

const UNSET: u64 = u64::MAX;

/// Socket options asked for by the rules of one phase or request.
#[derive(Debug)]
pub struct SockOps {
    mark: AtomicU64,
    tos: AtomicU64,
}

impl Default for SockOps {
    fn default() -> Self {
        SockOps {
            mark: AtomicU64::new(UNSET),
            tos: AtomicU64::new(UNSET),
        }
    }
}

impl SockOps {
    /// `set-mark MARK`.
    pub fn mark(&self, mark: u32) {
        self.mark.store(u64::from(mark), Ordering::Relaxed);
    }

    /// `set-tos TOS`.
    pub fn tos(&self, tos: u32) {
        self.tos.store(u64::from(tos), Ordering::Relaxed);
    }

    /// Sets what was asked for on the client's socket (once: the requests are cleared).
    pub fn apply<C: crate::stream::ClientStream>(&self, client: &C) {
        if self.mark.load(Ordering::Relaxed) == UNSET && self.tos.load(Ordering::Relaxed) == UNSET {
            return;
        }
        client.with_socket(&mut |s| self.set(&s));
    }

    /// Sets what was asked for on `sock` (once: the requests are cleared).
    pub fn set(&self, sock: &socket2::SockRef<'_>) {
        let mark = self.mark.swap(UNSET, Ordering::Relaxed);
        let tos = self.tos.swap(UNSET, Ordering::Relaxed);
        if let Ok(m) = u32::try_from(mark) {
            let _ = sock.set_mark(m);
        }
        if let Ok(t) = u32::try_from(tos) {
            let v6 = sock
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .is_some_and(|a| a.is_ipv6());
            if v6 {
                let _ = sock.set_tclass_v6(t);
            } else {
                let _ = sock.set_tos(t);
            }
        }
    }
}

/// What has a socket to set options on (the listener's accepted TCP socket; `()` for a
/// unix one: nothing).
pub trait HasSocket {
    fn with(&self, f: &mut dyn FnMut(socket2::SockRef<'_>));
}

impl HasSocket for tokio::net::TcpStream {
    fn with(&self, f: &mut dyn FnMut(socket2::SockRef<'_>)) {
        f(socket2::SockRef::from(self));
    }
}

impl HasSocket for () {
    fn with(&self, _: &mut dyn FnMut(socket2::SockRef<'_>)) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tos_and_mark_reach_the_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let c = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let ops = SockOps::default();
        ops.tos(0x28);
        ops.set(&socket2::SockRef::from(&c));
        assert_eq!(socket2::SockRef::from(&c).tos().expect("tos"), 0x28);
        // applied once: a later apply without a rule changes nothing
        socket2::SockRef::from(&c).set_tos(0).expect("reset");
        ops.set(&socket2::SockRef::from(&c));
        assert_eq!(socket2::SockRef::from(&c).tos().expect("tos"), 0);
    }
}
