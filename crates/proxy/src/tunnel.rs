//! The byte tunnel of TCP sessions and of HTTP upgrades (101 Switching Protocols): both
//! directions forwarded with half-close: when one side finishes sending, the other side's
//! write half is shut down and the opposite direction keeps flowing until it finishes too.
//! Inactivity is bounded by one idle timeout (`timeout tunnel`, else the client/server
//! timeouts); after a side has closed, `timeout client-fin`/`server-fin` bound the rest.

use crate::stream::{ClientStream, PeekRead};
use crate::termination::{Cause, Phase, Termination};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWrite;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TUNNEL_BUF: usize = 16 * 1024;

/// How a tunnel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelEnd {
    /// Both directions finished normally.
    Done,
    /// No traffic for the inactivity timeout (`true`: client side was the idle one).
    Timeout,
    /// A side failed (reset).
    Error(Side),
}

/// One end of a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

impl TunnelEnd {
    /// The termination state of a session that ended so (data phase).
    pub fn termination(self) -> Termination {
        match self {
            TunnelEnd::Done => Termination::NORMAL,
            TunnelEnd::Timeout => Termination::new(Cause::ClientTimeout, Phase::Data),
            TunnelEnd::Error(Side::Client) => Termination::new(Cause::Client, Phase::Data),
            TunnelEnd::Error(Side::Server) => Termination::new(Cause::Server, Phase::Data),
        }
    }
}

pub struct Tunnel {
    pub idle: Option<Duration>,
    pub client_fin: Option<Duration>,
    pub server_fin: Option<Duration>,
}

struct Shared {
    start: Instant,
    last: AtomicU64,
}

impl Shared {
    fn touch(&self) {
        self.last
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    fn idle_for(&self) -> Duration {
        Duration::from_millis(
            (self.start.elapsed().as_millis() as u64)
                .saturating_sub(self.last.load(Ordering::Relaxed)),
        )
    }
}

async fn pump<R: PeekRead, W: AsyncWrite + Unpin>(
    mut r: R,
    mut w: W,
    pending: &[u8],
    shared: &Shared,
    from: Side,
) -> (u64, Result<(), TunnelEnd>) {
    let mut total = 0u64;
    if !pending.is_empty() {
        if w.write_all(pending).await.is_err() || w.flush().await.is_err() {
            return (0, Err(TunnelEnd::Error(from.other())));
        }
        total += pending.len() as u64;
    }
    let mut buf: Vec<u8> = Vec::new();
    loop {
        if buf.is_empty() {
            // Wait for data before allocating: idle tunnels hold no buffer.
            match r.peek_byte().await {
                Err(_) => return (total, Err(TunnelEnd::Error(from))),
                Ok(_) => buf.resize(TUNNEL_BUF, 0),
            }
        }
        match r.read(&mut buf).await {
            Ok(0) => {
                let _ = w.shutdown().await;
                return (total, Ok(()));
            }
            Ok(n) => {
                if n < buf.len() {
                    // A short read emptied the socket: wait for readiness, not `EAGAIN`.
                    r.drained();
                }
                // Flushed: a TLS stream holds encrypted bytes until flushed (no-op on TCP).
                if w.write_all(&buf[..n]).await.is_err() || w.flush().await.is_err() {
                    return (total, Err(TunnelEnd::Error(from.other())));
                }
                total += n as u64;
                shared.touch();
            }
            Err(_) => return (total, Err(TunnelEnd::Error(from))),
        }
    }
}

/// Resolves when neither direction moved a byte for `idle` (never without a timeout).
/// One timer per tunnel, re-armed only when it fires: reads and writes pay no timer cost.
async fn watchdog(shared: &Shared, idle: Option<Duration>) {
    let Some(d) = idle else {
        return std::future::pending().await;
    };
    let mut wait = d;
    loop {
        tokio::time::sleep(wait).await;
        let since = shared.idle_for();
        if since >= d {
            return;
        }
        wait = d - since;
    }
}

/// Forwards both directions until both are finished; returns (client→server, server→client).
pub async fn tunnel<C: ClientStream, S: ClientStream>(
    client: &mut C,
    to_server: &[u8],
    server: &mut S,
    to_client: &[u8],
    t: &Tunnel,
) -> (u64, u64, TunnelEnd) {
    let shared = Shared {
        start: Instant::now(),
        last: AtomicU64::new(0),
    };
    let (cr, cw) = client.split_halves();
    let (sr, sw) = server.split_halves();
    let up = pump(cr, sw, to_server, &shared, Side::Client);
    let down = pump(sr, cw, to_client, &shared, Side::Server);
    let dog = watchdog(&shared, t.idle);
    tokio::pin!(up);
    tokio::pin!(down);
    tokio::pin!(dog);
    // When one direction finishes first, the other continues under the `*-fin` timeout.
    let (mut up_res, mut down_res) = (None, None);
    while up_res.is_none() || down_res.is_none() {
        tokio::select! {
            r = &mut up, if up_res.is_none() => {
                let failed = r.1.is_err();
                up_res = Some(r);
                if failed { break; }
                if let (Some(fin), None) = (t.client_fin, &down_res) {
                    match tokio::time::timeout(fin, &mut down).await {
                        Ok(r) => down_res = Some(r),
                        Err(_) => down_res = Some((0, Err(TunnelEnd::Timeout))),
                    }
                }
            }
            _ = &mut dog => {
                up_res.get_or_insert((0, Err(TunnelEnd::Timeout)));
                down_res.get_or_insert((0, Err(TunnelEnd::Timeout)));
            }
            r = &mut down, if down_res.is_none() => {
                let failed = r.1.is_err();
                down_res = Some(r);
                if failed { break; }
                if let (Some(fin), None) = (t.server_fin, &up_res) {
                    match tokio::time::timeout(fin, &mut up).await {
                        Ok(r) => up_res = Some(r),
                        Err(_) => up_res = Some((0, Err(TunnelEnd::Timeout))),
                    }
                }
            }
        }
    }
    let (u, ue) = up_res.unwrap_or((0, Ok(())));
    let (d, de) = down_res.unwrap_or((0, Ok(())));
    let end = match (ue, de) {
        (Ok(()), Ok(())) => TunnelEnd::Done,
        (Err(e), _) | (_, Err(e)) => e,
    };
    (u, d, end)
}
