//! One client connection in `mode http`: requests are served one after another, each through
//! the phases read request → http-request rules → route (use_backend) → pick server and
//! connect (balance, queue, retries) → forward request and body → read response →
//! http-response rules → forward response and body → log. Keep-alive on both sides; the
//! server connection stays attached to the client connection between requests, and goes to
//! the thread's idle pool when the next request goes elsewhere (`http-reuse safe`).

use super::body::{self, BodyError, Framing};
use super::errors;
use super::headers;
use super::message::{Message, ParseError};
use super::rules::{self, Env, Verdict};
use crate::acl::Ctx;
use crate::applet::{self, Applet, AppletRequest};
use crate::backend::{Backend, Hints, NoServer};
use crate::connect::{ServerConn, ServerStream};
use crate::observe::ServerEvent;
use crate::pool;
use crate::state::Frontend;
use crate::stream::ClientStream;
use bytes::{Buf, BytesMut};
use fulcrum_config::model::HttpConnectionMode;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

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

/// What the server exchange of one request needs from the phases before it.
struct Exchange<'a> {
    be: &'a Arc<Backend>,
    env: &'a Env,
    framing: Framing,
    expect: bool,
    upgrade: bool,
    client_keep: bool,
    server_keep: bool,
    cookie: Option<&'a crate::persist::cookie::CookieRequest>,
}

/// How a server exchange ended.
enum Step {
    /// Finished; whether the client connection stays open.
    Done(bool),
    /// The reused connection was closed before any answer: replay on a fresh connection.
    Replay,
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
    flags: &'static str,
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
            let head_len = match self.read_head(first).await {
                Ok(n) => n,
                Err(HeadError::Idle) => return,
                Err(HeadError::Timeout { partial }) => {
                    if first || partial {
                        let page = errors::builtin_response(408);
                        crate::record::bad_request(&self.fe.counters, 408, page.len() as u64);
                        self.answer_raw(page).await;
                        self.log_simple(accept, t0, 408, "cR--", None);
                    }
                    return;
                }
                Err(HeadError::TooLarge) | Err(HeadError::Invalid) => {
                    let page = self.fe.errors.get(400).into_owned();
                    crate::record::bad_request(&self.fe.counters, 400, page.len() as u64);
                    self.answer_raw(page).await;
                    self.log_simple(accept, t0, 400, "PR--", None);
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
                flags: "----",
                cookie: *b"--",
                retries: 0,
                bytes_in: head_len as u64,
                head_out: 0,
                counted: false,
            };
            crate::record::request_received(&self.fe.counters);
            // Boxed: the request phases' state is large and only exists while a request is in
            // flight, so an idle keep-alive connection holds just the small session future.
            let keep = Box::pin(self.one_request(&mut rec, self.served == 0)).await;
            self.served += 1;
            self.log(&rec);
            self.count(&rec);
            if !keep {
                return;
            }
        }
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow() || self.fe.retired.load(Ordering::Relaxed)
    }

    /// Reads one request head into `self.req`; returns its length in `cbuf`.
    async fn read_head(&mut self, first: bool) -> Result<usize, HeadError> {
        let fe = &self.fe;
        let req_timeout = fe.timeouts.http_request.or(fe.timeouts.client);
        let idle_timeout = if first {
            req_timeout
        } else {
            fe.timeouts.http_keep_alive.or(req_timeout)
        };
        let start = if first {
            self.started
        } else {
            tokio::time::Instant::now()
        };
        let limit = fe.head_limit;
        loop {
            if !self.cbuf.is_empty() {
                match self.req.parse_request(&self.cbuf) {
                    Ok(Some(n)) if n <= limit => return Ok(n),
                    Ok(Some(_)) => return Err(HeadError::TooLarge),
                    Ok(None) if self.cbuf.len() >= limit => return Err(HeadError::TooLarge),
                    Ok(None) => {}
                    Err(ParseError::TooManyHeaders) | Err(ParseError::Invalid) => {
                        return Err(HeadError::Invalid)
                    }
                }
            }
            let empty = self.cbuf.is_empty();
            let deadline = if empty { idle_timeout } else { req_timeout }.map(|d| start + d);
            if empty && self.cbuf.capacity() == 0 {
                // No buffer yet: wait for data with `peek` before taking one (memory per idle
                // connection; `readable` may wake spuriously).
                let ready = self.client.peek_byte();
                let stop = self.stop.changed();
                tokio::select! {
                    r = ready => { if !matches!(r, Ok(n) if n > 0) { return Err(HeadError::Idle); } }
                    _ = stop, if !first => return Err(HeadError::Idle),
                    _ = sleep_opt(deadline) => return Err(if first { HeadError::Timeout { partial: false } } else { HeadError::Idle }),
                }
                self.cbuf.reserve(fe.bufsize);
                continue;
            }
            if empty {
                // Between requests: one read, interrupted by a stop or the keep-alive timeout
                // (`read_buf` is cancel-safe: nothing is lost when another branch wins).
                let read = self.client.read_buf(&mut self.cbuf);
                let stop = self.stop.changed();
                tokio::select! {
                    r = read => match r {
                        Ok(0) | Err(_) => return Err(HeadError::Idle),
                        Ok(_) => continue,
                    },
                    _ = stop, if !first => return Err(HeadError::Idle),
                    _ = sleep_opt(deadline) => return Err(if first { HeadError::Timeout { partial: false } } else { HeadError::Idle }),
                }
            }
            let read = body::read_some(&mut self.client, &mut self.cbuf, fe.bufsize, None);
            tokio::select! {
                r = read => match r {
                    Ok(0) | Err(_) => return Err(HeadError::Invalid),
                    Ok(_) => {}
                },
                _ = sleep_opt(deadline) => return Err(HeadError::Timeout { partial: true }),
            }
        }
    }

    async fn answer_raw(&mut self, bytes: Vec<u8>) {
        let t = self.fe.timeouts.client;
        let _ = body::write_all(&mut self.client, &bytes, t).await;
        let _ = self.client.shutdown().await;
    }

    /// Serves the request in `self.req`; returns whether the client connection stays open.
    async fn one_request(&mut self, rec: &mut Rec, first_request: bool) -> bool {
        let fe = self.fe.clone();
        let env = Env {
            src: self.peer,
            dst: self.local,
        };
        let src = crate::net::canonical(self.peer.ip());
        // Phase: frontend http-request rules.
        let verdict = rules::apply(
            &fe.http_request,
            &env,
            &mut self.req,
            None,
            &mut self.scratch,
        );
        if let Some(keep) = self.respond_verdict(verdict, rec, &fe.errors).await {
            return keep;
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
            fe.use_backends
                .iter()
                .find(|(c, _)| c.eval(&ctx))
                .map(|(_, b)| b.clone())
                .or_else(|| fe.default_backend.clone())
        };
        let Some(be) = be else {
            return self.send_error(503, rec, "PR--", &fe.errors, false).await;
        };
        rec.backend = Some(be.clone());
        let verdict = rules::apply(
            &be.policy.http_request,
            &env,
            &mut self.req,
            None,
            &mut self.scratch,
        );
        if let Some(keep) = self.respond_verdict(verdict, rec, &be.policy.errors).await {
            return keep;
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
        if prefer.is_none() && be.has_stick_table() {
            prefer = be.stick_match(Instant::now(), src);
        }
        // Phase: request framing and header rewriting.
        let framing = match body::request_framing(&mut self.req) {
            Ok(f) => f,
            Err(_) => return self.send_error(400, rec, "PR--", &fe.errors, false).await,
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
        let server_keep = mode == HttpConnectionMode::KeepAlive;
        if upgrade {
            self.req.append(b"Connection", b"upgrade");
        } else if !server_keep {
            self.req.append(b"Connection", b"close");
        } else if self.req.minor == 0 {
            self.req.append(b"Connection", b"keep-alive");
        }
        // Phase: pick a server and connect.
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
        let (mut assigned, server, reused) = match conn {
            Ok(v) => v,
            Err((e, srv)) => {
                if let Some(s) = srv {
                    rec.server = Some(s);
                    rec.retries = be.retries;
                }
                let flags = match e {
                    NoServer::QueueTimeout => "sQ--",
                    NoServer::ConnectFailed { timeout: true } => "sC--",
                    _ => "SC--",
                };
                return self
                    .send_error(503, rec, flags, &be.policy.errors, true)
                    .await;
            }
        };
        rec.tc = Some(t_conn.elapsed().saturating_sub(waited));
        rec.server = Some(assigned.server().clone());
        if be.has_stick_table() {
            be.stick_store(Instant::now(), src, assigned.index);
        }
        // Phase: exchange with the server, compiled once per kind of connection (TCP, unix);
        // a reused connection found closed before any answer is replayed on a fresh one.
        let x = Exchange {
            be: &be,
            env: &env,
            framing,
            expect,
            upgrade,
            client_keep,
            server_keep,
            cookie: cookie.as_ref(),
        };
        let (mut server, mut reused) = (server, reused);
        loop {
            let step = match server {
                ServerConn::Tcp(s) => self.exchange(&x, rec, &mut assigned, s, reused).await,
                ServerConn::Unix(s) => self.exchange(&x, rec, &mut assigned, s, reused).await,
            };
            match step {
                Step::Done(keep) => return keep,
                Step::Replay => match self.fresh_connection(&be, &mut assigned).await {
                    Some(s) => {
                        server = s;
                        reused = false;
                        rec.server = Some(assigned.server().clone());
                    }
                    None => {
                        return self
                            .send_error(503, rec, "SC--", &be.policy.errors, true)
                            .await
                    }
                },
            }
        }
    }

    /// Sends the request on `server` and relays the answer (or a tunnel after a 101); returns
    /// whether the client connection stays open, or asks for a fresh server connection when a
    /// reused one turned out closed before anything was answered.
    async fn exchange<S: ServerStream>(
        &mut self,
        x: &Exchange<'_>,
        rec: &mut Rec,
        assigned: &mut crate::backend::Assigned,
        mut server: S,
        reused: bool,
    ) -> Step {
        let fe = self.fe.clone();
        let be = x.be;
        let (env, framing, expect, upgrade, client_keep, server_keep) = (
            x.env,
            x.framing,
            x.expect,
            x.upgrade,
            x.client_keep,
            x.server_keep,
        );
        let srv_timeout = be.timeouts.server;
        let cli_timeout = fe.timeouts.client;

        // Phase: forward the request head (and body, unless the client waits for 100).
        self.out.clear();
        self.req.write_request(&mut self.out);
        let t_sent = Instant::now();
        let mut body_sent = framing == Framing::None;
        let mut ok = body::write_all(&mut server, &self.out, srv_timeout)
            .await
            .is_ok();
        if ok && !expect && !body_sent {
            match body::forward(
                framing,
                &mut self.client,
                &mut self.cbuf,
                &mut server,
                fe.bufsize,
                cli_timeout,
                srv_timeout,
            )
            .await
            {
                Ok(n) => {
                    body_sent = true;
                    rec.bytes_in += n;
                }
                Err(BodyError::SrcClosed)
                | Err(BodyError::SrcTimeout)
                | Err(BodyError::Invalid) => {
                    rec.flags = "CD--";
                    rec.status = 0;
                    return Step::Done(false);
                }
                Err(_) => ok = false,
            }
        }
        if !ok && reused && framing == Framing::None {
            // A reused connection the server had closed: nothing was delivered, replay once.
            return Step::Replay;
        }
        if !ok {
            return Step::Done(
                self.send_error(502, rec, "SH--", &be.policy.errors, true)
                    .await,
            );
        }
        // Phase: read the response head (relaying interim 1xx responses).
        self.sbuf.clear();
        loop {
            match self.read_response_head(&mut server, srv_timeout, be).await {
                Ok(n) => {
                    self.sbuf.advance(n);
                }
                Err(ResError::Timeout) => {
                    be.observe(assigned.server(), ServerEvent::HttpReadTimeout);
                    return Step::Done(
                        self.send_error(504, rec, "sH--", &be.policy.errors, true)
                            .await,
                    );
                }
                Err(ResError::Closed) if reused && body_sent && framing == Framing::None => {
                    return Step::Replay
                }
                Err(e) => {
                    let event = match e {
                        ResError::Invalid => ServerEvent::HttpInvalid,
                        ResError::Closed => ServerEvent::HttpBrokenPipe,
                        ResError::Timeout => ServerEvent::HttpReadTimeout,
                    };
                    be.observe(assigned.server(), event);
                    return Step::Done(
                        self.send_error(502, rec, "SH--", &be.policy.errors, true)
                            .await,
                    );
                }
            }
            let st = self.res.status;
            if (100..200).contains(&st) && st != 101 {
                // Interim response: pass it to the client, then send the body if it waited.
                self.scratch.clear();
                self.res.write_response(&mut self.scratch);
                if body::write_all(&mut self.client, &self.scratch, cli_timeout)
                    .await
                    .is_err()
                {
                    return Step::Done(false);
                }
                if st == 100 && !body_sent {
                    match body::forward(
                        framing,
                        &mut self.client,
                        &mut self.cbuf,
                        &mut server,
                        fe.bufsize,
                        cli_timeout,
                        srv_timeout,
                    )
                    .await
                    {
                        Ok(n) => {
                            body_sent = true;
                            rec.bytes_in += n;
                        }
                        Err(_) => return Step::Done(false),
                    }
                }
                continue;
            }
            break;
        }
        be.observe(assigned.server(), ServerEvent::HttpStatus(self.res.status));
        rec.trs = Some(t_sent.elapsed());
        rec.status = self.res.status;

        // Phase: upgrade to a tunnel.
        if self.res.status == 101 && upgrade {
            self.count_status(rec);
            self.out.clear();
            self.res.write_response(&mut self.out);
            if body::write_all(&mut self.client, &self.out, cli_timeout)
                .await
                .is_err()
            {
                return Step::Done(false);
            }
            let t = crate::tcp::Tunnel {
                idle: be.timeouts.tunnel.or(cli_timeout),
                client_fin: fe.timeouts.client_fin,
                server_fin: be.timeouts.server_fin,
            };
            let to_server = self.cbuf.split().freeze();
            let to_client = self.sbuf.split().freeze();
            rec.head_out = self.out.len() as u64;
            let (up, down, _) =
                crate::tcp::tunnel(&mut self.client, &to_server, &mut server, &to_client, &t).await;
            rec.bytes = down;
            rec.bytes_in += up;
            return Step::Done(false);
        }

        // Phase: http-response rules (backend, then frontend).
        let head = self.req.is_head();
        let res_framing = match body::response_framing(&mut self.res, head) {
            Ok(f) => f,
            Err(_) => {
                return Step::Done(
                    self.send_error(502, rec, "SH--", &be.policy.errors, true)
                        .await,
                )
            }
        };
        for rules_set in [&be.policy.http_response, &fe.http_response] {
            match rules::apply(
                rules_set,
                env,
                &mut self.req,
                Some(&mut self.res),
                &mut self.scratch,
            ) {
                // `use-service` is only valid in `http-request` (the parser rejects it here).
                Verdict::Continue | Verdict::Service(_) => {}
                Verdict::Error(s) => {
                    return Step::Done(
                        self.send_error(s, rec, "PH--", &be.policy.errors, true)
                            .await,
                    )
                }
                Verdict::Respond(bytes) => {
                    rec.status = status_of(&bytes);
                    self.count_status(rec);
                    let _ = body::write_all(&mut self.client, &bytes, cli_timeout).await;
                    return Step::Done(false);
                }
            }
        }
        if let Some(c) = x.cookie {
            // SF_DIRECT: the cookie's server answered (false after a redispatch).
            let direct = c.server == Some(assigned.index);
            rec.cookie[1] = super::persist::on_response(
                be,
                c,
                self.req.method(),
                assigned.index,
                direct,
                &mut self.res,
            );
            if c.server.is_some() && !direct {
                // HAProxy: the cookie's server failed and the request was redispatched (TX_CK_DOWN).
                rec.cookie[0] = b'D';
            }
        }
        let server_reuse = server_keep
            && headers::server_allows_reuse(&self.res)
            && res_framing != Framing::UntilClose;
        let client_keep =
            client_keep && res_framing != Framing::UntilClose && body_sent && !self.stopping();
        let client_minor = self.req.minor;
        headers::strip_hop_by_hop(&mut self.res, false);
        if !client_keep {
            self.res.append(b"connection", b"close");
        } else if client_minor == 0 {
            self.res.append(b"connection", b"keep-alive");
        }
        // Phase: forward the response head with as much body as is already here.
        self.out.clear();
        self.res.write_response(&mut self.out);
        let mut res_framing = res_framing;
        if let Framing::Length(n) = res_framing {
            let k = (self.sbuf.len() as u64).min(n) as usize;
            self.out.extend_from_slice(&self.sbuf[..k]);
            self.sbuf.advance(k);
            rec.bytes = k as u64;
            res_framing = if k as u64 == n {
                Framing::None
            } else {
                Framing::Length(n - k as u64)
            };
        }
        rec.head_out = self.out.len() as u64 - rec.bytes;
        self.count_status(rec);
        if body::write_all(&mut self.client, &self.out, cli_timeout)
            .await
            .is_err()
        {
            rec.flags = "CD--";
            return Step::Done(false);
        }
        match body::forward(
            res_framing,
            &mut server,
            &mut self.sbuf,
            &mut self.client,
            fe.bufsize,
            srv_timeout,
            cli_timeout,
        )
        .await
        {
            Ok(n) => rec.bytes += n,
            Err(BodyError::DstFailed) | Err(BodyError::DstTimeout) => {
                rec.flags = "CD--";
                return Step::Done(false);
            }
            Err(_) => {
                rec.flags = "SD--";
                return Step::Done(false);
            }
        }
        if server_reuse && self.sbuf.is_empty() {
            self.attached = Some(Attached {
                server_id: assigned.server().id,
                stream: server.into_conn(),
            });
        }
        if !client_keep {
            let _ = self.client.shutdown().await;
        }
        Step::Done(client_keep)
    }

    /// A new connection for a request whose reused server connection turned out closed before
    /// anything was answered (nothing was processed, so the request may be replayed): first to
    /// the same server, then, if that fails too (the server died), through the backend's
    /// connect with its retries and redispatch, which may assign another server.
    async fn fresh_connection(
        &mut self,
        be: &Arc<Backend>,
        assigned: &mut crate::backend::Assigned,
    ) -> Option<ServerConn> {
        if let Ok(s) = be.attempt(assigned.server(), self.local.port()).await {
            return Some(s);
        }
        let header = be
            .hash_header
            .as_ref()
            .and_then(|h| self.req.header(h))
            .map(<[u8]>::to_vec);
        let hints = Hints {
            src: Some(crate::net::canonical(self.peer.ip())),
            uri: self.req.uri(),
            header: header.as_deref(),
            prefer: None,
        };
        let mut waited = Duration::ZERO;
        match be
            .connect(&hints, self.local.port(), |_| None, &mut waited)
            .await
        {
            Ok((a, s, _)) => {
                *assigned = a;
                Some(s)
            }
            Err(_) => None,
        }
    }

    async fn read_response_head<S: ServerStream>(
        &mut self,
        server: &mut S,
        t: Option<Duration>,
        be: &Backend,
    ) -> Result<usize, ResError> {
        let _ = be;
        loop {
            if !self.sbuf.is_empty() {
                match self.res.parse_response(&self.sbuf) {
                    Ok(Some(n)) => return Ok(n),
                    Ok(None) if self.sbuf.len() >= self.fe.bufsize => {
                        return Err(ResError::Invalid)
                    }
                    Ok(None) => {}
                    Err(_) => return Err(ResError::Invalid),
                }
            }
            match body::read_some(server, &mut self.sbuf, self.fe.bufsize, t).await {
                Ok(0) => {
                    return Err(if self.sbuf.is_empty() {
                        ResError::Closed
                    } else {
                        ResError::Invalid
                    })
                }
                Ok(_) => {}
                Err(BodyError::SrcTimeout) => return Err(ResError::Timeout),
                Err(_) => {
                    return Err(if self.sbuf.is_empty() {
                        ResError::Closed
                    } else {
                        ResError::Invalid
                    })
                }
            }
        }
    }

    /// Phase: an applet answers (a proxy's `stats uri`, or `use-service`). A body the applet
    /// wants (a form, [`applet::MAX_BODY`] at most) is read first.
    async fn applet(&mut self, applet: &dyn Applet, how: Invocation, rec: &mut Rec) -> bool {
        let framing = body::request_framing(&mut self.req).ok();
        let mut drained = matches!(framing, Some(Framing::None));
        let mut form = Vec::new();
        if let Some(Framing::Length(n)) = framing
            .filter(|f| matches!(f, Framing::Length(n) if *n <= applet::MAX_BODY))
            .filter(|_| applet.wants_body())
        {
            let n = n as usize;
            while self.cbuf.len() < n {
                match body::read_some(
                    &mut self.client,
                    &mut self.cbuf,
                    self.fe.bufsize,
                    self.fe.timeouts.client,
                )
                .await
                {
                    Ok(0) | Err(_) => return false,
                    Ok(_) => {}
                }
            }
            form = self.cbuf.split_to(n).to_vec();
            rec.bytes_in += n as u64;
            drained = true;
        }
        let ctx = Ctx {
            src: crate::net::canonical(self.peer.ip()),
            dst_port: self.local.port(),
            req: Some(&self.req),
            res: None,
        };
        let ans = applet.answer(&AppletRequest {
            method: self.req.method(),
            uri: self.req.uri(),
            head: &self.req,
            body: &form,
            ctx: &ctx,
        });
        rec.status = ans.status;
        rec.flags = match how {
            Invocation::StatsUri => {
                self.fe.counters.inc(crate::counters::Ctr::Intercepted);
                "LR--"
            }
            Invocation::UseService => "PR--",
        };
        self.count_status(rec);
        self.send_local(rec, ans.bytes, drained).await
    }

    /// Sends an answer the proxy made itself (stats page, deny, return, redirect); the
    /// connection stays open when the request had no unread body (`drained`) and the client
    /// wants keep-alive. Returns whether it stays open.
    async fn send_local(&mut self, rec: &mut Rec, mut bytes: Vec<u8>, drained: bool) -> bool {
        let keep = drained && headers::client_wants_keep_alive(&self.req) && !self.stopping();
        if !keep {
            insert_close(&mut bytes);
        }
        rec.bytes = bytes.len() as u64;
        if body::write_all(&mut self.client, &bytes, self.fe.timeouts.client)
            .await
            .is_err()
        {
            return false;
        }
        if !keep {
            let _ = self.client.shutdown().await;
        }
        keep
    }

    /// Counts the response's status (`hrsp_*`) before it is sent.
    fn count_status(&self, r: &mut Rec) {
        if !r.counted {
            r.counted = true;
            crate::record::status(
                &self.fe.counters,
                r.backend.as_deref().map(|b| &*b.counters),
                r.server.as_deref().map(|s| &*s.counters),
                r.status,
                r.flags,
                r.trs.is_some(),
            );
        }
    }

    /// Adds the finished request to its frontend's, backend's and server's counters.
    fn count(&self, r: &Rec) {
        let done = crate::record::HttpDone {
            status: r.status,
            flags: r.flags,
            bytes_in: r.bytes_in,
            bytes_out: r.bytes + r.head_out,
            server_answered: r.trs.is_some(),
            status_counted: r.counted,
            tw: r.tw,
            tc: r.tc,
            tr: r.trs,
            tt: r.t0.elapsed(),
        };
        crate::record::http(
            &self.fe.counters,
            r.backend.as_deref().map(|b| &*b.counters),
            r.server.as_deref().map(|s| &*s.counters),
            &done,
        );
    }

    /// Sends a deny/return/redirect answer; `None` when the rules let the request through.
    async fn respond_verdict(
        &mut self,
        v: Verdict,
        rec: &mut Rec,
        pages: &errors::ErrorPages,
    ) -> Option<bool> {
        match v {
            Verdict::Continue => None,
            Verdict::Service(a) => Some(self.applet(a.as_ref(), Invocation::UseService, rec).await),
            Verdict::Error(s) => Some(self.send_error(s, rec, "PR--", pages, false).await),
            Verdict::Respond(bytes) => {
                rec.status = status_of(&bytes);
                rec.flags = "PR--";
                self.count_status(rec);
                // The request body, if any, was not read: the connection cannot be reused then.
                let drained = matches!(body::request_framing(&mut self.req), Ok(Framing::None));
                Some(self.send_local(rec, bytes, drained).await)
            }
        }
    }

    /// Sends the proxy's page for `status`; `close` forces the connection closed (as HAProxy
    /// does after server-side failures).
    async fn send_error(
        &mut self,
        status: u16,
        rec: &mut Rec,
        flags: &'static str,
        pages: &errors::ErrorPages,
        close: bool,
    ) -> bool {
        rec.status = status;
        rec.flags = flags;
        self.count_status(rec);
        let page = pages.get(status);
        rec.bytes = page.len() as u64;
        let drained = matches!(body::request_framing(&mut self.req), Ok(Framing::None));
        let keep =
            !close && drained && headers::client_wants_keep_alive(&self.req) && !self.stopping();
        let ok = body::write_all(&mut self.client, &page, self.fe.timeouts.client)
            .await
            .is_ok();
        if !keep || !ok {
            let _ = self.client.shutdown().await;
            return false;
        }
        true
    }

    fn log_simple(
        &self,
        accept: SystemTime,
        t0: Instant,
        status: u16,
        flags: &'static str,
        _be: Option<&str>,
    ) {
        let rec = Rec {
            accept,
            t0,
            tr: None,
            tw: None,
            tc: None,
            trs: None,
            status,
            bytes: 0,
            backend: None,
            server: None,
            flags,
            cookie: *b"--",
            retries: 0,
            bytes_in: 0,
            head_out: 0,
            counted: true,
        };
        self.log(&rec);
    }

    fn log(&self, r: &Rec) {
        let Some(log) = &self.fe.log else { return };
        let ta = r.t0.elapsed();
        let line = if self.fe.options.httplog {
            let reqline = if self.req.method().is_empty() {
                "<BADREQ>".to_string()
            } else {
                format!(
                    "{} {} HTTP/1.{}",
                    String::from_utf8_lossy(self.req.method()),
                    String::from_utf8_lossy(self.req.target()),
                    self.req.minor
                )
            };
            format!(
                "{}:{} [{}] {} {}/{} {}/{}/{}/{}/{} {} {} - - {} {}/{}/0/0/{} 0/0 \"{}\"",
                crate::net::shown(self.peer.ip()),
                self.peer.port(),
                crate::log::accept_date(r.accept),
                self.fe.name,
                r.backend
                    .as_ref()
                    .map_or(self.fe.name.as_str(), |b| b.name.as_str()),
                r.server.as_ref().map_or("<NOSRV>", |s| s.name.as_str()),
                crate::log::ms(r.tr),
                crate::log::ms(r.tw),
                crate::log::ms(r.tc),
                crate::log::ms(r.trs),
                ta.as_millis(),
                r.status,
                r.bytes,
                format_args!(
                    "{}{}{}",
                    r.flags.get(..2).unwrap_or("--"),
                    char::from(r.cookie[0]),
                    char::from(r.cookie[1])
                ),
                crate::counters::active_connections(),
                self.fe.conns.load(Ordering::Relaxed),
                r.retries,
                reqline,
            )
        } else {
            format!(
                "Connect from {}:{} to {}:{} ({}/HTTP)",
                crate::net::shown(self.peer.ip()),
                self.peer.port(),
                crate::net::canonical(self.local.ip()),
                self.local.port(),
                self.fe.name
            )
        };
        log.send(&line);
    }
}

/// Why an applet answers: HAProxy logs the stats page as a local answer (`L`), a service
/// chosen by a rule as the proxy's (`P`), and counts only the former as intercepted.
#[derive(Clone, Copy)]
enum Invocation {
    StatsUri,
    UseService,
}

enum ResError {
    Timeout,
    Closed,
    Invalid,
}

async fn sleep_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn status_of(resp: &[u8]) -> u16 {
    resp.get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Adds `connection: close` to a generated response that ends the connection.
fn insert_close(resp: &mut Vec<u8>) {
    if let Some(p) = resp.windows(4).position(|w| w == b"\r\n\r\n") {
        let tail = resp.split_off(p + 2);
        resp.extend_from_slice(b"connection: close\r\n");
        resp.extend_from_slice(&tail);
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
