//! Idle server connections kept for reuse (`http-reuse`), one pool per worker thread and
//! server (TCP, unix or TLS stream connections, whichever kind the server is).
//!
//! A socket belongs to the worker runtime that registered it, so pools are thread-local: no
//! lock on the request path. A pooled connection that the server closed meanwhile is noticed
//! when taken (a non-blocking read sees EOF) and dropped. A connection idle for longer than
//! [`PURGE_DELAY`] (HAProxy's default `pool-purge-delay`, 5 s) is closed: when a later `take`
//! meets it, and by the worker's periodic [`purge`], so servers nobody sends to any more are not
//! left holding idle connections (HAProxy closes part of them per period; fulcrum closes those
//! idle for a whole period).
//!
//! How many are kept follows HAProxy's `srv_add_to_idle_list`: a connection offered back
//! ([`offer`]) is kept while the server's idle connections (all threads) are fewer than its
//! `pool-max-conn` (unlimited by default; 0 keeps none), and then when the thread has none idle
//! for that server, or when the idle ones plus those in use stay within the number the server
//! needed lately (the most in use at once, halved every purge period while the need is lower)
//! plus its `pool-low-conn`. So 20,000 idle keep-alive clients that each made one request
//! leave one idle server connection behind, not 20,000; a busy server keeps as many as its
//! peak concurrency. (HAProxy's `pool-low-conn` also stops a thread from stealing another
//! thread's idle connections below it: fulcrum's threads never take each other's.)
//!
//! Idle connections never cost a new connection its descriptor: when the process runs out of
//! them (`EMFILE`, `ENFILE`), the opening of a server connection or the accept of a client
//! closes this thread's oldest idle ones first and tries again ([`reclaimed`]), as HAProxy
//! closes an idle connection to make room above `tune.pool-high-fd-ratio`. Without it, the
//! idle connections a wave of clients left behind (up to [`MAX_IDLE_PER_SERVER`], for
//! [`PURGE_DELAY`]) made the next wave's first requests fail their `socket()` and wait the
//! retry's 1 s turn-around each, while their `maxconn` permits held new clients in the
//! listener's backlog (`bench/proxy/run.sh`'s 9,800-connection rows: 1,100-2,500 wrk timeouts
//! per round).

use crate::connect::ServerConn;
use crate::server::ServerRt;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Idle connections kept per server and thread at most. HAProxy's `pool-max-conn` is unlimited
/// by default (bounded by `tune.pool-high-fd-ratio`, 25% of the fd limit): HTTP/2 clients with
/// 1,000 streams in flight need as many HTTP/1 server connections, and a cap of 128 closed
/// and reopened most of them for every wave of streams (`bench/h2`: 0.19x haproxy). Idle
/// ones still close after [`PURGE_DELAY`].
const MAX_IDLE_PER_SERVER: usize = 4096;

/// How long an idle server connection is kept.
pub const PURGE_DELAY: Duration = Duration::from_secs(5);
/// [`PURGE_DELAY`] in nanoseconds of `clock::monotonic_ns`.
const PURGE_NS: u64 = PURGE_DELAY.as_nanos() as u64;

/// An idle connection and what it has done.
struct Idle {
    conn: ServerConn,
    /// When it was offered (`clock::monotonic_ns`: read twice per request, without
    /// `Instant`'s checked arithmetic).
    since: u64,
    /// Requests it has carried.
    uses: u32,
}

/// One server's idle connections on this thread (oldest first) and its estimated need.
#[derive(Default)]
struct PerServer {
    idle: Vec<Idle>,
    /// The server (its limits and its count of idle connections in all threads), once one
    /// was offered.
    server: Option<Arc<ServerRt>>,
    /// The most connections in use at once seen this purge period.
    max_used: u32,
    /// HAProxy's `est_need_conns`: the need seen lately, decaying by half per period.
    est_need: u32,
}

#[derive(Default)]
struct Pool {
    servers: HashMap<u64, PerServer, ById>,
    /// When the needs were last decayed (`clock::monotonic_ns`).
    decayed: Option<u64>,
}

/// Hashes a server id (unique numbers given out in order) with one multiplication: the pool
/// is looked up twice per request (taken, offered back), where SipHash cost more than the rest
/// of the lookup, and nothing outside chooses the keys.
#[derive(Default, Clone, Copy)]
struct ById;

impl std::hash::BuildHasher for ById {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // Fibonacci hashing: spreads consecutive ids over the high bits hashbrown reads.
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl PerServer {
    /// Counts `n` idle connections of this thread's list gone (taken, expired, dropped).
    fn gone(&self, n: usize) {
        if let (Some(srv), true) = (&self.server, n > 0) {
            srv.idle.fetch_sub(n as u32, Ordering::Relaxed);
        }
    }
}

impl Drop for PerServer {
    fn drop(&mut self) {
        self.gone(self.idle.len());
    }
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// Which idle connection a request may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Any (a later request of a client connection; `http-reuse always`).
    Any,
    /// Only one that carried more than one request (`http-reuse aggressive`, first requests).
    Proven,
}

/// An idle connection to server `id`, most recently used first.
pub fn take(id: u64) -> Option<ServerConn> {
    take_with(id, Want::Any).map(|(c, _)| c)
}

/// An idle connection to server `id` that `want` allows, most recently used first, with the
/// number of requests it has carried.
pub fn take_with(id: u64, want: Want) -> Option<(ServerConn, u32)> {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let e = p.servers.get_mut(&id)?;
        let now = crate::clock::monotonic_ns();
        let mut i = e.idle.len();
        while i > 0 {
            i -= 1;
            if now.saturating_sub(e.idle[i].since) >= PURGE_NS {
                // This one and those before it are older still.
                e.idle.drain(..=i);
                e.gone(i + 1);
                return None;
            }
            if want == Want::Proven && e.idle[i].uses < 2 {
                continue;
            }
            let c = e.idle.remove(i);
            e.gone(1);
            if c.conn.alive() {
                return Some((c.conn, c.uses));
            }
        }
        None
    })
}

/// Offers `s`, which carried `uses` requests, back to `server`'s idle connections while
/// `in_use` connections to that server (this one included) are in use: kept while the
/// server's idle connections are fewer than its `pool-max-conn`, and when the thread holds none
/// idle for it, or when idle plus in use stay within the recent need plus `pool-low-conn`
/// (HAProxy's rule); otherwise closed. Whether it was kept.
pub fn offer(server: &Arc<ServerRt>, s: ServerConn, uses: u32, in_use: u32) -> bool {
    // From now on a connection may be idle: opening a server connection can reclaim it.
    crate::connect::on_shortage(reclaimed);
    let (max, low) = server.pool_limits();
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let e = p.servers.entry(server.id).or_default();
        if e.server.is_none() {
            e.server = Some(server.clone());
        }
        e.max_used = e.max_used.max(in_use);
        e.est_need = e.est_need.max(in_use);
        let idle = e.idle.len() as u32;
        let keep = e.idle.len() < MAX_IDLE_PER_SERVER
            && server.idle.load(Ordering::Relaxed) < max
            && (idle == 0 || idle + in_use <= in_use.max(e.est_need).saturating_add(low));
        if keep {
            server.idle.fetch_add(1, Ordering::Relaxed);
            e.idle.push(Idle {
                conn: s,
                since: crate::clock::monotonic_ns(),
                uses,
            });
        } else {
            s.close_idle();
        }
        keep
    })
}

/// Drops idle connections to servers that no longer exist (after a reload).
pub fn retain(keep: &dyn Fn(u64) -> bool) {
    POOL.with(|p| p.borrow_mut().servers.retain(|id, _| keep(*id)));
}

/// Closes this thread's connections idle for [`PURGE_DELAY`] or more (run periodically by each
/// worker), and once per period lets each server's estimated need decay towards what it used.
pub fn purge() {
    purge_at(crate::clock::monotonic_ns());
}

/// [`purge`] at `now` (`clock::monotonic_ns`).
fn purge_at(now: u64) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let decay = match p.decayed {
            Some(t) => now.saturating_sub(t) >= PURGE_NS,
            None => true,
        };
        if decay {
            p.decayed = Some(now);
        }
        for e in p.servers.values_mut() {
            // Oldest first: drop the leading run of expired ones.
            let expired = e
                .idle
                .iter()
                .take_while(|i| now.saturating_sub(i.since) >= PURGE_NS)
                .count();
            for i in e.idle.drain(..expired) {
                i.conn.close_idle();
            }
            e.gone(expired);
            if decay {
                // HAProxy's srv_cleanup_idle_conns: the estimate moves halfway to the period's
                // peak (never below it), and a new period starts.
                e.est_need = ((e.est_need + e.max_used) / 2).max(e.max_used);
                e.max_used = 0;
            }
        }
        p.servers
            .retain(|_, e| !e.idle.is_empty() || e.est_need > 0);
    });
}

/// Whether `e` says the process (or the system) has no descriptor left.
pub fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::EMFILE) | Some(nix::libc::ENFILE)
    )
}

/// Idle connections closed per descriptor shortage ([`reclaimed`]): room for the calls that
/// follow too (a wave of new connections meets the shortage once per this many, not once
/// each), in one shift of the idle list.
pub const RECLAIM: usize = 32;

/// After `e` from a call that needed a descriptor: when it says none was left, closes up to
/// [`RECLAIM`] of this thread's idle connections (oldest first) so that the call can be tried
/// again; whether any was closed (otherwise trying again would fail the same way).
pub fn reclaimed(e: &std::io::Error) -> bool {
    out_of_descriptors(e) && shed(RECLAIM) > 0
}

/// Closes up to `n` of this thread's idle connections, from the front (oldest) of the server
/// whose oldest is the oldest; how many were closed.
pub fn shed(n: usize) -> usize {
    // Taken out under the borrow, closed after it.
    let mut gone: Vec<Idle> = Vec::new();
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        while gone.len() < n {
            let oldest = p
                .servers
                .values_mut()
                .filter(|e| !e.idle.is_empty())
                .min_by_key(|e| e.idle[0].since);
            let Some(e) = oldest else { break };
            let k = e.idle.len().min(n - gone.len());
            gone.extend(e.idle.drain(..k));
            e.gone(k);
        }
    });
    gone.len()
}

/// Idle connections this thread holds (tests).
pub fn idle_count() -> usize {
    POOL.with(|p| p.borrow().servers.values().map(|e| e.idle.len()).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connected TCP pair on the current runtime (the proxy side as a `ServerConn`).
    async fn conn(l: &tokio::net::TcpListener) -> (ServerConn, tokio::net::TcpStream) {
        let a = l.local_addr().expect("addr");
        let (c, s) = tokio::join!(tokio::net::TcpStream::connect(a), l.accept());
        (ServerConn::Tcp(c.expect("connect")), s.expect("accept").0)
    }

    fn server(max: Option<u32>, low: u32) -> Arc<ServerRt> {
        let s = ServerRt::new(
            "s".into(),
            crate::server::Target::Fixed(([127, 0, 0, 1], 1).into()),
            1,
            None,
            false,
            true,
        );
        s.set_pool_limits(max, low);
        Arc::new(s)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt")
    }

    #[test]
    fn idle_connections_beyond_the_need_are_closed() {
        rt().block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let mut peers = Vec::new();
            let (s7, s8) = (server(None, 0), server(None, 0));
            // Sequential clients, one in use at a time: the first idle one is kept, the
            // rest closed.
            for i in 0..5 {
                let (c, s) = conn(&l).await;
                peers.push(s);
                assert_eq!(offer(&s7, c, 1, 1), i == 0, "offer {i}");
            }
            assert_eq!(idle_count(), 1);
            assert_eq!(s7.idle.load(Ordering::Relaxed), 1);
            // A server that had 3 in use at once keeps up to 3 idle.
            let mut kept = 0;
            for in_use in [3, 2, 1, 1] {
                let (c, s) = conn(&l).await;
                peers.push(s);
                kept += offer(&s8, c, 1, in_use) as usize;
            }
            assert_eq!(kept, 3);
            // The need decays once the load is gone: after two periods it is 1 again.
            let now = crate::clock::monotonic_ns();
            purge_at(now);
            purge_at(now + PURGE_NS / 2);
            let e = POOL.with(|p| p.borrow().servers[&s8.id].est_need);
            assert_eq!(e, 3, "one decay per period");
            purge_at(now + PURGE_NS + 1_000_000);
            // All idle ones expired by now; the need halved (3 + 0) / 2 = 1.
            let e = POOL.with(|p| p.borrow().servers.get(&s8.id).map(|e| e.est_need));
            assert_eq!(e, Some(1));
            assert_eq!(idle_count(), 0);
            assert_eq!(s8.idle.load(Ordering::Relaxed), 0, "expired ones uncounted");
            retain(&|_| false);
        });
    }

    #[test]
    fn shed_closes_the_oldest_idle_connections_first() {
        rt().block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let (old, young) = (server(None, 0), server(None, 0));
            let mut peers = Vec::new();
            // Two idle to `old` first, then two to `young`.
            for srv in [&old, &old, &young, &young] {
                let (c, s) = conn(&l).await;
                peers.push(s);
                let in_use = 2 - srv.idle.load(Ordering::Relaxed);
                assert!(offer(srv, c, 1, in_use));
            }
            assert_eq!(shed(3), 3);
            assert_eq!(old.idle.load(Ordering::Relaxed), 0, "the oldest went first");
            assert_eq!(young.idle.load(Ordering::Relaxed), 1);
            // Out of descriptors: the last one goes; then nothing is left to give.
            let emfile = std::io::Error::from_raw_os_error(nix::libc::EMFILE);
            assert!(reclaimed(&emfile));
            assert_eq!(idle_count(), 0);
            assert!(!reclaimed(&emfile));
            let other = std::io::Error::from_raw_os_error(nix::libc::ECONNREFUSED);
            assert!(!out_of_descriptors(&other));
            retain(&|_| false);
        });
    }

    #[test]
    fn proven_connections_only_for_aggressive_first_requests() {
        rt().block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let (a, _sa) = conn(&l).await;
            let (b, _sb) = conn(&l).await;
            let s9 = server(None, 0);
            assert!(offer(&s9, a, 3, 3));
            assert!(offer(&s9, b, 1, 2));
            // The newest (used once) is skipped for a proven one.
            let (_, uses) = take_with(s9.id, Want::Proven).expect("proven");
            assert_eq!(uses, 3);
            assert!(take_with(s9.id, Want::Proven).is_none());
            let (_, uses) = take_with(s9.id, Want::Any).expect("any");
            assert_eq!(uses, 1);
            assert_eq!(s9.idle.load(Ordering::Relaxed), 0);
            retain(&|_| false);
        });
    }

    #[test]
    fn pool_max_conn_and_pool_low_conn() {
        rt().block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let mut peers = Vec::new();
            let offer_new = |srv: &Arc<ServerRt>, in_use: u32| {
                let srv = srv.clone();
                let l = &l;
                async move {
                    let (c, s) = conn(l).await;
                    (offer(&srv, c, 1, in_use), s)
                }
            };
            // `pool-max-conn 0`: none kept, even the first.
            let none = server(Some(0), 0);
            let (kept, s) = offer_new(&none, 1).await;
            peers.push(s);
            assert!(!kept);
            // `pool-max-conn 2`: a server that needed 5 at once keeps 2.
            let two = server(Some(2), 0);
            let mut kept = 0;
            for in_use in [5, 4, 3, 2, 1] {
                let (k, s) = offer_new(&two, in_use).await;
                peers.push(s);
                kept += k as usize;
            }
            assert_eq!(kept, 2);
            assert_eq!(two.idle.load(Ordering::Relaxed), 2);
            // Taken: room again.
            assert!(take(two.id).is_some());
            assert_eq!(two.idle.load(Ordering::Relaxed), 1);
            let (k, s) = offer_new(&two, 1).await;
            peers.push(s);
            assert!(k);
            // `pool-low-conn 2`: one in use at a time, yet up to 1 + 2 idle are kept (the
            // estimated need of 1 plus 2).
            let low = server(None, 2);
            let mut kept = 0;
            for _ in 0..5 {
                let (k, s) = offer_new(&low, 1).await;
                peers.push(s);
                kept += k as usize;
            }
            assert_eq!(kept, 3);
            retain(&|_| false);
            assert_eq!(
                low.idle.load(Ordering::Relaxed),
                0,
                "dropped ones uncounted"
            );
        });
    }
}
