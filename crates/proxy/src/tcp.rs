//! TCP mode (`mode tcp`) sessions, and the byte tunnel shared with HTTP upgrades.
//!
//! A TCP session: route (use_backend on layer-4 ACLs) → assign server and connect (retries,
//! redispatch) → tunnel both directions with half-close: when one side finishes sending, the
//! other side's write half is shut down and the opposite direction keeps flowing until it
//! finishes too. Inactivity is bounded by `timeout tunnel` when set (else the client/server
//! timeouts); after a side has closed, `timeout client-fin`/`server-fin` bound the rest.

use crate::acl::Ctx;
use crate::backend::{Hints, NoServer};
use crate::connect::ServerConn;
use crate::state::Frontend;
use crate::stream::{ClientStream, PeekRead};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
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
    Error { client: bool },
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
    from_client: bool,
) -> (u64, Result<(), TunnelEnd>) {
    let mut total = 0u64;
    if !pending.is_empty() {
        if w.write_all(pending).await.is_err() {
            return (
                0,
                Err(TunnelEnd::Error {
                    client: !from_client,
                }),
            );
        }
        total += pending.len() as u64;
    }
    let mut buf: Vec<u8> = Vec::new();
    loop {
        if buf.is_empty() {
            // Wait for data before allocating: idle tunnels hold no buffer.
            match r.peek_byte().await {
                Err(_) => {
                    return (
                        total,
                        Err(TunnelEnd::Error {
                            client: from_client,
                        }),
                    )
                }
                Ok(_) => buf.resize(TUNNEL_BUF, 0),
            }
        }
        match r.read(&mut buf).await {
            Ok(0) => {
                let _ = w.shutdown().await;
                return (total, Ok(()));
            }
            Ok(n) => {
                if w.write_all(&buf[..n]).await.is_err() {
                    return (
                        total,
                        Err(TunnelEnd::Error {
                            client: !from_client,
                        }),
                    );
                }
                total += n as u64;
                shared.touch();
            }
            Err(_) => {
                return (
                    total,
                    Err(TunnelEnd::Error {
                        client: from_client,
                    }),
                )
            }
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
    let up = pump(cr, sw, to_server, &shared, true);
    let down = pump(sr, cw, to_client, &shared, false);
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

/// Serves one `mode tcp` connection.
pub async fn serve<C: ClientStream>(
    fe: Arc<Frontend>,
    mut client: C,
    peer: SocketAddr,
    local: SocketAddr,
) {
    let _counted = crate::counters::SessionGuard::start(&fe.counters);
    let accepted = Instant::now();
    let accept_wall = SystemTime::now();
    let src = crate::net::canonical(peer.ip());
    let ctx = Ctx {
        src,
        dst_port: local.port(),
        req: None,
        res: None,
    };
    let be = fe
        .use_backends
        .iter()
        .find(|(c, _)| c.eval(&ctx))
        .map(|(_, b)| b.clone())
        .or_else(|| fe.default_backend.clone());
    let Some(be) = be else {
        log_tcp(
            &fe,
            peer,
            accept_wall,
            "<NOSRV>",
            "<NOSRV>",
            None,
            None,
            accepted.elapsed(),
            0,
            "SC--",
        );
        return;
    };
    // `stick on src`: a client stuck to a usable server goes back to it.
    let prefer = if be.has_stick_table() {
        be.stick_match(Instant::now(), src)
    } else {
        None
    };
    let hints = Hints {
        src: Some(src),
        uri: b"",
        header: None,
        prefer,
    };
    let mut waited = Duration::ZERO;
    let t_connect = Instant::now();
    let (assigned, mut server, _) = match be
        .connect(&hints, local.port(), |_| None, &mut waited)
        .await
    {
        Ok(v) => v,
        Err((e, srv)) => {
            let flags = match e {
                NoServer::QueueTimeout => "sQ--",
                NoServer::ConnectFailed { timeout: true } => "sC--",
                _ => "SC--",
            };
            let sname = srv
                .as_ref()
                .map_or("<NOSRV>".to_string(), |s| s.name.clone());
            log_tcp(
                &fe,
                peer,
                accept_wall,
                &be.name,
                &sname,
                Some(waited),
                None,
                accepted.elapsed(),
                0,
                flags,
            );
            return;
        }
    };
    let tc = t_connect.elapsed().saturating_sub(waited);
    if be.has_stick_table() {
        be.stick_store(Instant::now(), src, assigned.index);
    }
    let idle = be
        .timeouts
        .tunnel
        .or_else(|| match (fe.timeouts.client, be.timeouts.server) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        });
    let t = Tunnel {
        idle,
        client_fin: fe.timeouts.client_fin,
        server_fin: be.timeouts.server_fin,
    };
    // Compiled once per kind of server connection (TCP, unix).
    let (up, down, end) = match &mut server {
        ServerConn::Tcp(s) => tunnel(&mut client, b"", s, b"", &t).await,
        ServerConn::Unix(s) => tunnel(&mut client, b"", s, b"", &t).await,
    };
    let flags = match end {
        TunnelEnd::Done => "----",
        TunnelEnd::Timeout => "cD--",
        TunnelEnd::Error { client: true } => "CD--",
        TunnelEnd::Error { client: false } => "SD--",
    };
    let sname = assigned.server().name.clone();
    crate::record::tcp(
        &fe.counters,
        Some(&be.counters),
        Some(&assigned.server().counters),
        up,
        down,
        flags,
        Some(waited),
        Some(tc),
        accepted.elapsed(),
    );
    drop(assigned);
    log_tcp(
        &fe,
        peer,
        accept_wall,
        &be.name,
        &sname,
        Some(waited),
        Some(tc),
        accepted.elapsed(),
        down,
        flags,
    );
}

#[allow(clippy::too_many_arguments)]
fn log_tcp(
    fe: &Frontend,
    peer: SocketAddr,
    accept: SystemTime,
    be: &str,
    srv: &str,
    tw: Option<Duration>,
    tc: Option<Duration>,
    tt: Duration,
    bytes: u64,
    flags: &str,
) {
    let Some(log) = &fe.log else { return };
    if fe.options.dontlognull && bytes == 0 && flags == "----" {
        return;
    }
    let fc = fe.conns.load(Ordering::Relaxed);
    let line = if fe.options.tcplog || fe.options.httplog {
        format!(
            "{}:{} [{}] {} {}/{} {}/{}/{} {} {} {}/{}/0/0/0 0/0",
            crate::net::canonical(peer.ip()),
            peer.port(),
            crate::log::accept_date(accept),
            fe.name,
            be,
            srv,
            crate::log::ms(tw),
            crate::log::ms(tc),
            tt.as_millis(),
            bytes,
            // tcplog's termination state is two characters (%ts).
            &flags[..2.min(flags.len())],
            crate::counters::active_connections(),
            fc,
        )
    } else {
        format!(
            "Connect from {}:{} to {} ({}/TCP)",
            crate::net::canonical(peer.ip()),
            peer.port(),
            srv,
            fe.name
        )
    };
    log.send(&line);
}
