//! The inspect phase of a TCP frontend that routes on the ClientHello (`req.ssl_sni`,
//! `req.ssl_hello_type` with `tcp-request inspect-delay`): peek the client's first bytes, without
//! consuming them, until [`hello::parse`] decides or the delay runs out. The bytes stay in the
//! socket and reach the server untouched (nothing is decrypted).

use super::hello::{self, Hello};
use crate::stream::ClientStream;
use std::time::Duration;
use tokio::time::Instant;

/// The largest ClientHello record looked at (one full TLS record and its header).
const MAX: usize = 16_384 + 5;
/// Pause between peeks while a hello is partly received (peek does not wait for more data).
const STEP: Duration = Duration::from_millis(2);

pub async fn read<C: ClientStream>(client: &mut C, delay: Duration) -> Hello {
    let deadline = Instant::now() + delay;
    let mut buf = vec![0u8; MAX];
    let mut seen = 0;
    loop {
        let n = match tokio::time::timeout_at(deadline, client.peek_into(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return Hello::Incomplete, // closed, failed or out of time
        };
        let verdict = hello::parse(&buf[..n]);
        if verdict != Hello::Incomplete || n == MAX {
            return verdict;
        }
        if n == seen && Instant::now() + STEP > deadline {
            return Hello::Incomplete;
        }
        seen = n;
        tokio::time::sleep(STEP.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}
