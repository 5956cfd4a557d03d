//! A bounded HTTP client loop for failover tests: counts failed requests and the outage window.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One GET with short timeouts; true on any `HTTP/1.x 200` answer.
pub fn get_ok(addr: SocketAddr, timeout: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    if s.write_all(b"GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        match s.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    buf[..got].starts_with(b"HTTP/1.1 200") || buf[..got].starts_with(b"HTTP/1.0 200")
}

/// What a request loop saw.
#[derive(Debug, Clone, Default)]
pub struct LoopReport {
    pub sent: u32,
    pub failed: u32,
    /// From the first failure to the first success after it (zero when nothing failed).
    pub outage: Duration,
}

/// Sends one request every `every` to `addr` for at most `total` (and at most `max` requests),
/// calling `at_start` once the first request succeeded (e.g. to kill the master then).
pub fn request_loop(
    addr: SocketAddr,
    every: Duration,
    total: Duration,
    max: u32,
    at_start: impl FnOnce(),
) -> LoopReport {
    let timeout = Duration::from_millis(250);
    let mut report = LoopReport::default();
    let start = Instant::now();
    let mut at_start = Some(at_start);
    let mut first_failure: Option<Instant> = None;
    while start.elapsed() < total && report.sent < max {
        let t = Instant::now();
        let ok = get_ok(addr, timeout);
        report.sent += 1;
        if ok {
            if let Some(f) = at_start.take() {
                f();
            }
            if let Some(ff) = first_failure.take() {
                report.outage += ff.elapsed();
            }
        } else if at_start.is_none() {
            report.failed += 1;
            first_failure.get_or_insert(t);
        }
        if let Some(rest) = every.checked_sub(t.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    if let Some(ff) = first_failure {
        report.outage += ff.elapsed();
    }
    report
}
