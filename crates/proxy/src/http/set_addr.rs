//! `http-request set-src|set-dst|set-src-port|set-dst-port EXPR`: the connection's
//! addresses as HAProxy 2.6 rewrites them. An address keeps the old port (either family), a
//! port keeps the old address; a value that does not cast to an address (or a port) leaves
//! things as they were. Later rules, the log line and the `src`/`dst` fetches see the new
//! values, and so do the connection's later requests (HAProxy rewrites the connection).

use fulcrum_config::model::AddrPart;
use fulcrum_sample::Value;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The addresses a request's rules moved (none until a rule runs: one flag read per sample).
#[derive(Debug, Default)]
pub struct Moved {
    set: AtomicBool,
    addrs: Mutex<Option<(SocketAddr, SocketAddr)>>,
    /// `set-mark`/`set-tos` of the same rules, for the caller to apply to the client's
    /// socket (`sockopt`).
    pub sock: crate::sockopt::SockOps,
    /// `tcp-request content set-log-level`: the severity + 1 (0: none; 9: `silent`).
    level: std::sync::atomic::AtomicU8,
    /// `tcp-request connection expect-proxy layer4` ran: a PROXY header must come first.
    pub expect_proxy: AtomicBool,
    /// `tcp-request connection expect-netscaler-cip layer4` ran: a NetScaler Client IP
    /// header must come first.
    pub expect_cip: AtomicBool,
    /// `tcp-request content switch-mode http` ran: a TCP stream is HTTP from here
    /// (`switch_mode`).
    pub switch_http: AtomicBool,
    /// ... with `proto h2`: HTTP/2 with prior knowledge.
    pub switch_h2: AtomicBool,
    /// `tcp-request content capture`: (request capture slot, value), for the caller's
    /// capture slots (`http::capture::Samples`).
    captured: Mutex<Vec<(usize, Vec<u8>)>>,
    /// `tcp-request content set-priority-class|offset`: (class, offset) once one ran.
    priority: Mutex<Option<(i32, i32)>>,
}

impl Moved {
    /// `tcp-request content set-log-level`: 0 (emerg) .. 7 (debug), or 8 for `silent`.
    pub fn set_level(&self, level: u8) {
        self.level.store(level.saturating_add(1), Ordering::Relaxed);
    }

    /// `set-priority-class` (`offset`: `set-priority-offset`) to `v`, clamped as HAProxy 2.6.
    pub fn set_priority(&self, offset: bool, v: i64) {
        if let Ok(mut p) = self.priority.lock() {
            let (c, o) = p.get_or_insert((0, 0));
            if offset {
                *o = v.clamp(-524_287, 524_287) as i32;
            } else {
                *c = v.clamp(-2047, 2047) as i32;
            }
        }
    }

    /// What `set-priority-*` rules left.
    pub fn priority(&self) -> Option<(i32, i32)> {
        self.priority.lock().ok().and_then(|p| *p)
    }

    /// A `capture` rule took `v` for request slot `slot`.
    pub fn capture(&self, slot: usize, v: Vec<u8>) {
        if let Ok(mut g) = self.captured.lock() {
            g.push((slot, v));
        }
    }

    /// Moves what `capture` rules took into `into` (a request's or a session's slots).
    pub fn captures_into(&self, into: Option<&crate::http::capture::Samples>) {
        let taken = self.captured.lock().map(|mut g| std::mem::take(&mut *g));
        if let (Ok(taken), Some(into)) = (taken, into) {
            for (slot, v) in taken {
                into.set(false, slot, v);
            }
        }
    }

    /// The level a `set-log-level` rule chose, if any (8: `silent`).
    pub fn level(&self) -> Option<u8> {
        self.level.load(Ordering::Relaxed).checked_sub(1)
    }

    /// The current (source, destination), given the connection's.
    pub fn get(&self, src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
        if !self.set.load(Ordering::Relaxed) {
            return (src, dst);
        }
        self.addrs
            .lock()
            .ok()
            .and_then(|g| *g)
            .unwrap_or((src, dst))
    }

    /// What the rules left, when some rule moved an address.
    pub fn result(&self) -> Option<(SocketAddr, SocketAddr)> {
        if !self.set.load(Ordering::Relaxed) {
            return None;
        }
        self.addrs.lock().ok().and_then(|g| *g)
    }

    /// Applies one rule's value to the current addresses.
    pub fn apply(&self, part: AddrPart, v: Option<Value>, src: SocketAddr, dst: SocketAddr) {
        let (mut s, mut d) = self.get(src, dst);
        let Some(v) = v else { return };
        match part {
            AddrPart::Src | AddrPart::Dst => {
                let Some(ip) = ip_of(v) else { return };
                let a = if part == AddrPart::Src {
                    &mut s
                } else {
                    &mut d
                };
                *a = SocketAddr::new(ip, a.port());
            }
            AddrPart::SrcPort | AddrPart::DstPort => {
                let Some(p) = port_of(v) else { return };
                let a = if part == AddrPart::SrcPort {
                    &mut s
                } else {
                    &mut d
                };
                a.set_port(p);
            }
        }
        if let Ok(mut g) = self.addrs.lock() {
            *g = Some((s, d));
            self.set.store(true, Ordering::Relaxed);
        }
    }
}

/// HAProxy's cast to an address: an IP value, or a string that parses as one.
fn ip_of(v: Value) -> Option<IpAddr> {
    match v {
        Value::Ipv4(a) => Some(IpAddr::V4(a)),
        Value::Ipv6(a) => Some(IpAddr::V6(a)),
        Value::Str(b) | Value::Bin(b) => std::str::from_utf8(&b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// HAProxy's cast to an integer, kept to the port range (it stores the low 16 bits).
fn port_of(v: Value) -> Option<u16> {
    let n = match v {
        Value::Sint(n) => n,
        Value::Str(b) | Value::Bin(b) => std::str::from_utf8(&b).ok()?.trim().parse().ok()?,
        _ => return None,
    };
    Some((n & 0xffff) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_keeps_port_and_port_keeps_address() {
        let src: SocketAddr = "127.0.0.1:4000".parse().expect("a");
        let dst: SocketAddr = "127.0.0.1:80".parse().expect("a");
        let m = Moved::default();
        assert_eq!(m.result(), None);
        m.apply(
            AddrPart::Src,
            Some(Value::Str(b"10.1.2.3".to_vec())),
            src,
            dst,
        );
        assert_eq!(m.get(src, dst).0, "10.1.2.3:4000".parse().expect("a"));
        m.apply(AddrPart::SrcPort, Some(Value::Sint(5555)), src, dst);
        m.apply(AddrPart::Dst, Some(Value::Str(b"::1".to_vec())), src, dst);
        m.apply(
            AddrPart::DstPort,
            Some(Value::Str(b"not a port".to_vec())),
            src,
            dst,
        );
        m.apply(AddrPart::Src, Some(Value::Str(b"bogus".to_vec())), src, dst);
        assert_eq!(
            m.result(),
            Some((
                "10.1.2.3:5555".parse().expect("a"),
                "[::1]:80".parse().expect("a")
            ))
        );
    }
}
