//! Bounded polling: wait for a condition with a deadline instead of sleeping fixed times.

use std::time::{Duration, Instant};

/// Polls `f` every 20 ms until it returns true or `timeout` passes; returns how long it took,
/// or `None` on timeout.
pub fn until(timeout: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if f() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether 127.0.0.1:`port` accepts a TCP connection within `timeout`.
pub fn listening(port: u16, timeout: Duration) -> bool {
    until(timeout, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .is_some()
}
