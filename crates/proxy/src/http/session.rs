//! One client connection in `mode http`: requests are served one after another, each through
//! named phases (marked `// Phase:` in the code): accept → read head → frontend rules
//! (`http-request`, then an applet: `use-service`, `stats uri`) → route (`route`, shared
//! with TCP) → backend rules (and the backend's applet) → persistence (cookie, `stick on
//! src`) → assign and connect (the farm: balance, queue, retries, redispatch) → exchange
//! (`session/exchange.rs`: request, response head, response rules, response) → count and
//! log (`session/account.rs`: `record` and `logline`, shared with TCP). Local answers
//! (applets, rules' answers, error pages) are `session/local.rs`. The termination states
//! are `termination`'s, the same as TCP's.
//!
//! HTTP/1 is parsed and written at the edge (`message`, `body`); keep-alive on both sides;
//! the server connection stays attached to the client connection between requests, and goes
//! to the thread's idle pool when the next request goes elsewhere (`http-reuse safe`).

use super::body;
use super::errors;
use super::headers;
use super::message::Message;
use super::rules::{self, Env};
use crate::acl::Ctx;
use crate::backend::{Backend, Hints, Origin};
use crate::connect::ServerConn;
use crate::pool;
use crate::state::Frontend;
use crate::stream::ClientStream;
use crate::termination::Termination;
use bytes::{Buf, BytesMut};
use fulcrum_config::model::HttpConnectionMode;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

mod account;
mod exchange;
mod head;
mod local;

use exchange::{Exchange, Step};
use local::{AfterError, Invocation};

/// What happens to the client connection after a request.
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

/// Why reading a request head stopped.
enum HeadError {
    /// Closed (or stopping) with no byte of a new request received.
    Idle,
    Timeout {
        partial: bool,
    },
    TooLarge,
    Invalid,
}

struct Attached {
    server_id: u64,
    stream: ServerConn,
}

/// Per-request facts for the log line.
struct Rec {
    accept: SystemTime,
    t0: Instant,
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
    retries: u32,
    /// Stats: bytes received from the client (head and body), response head bytes sent.
    bytes_in: u64,
    head_out: u64,
    /// The status was counted (just before the answer was sent).
    counted: bool,
}

pub struct Session<C> {
    fe: Arc<Frontend>,
    client: C,
    peer: SocketAddr,
    local: SocketAddr,
    cbuf: BytesMut,
    sbuf: BytesMut,
    req: Message,
    res: Message,
    out: Vec<u8>,
    scratch: Vec<u8>,
    attached: Option<Attached>,
    stop: watch::Receiver<bool>,
    /// When the connection was accepted: the first request's `timeout http-request` runs from here.
    started: tokio::time::Instant,
    /// Requests served on this connection so far.
    served: u32,
}

pub async fn serve<C: ClientStream>(
    fe: Arc<Frontend>,
    client: C,
    peer: SocketAddr,
    local: SocketAddr,
    stop: watch::Receiver<bool>,
) {
    let _counted = crate::counters::SessionGuard::start(&fe.counters);
    // A connection that has not sent anything yet holds only this small future: the session
    // state (buffers, message arenas) is allocated when the first bytes arrive.
    let started = tokio::time::Instant::now();
    let deadline = fe
        .timeouts
        .http_request
        .or(fe.timeouts.client)
        .map(|d| started + d);
    // `peek` (not `readable`, which may wake spuriously) so no buffer is taken before data.
    // A stop (soft stop, `-sf` takeover) does not drop a connection already accepted: its
    // first request is served, as HAProxy does; only idle keep-alive connections close.
    tokio::select! {
        r = client.peek_byte() => { if !matches!(r, Ok(n) if n > 0) { return; } }
        _ = sleep_opt(deadline) => {
            if fe.options.http_ignore_probes {
                return; // `option http-ignore-probes`: a pre-connect probe gets no 408
            }
            let t = fe.timeouts.client;
            let mut client = client;
            Box::pin(async move { body::write_all(&mut client, &errors::builtin_response(408), t).await }).await.ok();
            return;
        }
    }
    let mut s = Box::new(Session {
        fe,
        client,
        peer,
        local,
        cbuf: BytesMut::new(),
        sbuf: BytesMut::new(),
        req: Message::default(),
        res: Message::default(),
        out: Vec::new(),
        scratch: Vec::new(),
        attached: None,
        stop,
        started,
        served: 0,
    });
    Box::pin(s.run()).await;
    if let Some(a) = s.attached.take() {
        pool::put(a.server_id, a.stream);
    }
}

impl<C: ClientStream> Session<C> {
    async fn run(&mut self) {
        let mut first = true;
        loop {
            let accept = SystemTime::now();
            let t0 = Instant::now();
            // Phase: read head.
            let head_len = match self.read_head(first).await {
                Ok(n) => n,
                Err(HeadError::Idle) => return,
                Err(HeadError::Timeout { partial }) => {
                    if first || partial {
                        let page = errors::builtin_response(408);
                        crate::record::bad_request(&self.fe.counters, 408, page.len() as u64);
                        self.answer_raw(page).await;
                        self.log_simple(accept, t0, 408, Termination::CLIENT_TIMEOUT_REQUEST);
                    }
                    return;
                }
                Err(HeadError::TooLarge) | Err(HeadError::Invalid) => {
                    let page = self.fe.errors.get(400).into_owned();
                    crate::record::bad_request(&self.fe.counters, 400, page.len() as u64);
                    self.answer_raw(page).await;
                    self.log_simple(accept, t0, 400, Termination::PROXY_REQUEST);
                    return;
                }
            };
            self.cbuf.advance(head_len);
            first = false;
            let mut rec = Rec {
                accept,
                t0,
                tr: Some(t0.elapsed()),
                tw: None,
                tc: None,
                trs: None,
                status: 0,
                bytes: 0,
                backend: None,
                server: None,
                term: Termination::NORMAL,
                cookie: *b"--",
                retries: 0,
                bytes_in: head_len as u64,
                head_out: 0,
                counted: false,
            };
            crate::record::request_received(&self.fe.counters);
            // Boxed: the request phases' state is large and only exists while a request is in
            // flight, so an idle keep-alive connection holds just the small session future.
            let next = Box::pin(self.one_request(&mut rec, self.served == 0)).await;
            self.served += 1;
            self.log(&rec);
            self.count(&rec);
            if next == Next::Close {
                return;
            }
        }
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow() || self.fe.retired.load(Ordering::Relaxed)
    }

    async fn answer_raw(&mut self, bytes: Vec<u8>) {
        let t = self.fe.timeouts.client;
        let _ = body::write_all(&mut self.client, &bytes, t).await;
        let _ = self.client.shutdown().await;
    }

    /// Serves the request in `self.req`; returns whether the client connection stays open.
    async fn one_request(&mut self, rec: &mut Rec, first_request: bool) -> Next {
        let fe = self.fe.clone();
        let env = Env {
            src: self.peer,
            dst: self.local,
        };
        let src = crate::net::canonical(self.peer.ip());
        // Phase: frontend rules (`http-request`), then the frontend's applet.
        let verdict = rules::apply(
            &fe.http_request,
            &env,
            &mut self.req,
            None,
            &mut self.scratch,
        );
        if let Some(next) = self.respond_verdict(verdict, rec, &fe.errors).await {
            return next;
        }
        if let Some(st) = fe.stats.as_ref().filter(|a| a.matches(&self.req)) {
            return self.applet(st.as_ref(), Invocation::StatsUri, rec).await;
        }
        // Phase: route.
        let be = {
            let ctx = Ctx {
                src,
                dst_port: self.local.port(),
                req: Some(&self.req),
                res: None,
            };
            crate::route::backend_for(&fe, &ctx)
        };
        let Some(be) = be else {
            return self
                .send_error(
                    503,
                    rec,
                    Termination::PROXY_REQUEST,
                    &fe.errors,
                    AfterError::KeepIfClean,
                )
                .await;
        };
        rec.backend = Some(be.clone());
        // Phase: backend rules (`http-request`), then the backend's applet.
        let verdict = rules::apply(
            &be.policy.http_request,
            &env,
            &mut self.req,
            None,
            &mut self.scratch,
        );
        if let Some(next) = self.respond_verdict(verdict, rec, &be.policy.errors).await {
            return next;
        }
        if let Some(st) = be.policy.stats.as_ref().filter(|a| a.matches(&self.req)) {
            return self.applet(st.as_ref(), Invocation::StatsUri, rec).await;
        }
        // Phase: persistence (cookie, then `stick on src`), as HAProxy: a valid cookie wins.
        let cookie = super::persist::on_request(&be, &mut self.req);
        if let Some(c) = &cookie {
            rec.cookie = [super::persist::request_flag(c), b'-'];
        }
        let mut prefer = cookie.as_ref().and_then(|c| c.server);
        if prefer.is_none() {
            prefer = be.stuck_server(src);
        }
        // Phase: request framing and header rewriting.
        let framing = match body::request_framing(&mut self.req) {
            Ok(f) => f,
            Err(_) => {
                return self
                    .send_error(
                        400,
                        rec,
                        Termination::PROXY_REQUEST,
                        &fe.errors,
                        AfterError::KeepIfClean,
                    )
                    .await
            }
        };
        let mode = headers::effective_mode(fe.options.http_connection, be.options.http_connection);
        let client_keep =
            headers::client_wants_keep_alive(&self.req) && mode != HttpConnectionMode::Close;
        let upgrade =
            self.req.has_token(b"connection", b"upgrade") && self.req.has_header(b"upgrade");
        let expect = self
            .req
            .header(b"expect")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"));
        headers::strip_hop_by_hop(&mut self.req, upgrade);
        if let Some(ff) = be
            .policy
            .forwardfor
            .as_ref()
            .or(fe.forwardfor.as_ref())
            .filter(|_| !C::UNIX)
        {
            ff.apply(&mut self.req, src);
        }
        if !C::UNIX {
            crate::http::originalto::apply(
                be.options.originalto.as_ref(),
                fe.options.originalto.as_ref(),
                &mut self.req,
                self.local.ip(),
            );
        }
        let server_keep = mode == HttpConnectionMode::KeepAlive;
        if upgrade {
            self.req.append(b"Connection", b"upgrade");
        } else if !server_keep {
            self.req.append(b"Connection", b"close");
        } else if self.req.minor == 0 {
            self.req.append(b"Connection", b"keep-alive");
        }
        // Phase: assign a server and connect.
        let header_val;
        let hints = {
            header_val = be
                .hash_header
                .as_ref()
                .and_then(|h| self.req.header(h))
                .map(<[u8]>::to_vec);
            Hints {
                src: Some(src),
                uri: self.req.uri(),
                header: header_val.as_deref(),
                prefer,
            }
        };
        let attached = self.attached.take();
        let mut attached_slot = attached;
        let mut waited = Duration::ZERO;
        let t_conn = Instant::now();
        let conn = be
            .connect(
                &hints,
                self.local.port(),
                |srv| {
                    if let Some(a) = attached_slot.take() {
                        if a.server_id == srv.id {
                            return Some(a.stream);
                        }
                        pool::put(a.server_id, a.stream);
                    }
                    // `http-reuse safe`: a connection's first request never rides on another
                    // client's idle server connection; later requests may.
                    if first_request {
                        None
                    } else {
                        pool::take(srv.id)
                    }
                },
                &mut waited,
            )
            .await;
        if let Some(a) = attached_slot.take() {
            pool::put(a.server_id, a.stream);
        }
        rec.tw = Some(waited);
        let (mut assigned, server, origin) = match conn {
            Ok(v) => v,
            Err((e, srv)) => {
                if let Some(s) = srv {
                    rec.server = Some(s);
                    rec.retries = be.retries;
                }
                return self
                    .send_error(
                        503,
                        rec,
                        e.termination(),
                        &be.policy.errors,
                        AfterError::Close,
                    )
                    .await;
            }
        };
        rec.tc = Some(t_conn.elapsed().saturating_sub(waited));
        rec.server = Some(assigned.server().clone());
        be.remember_server(src, assigned.index);
        // Phase: exchange with the server, compiled once per kind of connection (TCP, unix);
        // a reused connection found closed before any answer is replayed on a fresh one.
        let comp = crate::http::compress::on_request(
            be.options.compression.as_ref(),
            self.fe.options.compression.as_ref(),
            &mut self.req,
        );
        let x = Exchange {
            comp,
            be: &be,
            env: &env,
            framing,
            expect,
            upgrade,
            client_keep,
            server_keep,
            cookie: cookie.as_ref(),
        };
        let (mut server, mut origin) = (server, origin);
        loop {
            let step = match server {
                ServerConn::Tcp(s) => self.exchange(&x, rec, &mut assigned, s, origin).await,
                ServerConn::Unix(s) => self.exchange(&x, rec, &mut assigned, s, origin).await,
            };
            match step {
                Step::Done(next) => return next,
                Step::Replay => match self.fresh_connection(&be, &mut assigned).await {
                    Some(s) => {
                        server = s;
                        origin = Origin::Fresh;
                        rec.server = Some(assigned.server().clone());
                    }
                    None => {
                        return self
                            .send_error(
                                503,
                                rec,
                                Termination::SERVER_CONNECT,
                                &be.policy.errors,
                                AfterError::Close,
                            )
                            .await
                    }
                },
            }
        }
    }
}

async fn sleep_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod size_tests {
    #[test]
    fn idle_session_future_is_small() {
        fn size<F: std::future::Future>(_: &F) -> usize {
            std::mem::size_of::<F>()
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let a = l.local_addr().expect("addr");
            let c = tokio::net::TcpStream::connect(a).await.expect("connect");
            let cfg = fulcrum_config::load_sources(&[fulcrum_config::Source {
                name: "t",
                text: "defaults\n  mode http\nfrontend f\n  bind 127.0.0.1:1\n",
            }])
            .config;
            let g = crate::state::build(&cfg, None).expect("build");
            let fe = g.frontends["f"].clone();
            let (_tx, rx) = tokio::sync::watch::channel(false);
            let fut = super::serve(fe, c, a, a, rx);
            eprintln!("session future: {} bytes", size(&fut));
            // Debug builds lay futures out larger than release builds.
            assert!(size(&fut) < 1024, "session future is {} bytes", size(&fut));
        });
    }
}
