//! One client connection in `mode http`: requests are served one after another, each through
//! named phases (marked `// Phase:` in the code): accept → read head → frontend rules
//! (`http-request`, then an applet: `use-service`, `stats uri`) → route (`route`, shared
//! with TCP) → backend rules (and the backend's applet) → persistence (cookie, `stick on
//! src`) → assign and connect (the farm: balance, queue, retries, redispatch) → exchange
//! (`session/exchange.rs`: request, response head, response rules, response) → count and
//! log (`session/account.rs`: `record` and `logline`, shared with TCP). The phases between
//! the head and the exchange are `session/request.rs`. Local answers
//! (applets, rules' answers, error pages) are `session/local.rs`. The termination states
//! are `termination`'s, the same as TCP's.
//!
//! The phases read and edit the protocol-neutral head (`message::Message`); HTTP/1 is parsed
//! and written only at the edge (`h1` when a head is read or sent, `body` for the framing of
//! bodies). HTTP/2 is the second codec: a stream is the session's client (`h2::edge`), its
//! request head handed over as the neutral head ([`serve_h2`]), its response head sent from
//! it, the bodies read and written through the edge's source and sink. Keep-alive on both sides;
//! the server connection goes to the thread's idle pool (`pool.rs`) when the client connection
//! turns idle (a pipelined request already here keeps it), as HAProxy's `http-reuse`; a
//! private one (`http-reuse never`, NTLM/Negotiate authentication) stays attached to its
//! client connection and closes with it.

use super::bufs::{self, Bufs};
use super::errors;
use super::h2::edge::H2Edge;
use super::response::{Close, Part, Response};
use crate::backend::Backend;
use crate::connect::ServerConn;
use crate::pool;
use crate::record::StatusCount;
use crate::state::Frontend;
use crate::stream::ClientStream;
use crate::termination::Termination;
use crate::track::Tracking;
use bytes::Buf;
use idle::End;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

mod account;
mod after_response;
mod alarm;
use account::Start;
mod buffer_body;
#[cfg(test)]
mod close_tests;
mod content_rules;
mod error_page;
mod exchange;
mod exchange_h2;
mod head;
mod idle;
#[cfg(test)]
mod idle_tests;
mod local;
#[cfg(test)]
mod park_tests;
mod redir;
mod relay;
mod request;
mod respond;
mod response_head;
mod response_rules;
mod response_wait;
mod retry_on;
#[cfg(test)]
mod reuse_tests;
mod rule_effects;
#[cfg(test)]
mod switch_park_tests;
mod tcp_response;
#[cfg(test)]
mod tls_park_tests;

/// What happens to a connection (the client's, or the server's) after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// It stays open for the next request.
    KeepAlive,
    /// It is closed.
    Close,
}

impl Next {
    /// `KeepAlive` when `keep` holds.
    pub(super) fn keep_if(keep: bool) -> Next {
        if keep {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }
}

/// What a client had sent of a request head when its timeout struck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Received {
    Nothing,
    Part,
}

/// Whether a request is the connection's first (its head timeout runs from the accept, it
/// may not ride another client's idle server connection) or a later, keep-alive one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    First,
    Later,
}

/// Why reading a request head stopped.
enum HeadError {
    /// Closed (or stopping) with no byte of a new request received.
    Idle,
    /// The client closed (or failed) before its request was complete: with part of it, or
    /// with nothing on a connection's first request (HAProxy logs both `CR` 400).
    Aborted(Received),
    Timeout(Received),
    TooLarge,
    Invalid,
    /// Refused with this status (`validate`): 400, or 505 for an HTTP major version not 1.
    Refused(u16),
    /// Idle long enough to be parked without its task (`park`); the idle deadline.
    Park(Option<tokio::time::Instant>),
}

/// The server connection a client connection holds between the phases of a request, and
/// between requests while it is private.
struct Attached {
    server: Arc<crate::server::ServerRt>,
    stream: ServerConn,
    /// Private to this client connection (`http-reuse never`, or the server answered with
    /// NTLM/Negotiate authentication, which binds the connection to the client): kept
    /// attached while the client is idle, never given to another client, closed with it.
    private: bool,
    /// Requests it has carried.
    uses: u32,
    /// The next request prefers its server (NTLM/Negotiate, HAProxy's SESS_FL_PREFER_LAST).
    prefer_last: bool,
}

impl Attached {
    /// Hands the connection to the thread's idle pool (kept or closed by the pool's estimate
    /// of the need), or closes it when it is private.
    fn release(self) {
        if !self.private {
            let in_use = self.server.served() + 1;
            pool::offer(&self.server, self.stream, self.uses, in_use);
        }
    }
}

/// Per-request facts for the log line.
struct Rec {
    accept: SystemTime,
    /// When the request's turn began (`%Ta`, `%Tt` run from it): a `clock::monotonic_ns`
    /// reading, so the timers cost no `Instant` arithmetic.
    t0: u64,
    tr: Option<Duration>,
    tw: Option<Duration>,
    tc: Option<Duration>,
    trs: Option<Duration>,
    status: u16,
    bytes: u64,
    backend: Option<Arc<Backend>>,
    server: Option<Arc<crate::server::ServerRt>>,
    term: Termination,
    /// The termination state's cookie characters (3rd and 4th): `--` without `cookie`.
    cookie: [u8; 2],
    retries: crate::farm::outcome::Retries,
    /// Stats: bytes received from the client (head and body), response head bytes sent.
    bytes_in: u64,
    head_out: u64,
    /// `%B` minus the bytes sent (`bytes + head_out`): HAProxy logs its HTX size of the
    /// answer as it came in (`http::log_bytes`), not the bytes on the wire.
    log_adjust: i64,
    /// `103 Early Hints` sent before the answer, as HAProxy's `%B` counts them.
    interim: u64,
    /// `set-priority-class|offset`: the request's place in a backend queue.
    priority: Option<(i32, i32)>,
    /// `%U` minus `bytes_in`: HAProxy 2.6 counts a request head without each header's `: `
    /// and line end (`http::log_bytes::request_in`).
    in_adjust: i64,
    /// Whether the status was counted (it is just before the answer is sent).
    counted: StatusCount,
    /// Not logged (`monitor-uri` requests, as HAProxy).
    nolog: bool,
    /// Answered from a `cache` section: logged with the server `<CACHE>`.
    cache_hit: bool,
    /// The `unique-id-format` id (`%ID`).
    unique_id: Option<Vec<u8>>,
    /// `set-log-level`'s choice (`rules::UNSET`, a severity, or `rules::SILENT`).
    log_level: Option<Arc<std::sync::atomic::AtomicU8>>,
    /// What `http-request capture` rules took (`%hr`, `{...}`).
    captures: Option<Arc<crate::http::capture::Samples>>,
    /// The applet that answered, as the log's server field names it (`<STATS>`).
    applet: Option<&'static str>,
    /// What the client asked for its connection, read before the hop-by-hop fields go: a
    /// local answer to a client that asked to close says `connection: close`.
    client_asked: Next,
    /// The log line's `%bi %bp`, `%rt`, `%Ti %Th` (`logline::Entry`).
    source: Option<SocketAddr>,
    /// What the server connection's TLS handshake settled (`ssl_bc*`), on a `server ... ssl`.
    bc_tls: Option<Arc<crate::stream::TlsInfo>>,
    rt: u64,
    waits: crate::logline::Waits,
    /// `%bq`: the request's position in its backend's queue (0: it did not wait).
    queue_pos: u32,
    /// A stream routed to a backend it cannot go to (a `mode tcp` one: `IR`), counted in
    /// that backend until its line is written, as HAProxy 2.6 counts it (`%bc`, `stot`).
    routed: Option<crate::counters::SessionGuard>,
    /// A head refused, timed out or cut short (`log_simple`): HAProxy 2.6 logs it without a
    /// stream, so the line has no request (`<BADREQ>`) and no captures.
    badreq: bool,
}

pub struct Session<C> {
    fe: Arc<Frontend>,
    client: C,
    peer: SocketAddr,
    local: SocketAddr,
    /// The transaction's buffers (`bufs`): a set lent by the thread's pool while a request
    /// is in flight, an empty shell while the connection is idle (boxed: lending and giving
    /// back swap a pointer).
    bufs: Box<Bufs>,
    attached: Option<Attached>,
    stop: watch::Receiver<bool>,
    /// When the connection was accepted: the first request's `timeout http-request` runs from here.
    started: tokio::time::Instant,
    /// `%Th` of the first request: the connection's PROXY header and TLS handshake, from the
    /// accept to the session (the listener's).
    handshake: std::time::Duration,
    /// When the wait for the next request began (`clock::monotonic_ns`): the end of the
    /// previous answer, or a resumed connection's (`park`).
    wait_from: Option<u64>,
    /// Requests served on this connection so far.
    served: u32,
    /// Stick counters this connection and its current request track (none without tables).
    track: Option<Arc<Tracking>>,
    /// The current request's clock for the log facts of `http-after-response` rules on the
    /// proxy's own answers (`crate::rule_facts`); only when a rule value reads them.
    clock: Option<Box<crate::rule_facts::Clock>>,
    /// The waits for the client's next head (park delay, keep-alive and request timeouts)
    /// and for the server's answer (`timeout server`), one after the other, on one timer
    /// kept armed between them (`alarm`).
    alarm: alarm::Alarm,
    /// A stream `switch-mode http` made HTTP, before its first request: what the frontend's
    /// content rules left for it (they ran once for it, before the switch: `switch_mode`).
    switched: Option<Box<crate::switch_mode::Inspected>>,
}

/// Serves an HTTP/1 client connection. `keep` is held for as long as the connection lives
/// (the listener's connection count and `maxconn` permits), also while it is parked.
pub async fn serve<C: ClientStream, K: Send + 'static>(
    fe: Arc<Frontend>,
    client: C,
    (peer, local): (SocketAddr, SocketAddr),
    handshake: std::time::Duration,
    stop: watch::Receiver<bool>,
    track: Option<Arc<Tracking>>,
    keep: K,
) {
    let counted = crate::counters::SessionGuard::start(&fe.counters);
    // A connection that has not sent anything yet holds only this small future: the session
    // state (buffers, message arenas) is allocated when the first bytes arrive.
    let started = tokio::time::Instant::now();
    let deadline = fe
        .timeouts
        .http_request
        .or(fe.timeouts.client)
        .map(|d| started + d);
    // Boxed, and freed once bytes arrive: the task's own future stays small for as long as
    // the connection lives (memory per idle keep-alive connection).
    let exact = fe.options.http_ignore_probes;
    let (client, first, read) = Box::pin(first_bytes(client, deadline, exact, fe.bufsize)).await;
    match first {
        First::Data => {}
        // Nothing came: the session's first read answers and logs HAProxy's `400 CR--`
        // (closed) or `408 cR--` (timeout); `option http-ignore-probes`: no answer, no line
        // (`option dontlognull`: the answer, no line).
        First::Closed | First::Timeout if exact => return,
        First::Closed | First::Timeout => {}
    }
    // (the set the first bytes were read into, or a shell: the first read takes one)
    let bufs = read.unwrap_or_else(bufs::shell);
    let started = (started, handshake);
    let s = Session::fresh(fe, client, (peer, local), stop, track, started, bufs);
    idle::live(s, counted, keep).await;
}

/// Serves a `mode tcp` connection a `switch-mode http` rule made HTTP (`switch_mode`): as
/// [`serve`], its session counted at the accept, what inspection read first in its buffer.
pub async fn serve_upgraded<C: ClientStream, K: Send + 'static>(
    fe: Arc<Frontend>,
    up: crate::switch_mode::Upgrade<C>,
    stop: watch::Receiver<bool>,
    track: Option<Arc<Tracking>>,
    keep: K,
) {
    let mut s = Session::fresh(
        fe,
        up.client,
        up.addrs,
        stop,
        track,
        (up.accepted, up.handshake),
        bufs::shell(),
    );
    s.switched = Some(Box::new(up.inspected));
    if !up.kept.is_empty() {
        s.acquire_bufs();
        s.bufs.cbuf.extend_from_slice(&up.kept);
    }
    idle::live(s, up.counted, keep).await;
}

impl<C> Session<C> {
    /// A connection's session before its first request (`bufs`: the set its first bytes
    /// were read into, or an empty shell).
    fn fresh(
        fe: Arc<Frontend>,
        client: C,
        (peer, local): (SocketAddr, SocketAddr),
        stop: watch::Receiver<bool>,
        track: Option<Arc<Tracking>>,
        (started, handshake): (tokio::time::Instant, std::time::Duration),
        bufs: Box<Bufs>,
    ) -> Box<Session<C>> {
        Box::new(Session {
            fe,
            client,
            peer,
            local,
            bufs,
            attached: None,
            stop,
            started,
            handshake,
            wait_from: None,
            served: 0,
            track,
            clock: None,
            alarm: Default::default(),
            switched: None,
        })
    }
}

/// Serves one HTTP/2 stream (`http::h2`): the stream is the session's client edge, its
/// request head handed over as the neutral head (no HTTP/1 bytes in between); one request,
/// through the same phases as an HTTP/1 request. Its connection counts the session.
///
/// The session is made here, before the future: the future (one per in-flight stream, moved
/// into its connection's set) holds it once, where an `async fn` would keep its arguments
/// and the edge beside the session made of them (`h2::size_tests`). `(accept, t0)`: when
/// the stream was accepted (one clock reading for the streams its connection accepts
/// together: `http::h2::Clock`). Inlined where the future is put in its box (made there:
/// `http::h2::streams::Streams::push`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn serve_h2(
    fe: Arc<Frontend>,
    stream: (Box<http::Request<()>>, h2::RecvStream),
    respond: h2::server::SendResponse<bytes::Bytes>,
    tls: Option<Arc<crate::stream::TlsInfo>>,
    peer: SocketAddr,
    local: SocketAddr,
    stop: watch::Receiver<bool>,
    track: Option<Arc<Tracking>>,
    deadlines: Arc<super::h2::deadlines::Deadlines>,
    (accept, t0): (SystemTime, Instant),
) -> impl std::future::Future<Output = ()> + Send + use<> {
    // No client buffer yet: most streams have no body (one is taken when DATA comes).
    let mut bufs = bufs::take(0);
    let started = tokio::time::Instant::from_std(t0);
    let t0 = crate::clock::ns_of(t0);
    let (edge, head_len) = H2Edge::new(stream, respond, tls, &mut bufs.req);
    let mut s = Session {
        fe,
        client: edge,
        peer,
        local,
        bufs,
        attached: None,
        stop,
        started,
        // (read by a connection's first request only: a stream's are `Turn::Later`)
        handshake: std::time::Duration::ZERO,
        wait_from: None,
        served: 0,
        track,
        clock: None,
        // Its waits are on its connection's deadlines (one timer per connection).
        alarm: alarm::Alarm::Conn(deadlines),
        switched: None,
    };
    // Not boxed: the stream's future is its connection's heap task already.
    async move {
        match super::validate::request(&s.bufs.req, s.fe.h1_req.accept_invalid) {
            Ok(()) => {
                // The request's phases, not in a future of their own (their future, the
                // largest part of this one, is moved into place once, not twice).
                let start = (accept, t0, crate::logline::Waits::default());
                let mut rec = s.begin(start, head_len);
                let next = s.one_request(&mut rec, Turn::Later).await;
                s.finish(&rec, next);
                // An answer without a length ends with the stream (a no-op once it ended).
                let _ = s.client.shutdown().await;
            }
            Err(super::validate::Refused(status)) => {
                let page = s.error_page(status, &s.fe.errors, None);
                crate::record::bad_request(&s.fe.counters, status, page_len(page.as_deref()));
                s.answer_page(page.as_deref()).await;
                s.log_simple(accept, t0, status, Termination::PROXY_REQUEST);
            }
        }
        if let Some(a) = s.attached.take() {
            a.release();
        }
        // The stream's set goes back whole (no shell to keep).
        bufs::give(s.bufs);
    }
}

/// The HTTP/2 edge behind a session's client, when it is one (`C::H2`): its head is sent
/// from the neutral head instead of as bytes.
fn h2_edge<C: ClientStream>(client: &mut C) -> Option<&mut H2Edge> {
    if !C::H2 {
        return None;
    }
    (client as &mut dyn std::any::Any).downcast_mut::<H2Edge>()
}

impl<C: ClientStream> Session<C> {
    async fn run(&mut self) -> End {
        let mut turn = if self.served == 0 {
            Turn::First
        } else {
            Turn::Later
        };
        loop {
            // A resumed connection (`park`): its wait began before this task, and `%Ti`/`%t`
            // count from there.
            let now = crate::clock::monotonic_ns();
            let back = self.wait_from.map_or(0, |w| now.saturating_sub(w));
            let accept = SystemTime::now()
                .checked_sub(Duration::from_nanos(back))
                .unwrap_or_else(SystemTime::now);
            let t0 = now - back;
            // When the request's first byte came (`%Ti` before it, `%TR` from it).
            let mut arrived = None;
            // Phase: read head.
            let head_len = match self.read_head(turn, now, &mut arrived).await {
                Ok(n) => n,
                Err(HeadError::Idle) => return End::Done,
                Err(HeadError::Aborted(got)) => {
                    // HAProxy: the 400 page (to a client that only half-closed) and a
                    // `<BADREQ>` line `400 ... CR--` (its `%B` 0); a connection that never sent
                    // a byte is not logged under `option dontlognull`. The page is the
                    // built-in one: haproxy 2.6's mux answers its parse errors itself, without
                    // `errorfile` or `http-error` (measured).
                    let page = errors::builtin_response(400);
                    crate::record::bad_request(&self.fe.counters, 400, page_len(Some(&page)));
                    self.answer_page(Some(&page)).await;
                    if got == Received::Part || !self.fe.options.dontlognull {
                        let (accept, t0) = self.clock_of(turn, accept, t0);
                        self.log_simple(accept, t0, 400, Termination::CLIENT_REQUEST);
                    }
                    return End::Done;
                }
                Err(HeadError::Park(deadline)) => return End::Park(deadline),
                Err(HeadError::Timeout(got)) => {
                    if turn == Turn::First || got == Received::Part {
                        let page = errors::builtin_response(408);
                        crate::record::bad_request(&self.fe.counters, 408, page_len(Some(&page)));
                        self.answer_page(Some(&page)).await;
                        // `option dontlognull`: no line for a connection that sent nothing.
                        if got == Received::Part || !self.fe.options.dontlognull {
                            let (accept, t0) = self.clock_of(turn, accept, t0);
                            self.log_simple(accept, t0, 408, Termination::CLIENT_TIMEOUT_REQUEST);
                        }
                    }
                    return End::Done;
                }
                Err(e @ (HeadError::TooLarge | HeadError::Invalid | HeadError::Refused(_))) => {
                    let status = match e {
                        HeadError::Refused(s) => s,
                        _ => 400,
                    };
                    // The built-in page, as haproxy 2.6's mux answers a head it cannot
                    // parse (neither `errorfile` nor `http-error` apply there: measured).
                    let page = errors::builtin_response(status);
                    crate::record::bad_request(&self.fe.counters, status, page_len(Some(&page)));
                    self.answer_page(Some(&page)).await;
                    self.log_simple(accept, t0, status, Termination::PROXY_REQUEST);
                    return End::Done;
                }
            };
            self.bufs.cbuf.advance(head_len);
            let start = self.start(turn == Turn::First, accept, t0, arrived);
            turn = Turn::Later;
            let next = self.request(start, head_len).await;
            if next == Next::Close {
                return End::Done;
            }
            if self.bufs.cbuf.is_empty() {
                // The next request may be here already (one read, the one the wait would
                // start with); if not, the connection is idle: its buffers go back to the
                // thread's pool until bytes arrive, and its server connection to the idle
                // connections (as HAProxy does; a private one stays attached).
                match self.client.try_read_buf(&mut self.bufs.cbuf) {
                    Some(Ok(n)) if n > 0 => {}
                    Some(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => self.go_idle(),
                    None => self.go_idle(),
                    // Closed, or failed: nothing more to serve.
                    Some(_) => return End::Done,
                }
            }
        }
    }

    /// Phases after the head: the request's phases and exchange, then count and log; whether
    /// the client connection stays open.
    async fn request(&mut self, start: Start, head_len: usize) -> Next {
        let mut rec = self.begin(start, head_len);
        // Boxed: the request phases' state is large and only exists while a request is in
        // flight, so an idle keep-alive connection holds just the small session future.
        // An HTTP/2 stream is not its connection's first request: it may ride an idle
        // server connection (`http-reuse safe` reuses within a client session).
        let turn = if self.served == 0 && !C::H2 {
            Turn::First
        } else {
            Turn::Later
        };
        // Built in place: `Box::pin(future)` makes the future on the stack and then copies
        // all of it (a few KB, ~1k instructions per request) into the allocation.
        let phases = Box::write(Box::new_uninit(), self.one_request(&mut rec, turn));
        let next = Box::into_pin(phases).await;
        self.finish(&rec, next);
        next
    }

    /// A request's record as its phases begin (counted as received).
    fn begin(&mut self, (accept, t0, waits): Start, head_len: usize) -> Rec {
        let rec = Rec {
            accept,
            t0,
            tr: Some(crate::clock::between(t0, self.alarm.now_ns())),
            tw: None,
            tc: None,
            trs: None,
            status: 0,
            bytes: 0,
            backend: None,
            server: None,
            term: Termination::NORMAL,
            cookie: *b"--",
            retries: crate::farm::outcome::Retries::default(),
            bytes_in: head_len as u64,
            head_out: 0,
            log_adjust: 0,
            interim: 0,
            priority: None,
            // Read by the log line only (`%U`): not counted when nothing is logged.
            in_adjust: if self.fe.log.is_some() {
                crate::http::log_bytes::request_in(&self.bufs.req) as i64 - head_len as i64
            } else {
                0
            },
            counted: StatusCount::Pending,
            nolog: false,
            cache_hit: false,
            unique_id: None,
            log_level: None,
            captures: None,
            applet: None,
            client_asked: Next::keep_if(super::headers::client_wants_keep_alive(&self.bufs.req)),
            source: None,
            bc_tls: None,
            rt: crate::logline::next_request(),
            waits,
            queue_pos: 0,
            badreq: false,
            routed: None,
        };
        crate::record::request_received(&self.fe.counters);
        rec
    }

    /// A request's end: its counters, tracking and log line.
    fn finish(&mut self, rec: &Rec, next: Next) {
        // One clock reading for the end of the answer: the request's total time and the
        // start of the keep-alive wait (an HTTP/2 stream's: its connection's for this turn).
        let end = self.alarm.now_ns();
        if next != Next::Close {
            // The keep-alive wait (`%Ti`, `%t` and `timeout http-keep-alive` of the next
            // request) begins as the answer ends, not after this one's log line.
            self.wait_from = Some(end);
        }
        self.served += 1;
        if let Some(t) = &self.track {
            t.http_status(rec.status, rec.server.is_some() && rec.tc.is_some());
            t.bytes(rec.bytes_in, rec.bytes + rec.head_out);
        }
        // The line reads the transaction's variables (`%[var(txn.x)]`): logged before they go.
        self.log(rec);
        if let Some(t) = &self.track {
            t.end_request();
        }
        self.count(rec, end);
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow() || self.fe.retired.load(Ordering::Relaxed)
    }
}

/// The bytes a page sent whole as HTTP/1 counts (0: nothing is sent).
fn page_len(page: Option<&Response>) -> u64 {
    page.map_or(0, |p| p.h1_len(Close::Silent, Part::Whole))
}

/// How the wait for a connection's first bytes ended.
enum First {
    /// Bytes came: read into a set of the thread's buffers (streams that read without
    /// waiting: `first_bytes` returns it), or left to the session's first read (the wait was
    /// an exact `peek`).
    Data,
    Closed,
    Timeout,
}

/// Waits for a new connection's first bytes until `deadline`, holding no buffer while
/// nothing came. A stream that reads without waiting (`ClientStream::try_read_buf`) is read
/// as soon as it is readable, into a set of the thread's buffers taken then: no `peek` system
/// call before the first read. The runtime takes an accepted socket as readable before its
/// first event (tokio's `TcpStream::new_accepted`: its first bytes are usually there), so a
/// first wake may find nothing: the read's `WouldBlock` gives the set back and clears that
/// readiness, and the wait goes on (the request's clock, `%Ti`/`%TR`, starts when the session
/// begins, after bytes were read). Under `exact` (`option http-ignore-probes`: a probe closed
/// without a byte ends here, without a session) and for other streams, an exact `peek`.
/// A stop (soft stop, `-sf` takeover) does not drop a connection already accepted: its first
/// request is served, as HAProxy does; only idle keep-alive connections close.
async fn first_bytes<C: ClientStream>(
    mut client: C,
    deadline: Option<tokio::time::Instant>,
    exact: bool,
    bufsize: usize,
) -> (C, First, Option<Box<Bufs>>) {
    let came = |r: std::io::Result<usize>| matches!(r, Ok(n) if n > 0);
    if exact {
        let first = tokio::select! {
            r = client.peek_byte() => if came(r) { First::Data } else { First::Closed },
            _ = sleep_opt(deadline) => First::Timeout,
        };
        return (client, first, None);
    }
    // Bounded by the deadline: each turn waits for a new readiness (a `WouldBlock` cleared the
    // last one).
    loop {
        tokio::select! {
            r = client.ready() => if !came(r) { return (client, First::Closed, None) },
            _ = sleep_opt(deadline) => return (client, First::Timeout, None),
        }
        let mut set = bufs::take(bufsize);
        let first = match client.try_read_buf(&mut set.cbuf) {
            Some(Ok(n)) if n > 0 => {
                head::drained_if_short(&client, &set.cbuf);
                return (client, First::Data, Some(set));
            }
            Some(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                bufs::give(set);
                continue;
            }
            // This stream has no such read: `ready` was an exact `peek`.
            None => First::Data,
            // Closed or failed: the session's first read sees it again and answers.
            Some(_) => First::Closed,
        };
        bufs::give(set);
        return (client, first, None);
    }
}

/// Resolves when the client has closed its side with nothing left unread (a client with
/// bytes pending never resolves: it is still talking).
async fn client_gone(peek: impl std::future::Future<Output = std::io::Result<usize>>) {
    match peek.await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

async fn sleep_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod size_tests;
