//! HTTP/2 on client connections (`bind ... proto h2`: h2c with prior knowledge, as HAProxy's
//! `proto h2`; or `h2` chosen by ALPN on a `bind ... ssl`): the `h2` crate's server speaks the protocol; each stream is one transaction
//! served by the same HTTP session phases as an HTTP/1 request (`transaction.rs`), the stream
//! being the session's client (`edge.rs`: the neutral head, a body source and sink;
//! `convert.rs`: the pure head conversions). Servers are spoken to in HTTP/1.1, or in HTTP/2
//! with `proto h2` / ALPN `h2` (`upstream.rs`).
//!
//! The connection advertises HAProxy's `tune.h2.max-concurrent-streams`,
//! `tune.h2.initial-window-size` and `tune.h2.header-table-size`. It ends gracefully (GOAWAY,
//! streams in flight finish) on a stop, when a reload retires its frontend, or after
//! `timeout client` (`timeout http-keep-alive` first, if set) without a stream.

use crate::state::Frontend;
use crate::stream::ClientStream;
use fulcrum_config::model::TuneH2;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tokio::sync::watch;

pub mod convert;
pub mod deadlines;
pub mod edge;
pub mod frames;
pub mod maps;
pub mod streams;
pub mod transaction;
pub mod turn;
pub mod upstream;
pub mod values;

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod size_tests;

/// How long the boxes of a connection's last streams are kept once it has none (`streams`).
const KEEP_SPARE: std::time::Duration = std::time::Duration::from_secs(1);

/// The connection-level receive window: HTTP/2's default (65535) would let one slow stream
/// stall every upload on the connection; this lets `max-concurrent-streams` uploads each
/// fill a stream window, within bounds.
fn connection_window(t: &TuneH2) -> u32 {
    let want = u64::from(t.initial_window_size) * u64::from(t.max_concurrent_streams.min(16));
    want.clamp(65535, (1 << 31) - 1) as u32
}

/// Serves one HTTP/2 client connection until it ends.
pub async fn serve<C: ClientStream>(
    fe: Arc<Frontend>,
    client: C,
    peer: SocketAddr,
    local: SocketAddr,
    stop: watch::Receiver<bool>,
    tune: TuneH2,
    track: Option<Arc<crate::track::Tracking>>,
) {
    let counted = crate::counters::SessionGuard::start(&fe.counters);
    // Over TLS: every stream's `ssl_fc*` fetches read the connection's handshake.
    let tls = client.tls().cloned();
    let conn = Conn {
        tls,
        peer,
        local,
        counted,
    };
    serve_io(fe, client, conn, stop, tune, track).await
}

/// Serves a `mode tcp` connection `switch-mode http proto h2` made HTTP/2 (`switch_mode`):
/// the bytes inspection read (the client preface and what followed) first, then the
/// connection's; its session counted at the accept, its tracked entries and transaction
/// variables gone with the TCP stream, as HAProxy's upgrade to H2 ends it.
pub async fn serve_upgraded<C: ClientStream>(
    fe: Arc<Frontend>,
    up: crate::switch_mode::Upgrade<C>,
    stop: watch::Receiver<bool>,
    track: Option<Arc<crate::track::Tracking>>,
) {
    if let Some(t) = &track {
        t.end_request();
    }
    let conn = Conn {
        tls: up.client.tls().cloned(),
        peer: up.addrs.0,
        local: up.addrs.1,
        counted: up.counted,
    };
    let (read, write) = tokio::io::split(up.client);
    let replayed = tokio::io::AsyncReadExt::chain(std::io::Cursor::new(up.kept), read);
    let io = tokio::io::join(replayed, write);
    let tune = fe.tune_h2;
    serve_io(fe, io, conn, stop, tune, track).await
}

/// The clock read once for the streams a connection accepts together, as HAProxy reads its
/// `now` once per turn of its loop: the streams of one burst (accepted one after the other,
/// the connection polled in between without waiting) share the reading taken for the first;
/// it is dropped as soon as `accept` waits, so the next burst reads the clock again.
#[derive(Default)]
struct Clock(Option<(SystemTime, Instant)>);

impl Clock {
    /// The burst's reading (taken now if it is the burst's first stream).
    fn now(&mut self) -> (SystemTime, Instant) {
        *self
            .0
            .get_or_insert_with(|| (SystemTime::now(), Instant::now()))
    }

    /// The connection had nothing more to accept: the burst is over.
    fn waited(&mut self) {
        self.0 = None;
    }
}

/// The client connection an HTTP/2 server runs on, beside its bytes.
struct Conn {
    /// Over TLS: every stream's `ssl_fc*` fetches read the connection's handshake.
    tls: Option<Arc<crate::stream::TlsInfo>>,
    peer: SocketAddr,
    local: SocketAddr,
    /// The frontend's count of the session, for as long as the connection lives.
    counted: crate::counters::SessionGuard,
}

async fn serve_io<T>(
    fe: Arc<Frontend>,
    client: T,
    conn: Conn,
    stop: watch::Receiver<bool>,
    tune: TuneH2,
    track: Option<Arc<crate::track::Tracking>>,
) where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    let Conn {
        tls,
        peer,
        local,
        counted: _counted,
    } = conn;
    let mut builder = h2::server::Builder::new();
    builder
        .initial_window_size(tune.initial_window_size)
        .initial_connection_window_size(connection_window(&tune))
        .max_concurrent_streams(tune.max_concurrent_streams)
        .header_table_size(tune.header_table_size)
        .max_header_list_size(fe.head_limit as u32);
    let handshake = builder.handshake::<_, bytes::Bytes>(client);
    let first = fe.timeouts.http_request.or(fe.timeouts.client);
    let shaken = match first {
        Some(t) => match tokio::time::timeout(t, handshake).await {
            Ok(r) => r,
            Err(_) => return,
        },
        None => handshake.await,
    };
    let mut conn = match shaken {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("h2 handshake from {peer}: {e}");
            return;
        }
    };
    let idle = fe.timeouts.http_keep_alive.or(fe.timeouts.client);
    // The streams run inside this connection's task (not a task each): the thread is the
    // same either way (one runtime per thread), and a stream woken by its server's answer
    // is polled here, next to the connection that sends its response, without a task
    // spawned, scheduled and joined per request.
    let mut streams = streams::Streams::new();
    // The streams' waits (`timeout server`, ...) on one timer: `deadlines`.
    let deadlines = Arc::new(deadlines::Deadlines::default());
    let timer = tokio::time::sleep(std::time::Duration::from_secs(3600));
    tokio::pin!(timer);
    let mut closing = false;
    // The stop and reload signals are waited on by futures made once (not one pair per
    // accepted stream): created before the flags are first read, so a reload between the two
    // still wakes them; made again only after they fire.
    let mut retire = Box::pin(fe.retire.notified());
    let mut stop_rx = stop.clone();
    // Resolves once: on a stop, or when no one can stop us any more (the runtime is ending).
    let mut stopped = Box::pin(async move {
        while stop_rx.changed().await.is_ok() {
            if *stop_rx.borrow() {
                return;
            }
        }
    });
    // Since when the connection has had no stream (its idle time, and how long the boxes of
    // its last streams are kept for the next ones: `streams`).
    let mut quiet_since: Option<tokio::time::Instant> = None;
    let mut clock = Clock::default();
    // Set when `accept` used up the task's budget: the streams go first on the next turn.
    let mut streams_first = false;
    loop {
        if !closing && (*stop.borrow() || fe.retired.load(Ordering::Relaxed)) {
            closing = true;
            conn.graceful_shutdown();
        }
        let quiet = streams.is_empty() && !closing;
        if quiet {
            quiet_since.get_or_insert_with(tokio::time::Instant::now);
        } else {
            quiet_since = None;
        }
        let since = quiet_since;
        let idle_sleep = async {
            match (idle, since) {
                (Some(t), Some(s)) => tokio::time::sleep_until(s + t).await,
                _ => std::future::pending().await,
            }
        };
        let spare = streams.has_spare();
        let trim_sleep = async {
            match since {
                Some(s) if spare => tokio::time::sleep_until(s + KEEP_SPARE).await,
                _ => std::future::pending().await,
            }
        };
        // `biased`, in this order: the streams whose requests arrived together are all
        // accepted (each `accept` reads what the socket has and writes what is queued) before
        // any runs, then they run (their answers queued in the codec), and only then is the
        // connection polled again, writing the answers of the whole batch at once: one write
        // (and one wake-up of the client) per batch, not one per answer or two.
        // A fixed order starves the later branches when the first uses up the task's coop
        // budget (tokio: every budgeted poll is then Pending until the task yields; a peer
        // keeping the connection reading can do that): after a turn where `accept` left no
        // budget, the next turn lets the streams move first (`streams_first`).
        tokio::select! {
            biased;
            next = std::future::poll_fn(|cx| {
                // Polled first in every turn of the task: the streams that run in this turn
                // share one reading of the clock (`turn`).
                deadlines.next_turn();
                if std::mem::take(&mut streams_first) {
                    // The connection is polled on the next turn (its wake-up was this one).
                    cx.waker().wake_by_ref();
                    clock.waited();
                    return std::task::Poll::Pending;
                }
                // The request's head stays in its box (vendor/h2 patch 15).
                let next = conn.poll_accept_boxed(cx);
                if next.is_pending() {
                    clock.waited();
                    streams_first = !tokio::task::coop::has_budget_remaining();
                }
                next
            }) => match next {
                Some(Ok((req, body, mut respond))) => {
                    if transaction::too_many_fields(&req, fe.h1_req.max_headers) {
                        // `tune.http.maxhdr`: HAProxy 2.6 cannot decode such a head and ends
                        // the connection (GOAWAY, COMPRESSION_ERROR)
                        drop(respond);
                        conn.abrupt_shutdown(h2::Reason::COMPRESSION_ERROR);
                        closing = true;
                        continue;
                    }
                    if transaction::refused(&req, &mut respond) {
                        continue;
                    }
                    // The stream's future is made in its box (`Streams::push`).
                    let accepted = clock.now();
                    streams.push(transaction::serve(
                        fe.clone(),
                        (req, body),
                        respond,
                        peer,
                        local,
                        stop.clone(),
                        track.clone(),
                        tls.clone(),
                        deadlines.clone(),
                        accepted,
                    ));
                }
                Some(Err(e)) => {
                    tracing::debug!("h2 connection from {peer}: {e}");
                    break;
                }
                None => break,
            },
            // Every stream that can move moves; the select ends only once none is left.
            () = streams.drain(), if !streams.is_empty() => {}
            // Never ends: wakes the streams whose deadline passed.
            () = deadlines.run(timer.as_mut()), if !streams.is_empty() => {}
            () = &mut stopped, if !closing => {
                closing = true;
                conn.graceful_shutdown();
            }
            () = &mut retire, if !closing => {
                retire = Box::pin(fe.retire.notified());
            }
            _ = idle_sleep => {
                closing = true;
                conn.graceful_shutdown();
            }
            () = trim_sleep => streams.trim(),
        }
    }
    // Streams still running when the connection ended lose their client; they finish (and
    // log) on their own.
    let turn = std::future::poll_fn(|_| {
        deadlines.next_turn();
        std::task::Poll::<()>::Pending
    });
    tokio::select! {
        biased;
        () = turn => {}
        () = streams.finish() => {}
        () = deadlines.run(timer.as_mut()) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_window_is_bounded() {
        let t = TuneH2::default();
        assert_eq!(connection_window(&t), 65535 * 16);
        let big = TuneH2 {
            initial_window_size: (1 << 31) - 1,
            ..t
        };
        assert_eq!(connection_window(&big), (1 << 31) - 1);
    }
}
