//! The request phases between a parsed head and the server exchange: `tcp-request content`
//! rules, frontend rules (then the frontend's applet), route, the backend's content rules and
//! `http-request` rules (and its applet), persistence (cookie, `stick on src`), framing and
//! header rewriting, assign a server and connect (`request/connect.rs`: the farm's balance,
//! queue, retries, redispatch; `http-reuse`; `option abortonclose`), then the exchange, replayed on a fresh connection when
//! a reused one was found closed or moved elsewhere when a server refused.

use super::exchange::{BodySend, Exchange, Prior, Step};
use super::local::{AfterError, Invocation};
use super::{client_gone, Next, Rec, Session, Turn};

mod connect;
use crate::backend::{Backend, Hints, Origin};
use crate::connect::ServerConn;
use crate::http::body;
use crate::http::headers::{self, Upgrade};
use crate::http::message::Version;
use crate::http::rules::{self, Env};
use crate::http::server_rules::Persist;
use crate::pool;
use crate::stream::ClientStream;
use crate::termination::Termination;
use fulcrum_config::model::{HttpConnectionMode, HttpReuse};
use std::sync::Arc;
use std::time::{Duration, Instant};

impl<C: ClientStream> Session<C> {
    /// Serves the request in `self.bufs.req`; returns whether the client connection stays open.
    pub(super) async fn one_request(&mut self, rec: &mut Rec, turn: Turn) -> Next {
        let fe = self.fe.clone();
        let track = self.track.clone();
        // Where the request is, for `fe_name`, `be_id`, `srv_name`... (`crate::place`).
        // `http_first_req`: HAProxy's H1 mux marks a connection's later requests; every
        // HTTP/2 stream counts as a first.
        let located = crate::place::Located::new(&fe)
            .with_conn(track.as_deref().and_then(|t| t.conn()))
            .not_first(self.served > 0 && !C::H2);
        // The `unique-id-format` id, made once per request (HAProxy makes it when first used;
        // its variables are the connection's, so the value is the same).
        let unique_id = fe.unique_id.as_ref().map(|u| {
            let seen = crate::http::sample_env::Situation::new(self.peer, self.local)
                .with_tls(self.client.tls().map(|t| &**t))
                .at(Some(&located));
            u.make(
                &seen.view(Some(&self.bufs.req), None),
                self.peer,
                self.local,
                rec.rt,
            )
        });
        rec.unique_id.clone_from(&unique_id);
        // Phase: `option http-buffer-request` (`buffer_body`), for the `req.body*` fetches.
        let wait = fe.options.wait_for_body.as_ref();
        let req_body = if fe.options.http_buffer_request || wait.is_some() {
            let rule = wait.filter(|_| !fe.options.http_buffer_request);
            match self.buffer_body(rule).await {
                Ok(b) => Some(b),
                Err(w) => return self.body_wait_failed(w, rec).await,
            }
        } else {
            None
        };
        // The log line's facts for rule values that read them (`%t %b %s %ID`...).
        let tls = self.client.tls().cloned();
        // (boxed: rarely there, and kept across every phase's wait)
        let facts = fulcrum_sample::logformat::rule_facts_read().then(|| {
            Box::new(
                crate::rule_facts::RuleFacts::new(
                    fe.mode,
                    &fe.name,
                    &fe.conns,
                    fe.log.as_ref(),
                    rec.accept,
                    rec.waits,
                    rec.rt,
                )
                .with_tls(tls.as_deref()),
            )
        });
        self.clock = facts.as_ref().map(|_| {
            Box::new(crate::rule_facts::Clock {
                accept: rec.accept,
                waits: rec.waits,
                rt: rec.rt,
                unique_id: unique_id.clone(),
            })
        });
        let mut env = Env {
            src: self.peer,
            dst: self.local,
            counters: fe.counters(track.as_deref(), fe.own_table.as_ref()),
            tls: self.client.tls().cloned(),
            cache: Default::default(),
            unique_id,
            timeouts: Default::default(),
            captures: fe
                .captures
                .has_samples()
                .then(|| Arc::new(fe.captures.new_samples())),
            capture_slots: Some(&fe.captures),
            log_level: fe
                .sets_log_level
                .then(|| Arc::new(std::sync::atomic::AtomicU8::new(rules::UNSET))),
            body: req_body,
            moved: Default::default(),
            res_body_in: Default::default(),
            proxy_request: fe.options.h1.use_proxy_header
                && !matches!(self.bufs.req.target().first(), Some(b'/' | b'*')),
            place: Some(&located),
            knobs: Default::default(),
            facts: facts
                .as_ref()
                .map(|f| &**f as &dyn crate::http::sample_env::LogFacts),
        };
        rec.log_level.clone_from(&env.log_level);
        rec.captures.clone_from(&env.captures);
        let src = crate::net::canonical(self.peer.ip());
        // Phase: `tcp-request content` rules, for each request as HAProxy in HTTP mode (the
        // first request of a stream `switch-mode http` made HTTP takes what they left before
        // the switch instead: they ran once for it); then the request counts for every entry
        // tracked so far.
        let end = match self.switched.take() {
            Some(left) => {
                Self::inspected_before(*left, &mut env);
                rec.captures.clone_from(&env.captures);
                false
            }
            None => self.content_rules(&fe.tcp_content, fe.own_table.as_ref(), &mut env),
        };
        rec.log_level.clone_from(&env.log_level);
        if end {
            rec.term = Termination::PROXY_REQUEST;
            return Next::Close;
        }
        if let Some(t) = &track {
            t.http_request();
        }
        // Phase: `monitor-uri` (`http::monitor`), before the frontend's rules.
        if let Some(m) = fe.monitor.as_ref().filter(|m| m.matches(&self.bufs.req)) {
            let status = m.status(&env.situation().view(Some(&self.bufs.req), None));
            return self.monitor_answer(status, rec).await;
        }
        // Phase: frontend rules (`http-request`), then the frontend's applet.
        // (the verdict and the hints live in this block, not in the state kept across
        // the exchange)
        let allowed = {
            let (verdict, hints) =
                self.http_request_rules(&fe.http_request, &env, &fe.counters, rec);
            if !hints.is_empty() {
                self.send_hints(hints, rec).await;
            }
            // `allow` ends the chain: the waits and rules after them do not run.
            let allowed = matches!(verdict, rules::Verdict::Allow);
            // (a verdict that lets the request go on waits for no answer's future)
            if verdict.answers() {
                if let Some(next) = self.respond_verdict(verdict, rec, &fe.errors).await {
                    return next;
                }
            }
            allowed
        };
        // Phase: `http-request wait-for-body` in the chain, then the rules after it.
        if !allowed && !fe.body_waits.is_empty() {
            if let Some(next) = self
                .body_wait_phase(&fe.body_waits, &fe.errors, &mut env, rec)
                .await
            {
                return next;
            }
        }
        if crate::http::hdr_names::restrict(
            fe.options.keywords.restrict_req_hdr_names,
            &mut self.bufs.req,
        ) {
            let v = rules::Verdict::Error(403);
            return self
                .respond_verdict(v, rec, &fe.errors)
                .await
                .unwrap_or(Next::Close);
        }
        if let Some(st) = fe.stats.as_ref().filter(|a| a.matches(&self.bufs.req)) {
            return self.applet(st.as_ref(), Invocation::StatsUri, rec).await;
        }
        // Phase: route.
        // (the rules' view: variables, counters, captures, the waited-for body, as haproxy)
        let be = crate::route::backend_for(&fe, &env.situation().view(Some(&self.bufs.req), None));
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
        if be.mode != fulcrum_config::model::Mode::Http {
            // A stream `switch-mode http` made HTTP, routed to a `mode tcp` backend: HAProxy
            // 2.6 closes it without an answer (`IR`, no server), the stream counted in the
            // backend (its `%bc` 1; haproxy never releases that count: not reproduced).
            rec.routed = Some(crate::counters::SessionGuard::start(&be.counters));
            rec.term = Termination::INTERNAL_REQUEST;
            return Next::Close;
        }
        located.route(&be);
        if let Some(rules) = fe.backend_tcp_content.get(&be.name) {
            let end = self.content_rules(rules, fe.tables.get(&be.name), &mut env);
            rec.log_level.clone_from(&env.log_level);
            if end {
                rec.term = Termination::PROXY_REQUEST;
                return Next::Close;
            }
        }
        // Phase: backend rules (`http-request`), then the backend's applet.
        // (the verdict and the hints live in this block, not in the state kept across
        // the exchange)
        let allowed = {
            let (verdict, hints) =
                self.http_request_rules(&be.policy.http_request, &env, &be.counters, rec);
            if !hints.is_empty() {
                self.send_hints(hints, rec).await;
            }
            let allowed = matches!(verdict, rules::Verdict::Allow);
            // (a verdict that lets the request go on waits for no answer's future)
            if verdict.answers() {
                if let Some(next) = self.respond_verdict(verdict, rec, &be.policy.errors).await {
                    return next;
                }
            }
            allowed
        };
        // The backend's `http-request wait-for-body` rules and the rules after them.
        if !allowed && !be.policy.body_waits.is_empty() {
            let waits = &be.policy.body_waits;
            if let Some(next) = self
                .body_wait_phase(waits, &be.policy.errors, &mut env, rec)
                .await
            {
                return next;
            }
        }
        if be.options.keywords.restrict_req_hdr_names != fe.options.keywords.restrict_req_hdr_names
            && crate::http::hdr_names::restrict(
                be.options.keywords.restrict_req_hdr_names,
                &mut self.bufs.req,
            )
        {
            let v = rules::Verdict::Error(403);
            return self
                .respond_verdict(v, rec, &be.policy.errors)
                .await
                .unwrap_or(Next::Close);
        }
        if let Some(st) = be
            .policy
            .stats
            .as_ref()
            .filter(|a| a.matches(&self.bufs.req))
        {
            return self.applet(st.as_ref(), Invocation::StatsUri, rec).await;
        }
        // `unique-id-header`: added after the rules, as HAProxy's http_process_request.
        if let (Some(name), Some(id)) = (
            fe.unique_id.as_ref().and_then(|u| u.header.as_ref()),
            env.unique_id.as_ref(),
        ) {
            self.bufs.req.append(name, id);
        }
        // Phase: a `cache-use` hit is answered from the cache (`http::cache_flow`).
        if let Some(hit) = env.cache.take_hit() {
            // HAProxy logs a hit as a local answer by `<CACHE>`, its timers all 0.
            rec.status = hit.status();
            rec.term = Termination::LOCAL;
            rec.cache_hit = true;
            (rec.tw, rec.tc, rec.trs) = (
                Some(Duration::ZERO),
                Some(Duration::ZERO),
                Some(Duration::ZERO),
            );
            self.count_status(rec);
            let drained = match body::request_framing(&mut self.bufs.req) {
                Ok(body::Framing::None) => super::local::Drained::Yes,
                _ => super::local::Drained::No,
            };
            return self.send_local(rec, Some(&hit), drained).await;
        }
        // Phase: persistence (cookie, then `stick on src`), as HAProxy: a valid cookie wins.
        // `force-persist` / `ignore-persist`, then `use-server` (`http::server_rules`).
        let rules = &be.policy.server_rules;
        let persist = if rules.has_persist_rules() {
            rules.persist(&env.situation().view(Some(&self.bufs.req), None))
        } else {
            Persist::Normal
        };
        let mut cookie = crate::http::persist::on_request(&be, &mut self.bufs.req, persist);
        if let Some(c) = &cookie {
            rec.cookie = [crate::http::persist::request_flag(c), b'-'];
        }
        let mut prefer = cookie.as_ref().and_then(|c| c.server);
        if prefer.is_none() && rules.has_use_server() {
            let seen = env.situation();
            let ctx = seen.view(Some(&self.bufs.req), None);
            let force = persist == Persist::Force || be.options.persist;
            prefer = rules.use_server(&ctx, |i| be.server_usable(i, force));
            // HAProxy's SF_DIRECT: a server `use-server` chose gets no inserted cookie
            if let (Some(c), Some(i)) = (cookie.as_mut(), prefer) {
                c.server = Some(i);
            }
        }
        if prefer.is_none() {
            prefer = be.stuck_server(src);
        }
        if prefer.is_none() {
            // A connection the server bound to this client (NTLM/Negotiate): its server is
            // preferred, as HAProxy's SESS_FL_PREFER_LAST; with `option prefer-last-server`
            // (not for the hashing algorithms) the server of a private connection kept
            // (`http-reuse never`: HAProxy's session-owned ones) while usable.
            let last = be.options.prefer_last_server && !be.balance.is_hashed();
            prefer = self
                .attached
                .as_ref()
                .filter(|a| a.prefer_last || (last && a.private && a.server.balanceable()))
                .and_then(|a| be.servers.iter().position(|s| s.id == a.server.id));
        }
        // Then the sample-keyed stick rules (`stick match req.cook(C)`, conditions, `table T`).
        let mut stick_key = Vec::new();
        if be.policy.stick_sample.is_some() {
            let counters = self
                .fe
                .counters(self.track.as_deref(), fe.tables.get(&be.name));
            let seen = crate::http::sample_env::Situation::new(self.peer, self.local)
                .with_counters(counters)
                .at(Some(&located));
            let env = seen.view(Some(&self.bufs.req), None);
            let (stuck, key) = crate::http::persist::stick_request(&be, &env, prefer.is_some());
            prefer = prefer.or(stuck);
            stick_key = key;
        }
        // Phase: request framing and header rewriting. A request with both Transfer-Encoding
        // and Content-Length may be a smuggling attempt: served, then the connection closed
        // (RFC 9112 6.1, as HAProxy). The part of a chunked body already received is checked
        // before anything is forwarded.
        let smuggling = self.bufs.req.has_header(b"transfer-encoding")
            && self.bufs.req.has_header(b"content-length");
        let framing = match body::request_framing(&mut self.bufs.req) {
            Ok(body::Framing::Chunked) if body::check_chunked_prefix(&self.bufs.cbuf).is_err() => {
                return self
                    .send_error(
                        400,
                        rec,
                        Termination::PROXY_REQUEST,
                        &fe.errors,
                        AfterError::Close,
                    )
                    .await
            }
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
        // (one pass over the fields: keep-alive, upgrade, the hop-by-hop fields to strip)
        let hops = headers::hops(&self.bufs.req);
        let client = Next::keep_if(
            hops.keep_alive(self.bufs.req.version)
                && mode != HttpConnectionMode::Close
                && !smuggling,
        );
        let upgrade = hops.upgrade();
        let body = if self
            .bufs
            .req
            .header(b"expect")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"))
        {
            BodySend::After100Continue
        } else {
            BodySend::Now
        };
        headers::strip(&mut self.bufs.req, &hops, upgrade);
        if let Some(ff) = be
            .policy
            .forwardfor
            .as_ref()
            .or(fe.forwardfor.as_ref())
            .filter(|_| !C::UNIX)
        {
            ff.apply(&mut self.bufs.req, src);
        }
        if !C::UNIX {
            crate::http::originalto::apply(
                be.options.originalto.as_ref(),
                fe.options.originalto.as_ref(),
                &mut self.bufs.req,
                self.local.ip(),
            );
        }
        let server = Next::keep_if(mode == HttpConnectionMode::KeepAlive);
        let fields = self.bufs.req.fields.len();
        if upgrade == Upgrade::Requested {
            self.bufs.req.append(b"Connection", b"upgrade");
        } else if server == Next::Close
            && !(be.options.keywords.pretend_keepalive && self.bufs.req.version != Version::Http10)
        {
            // `option http-pretend-keepalive`: the server is not told (HAProxy's FAKE_KA)
            self.bufs.req.append(b"Connection", b"close");
        } else if self.bufs.req.version == Version::Http10 {
            self.bufs.req.append(b"Connection", b"keep-alive");
        }
        let conn_appended = self.bufs.req.fields.len() > fields;
        // Phase: assign a server and connect (the usual keep-alive request without waiting:
        // no future built for it).
        let (mut assigned, server_conn, origin, mut prior) =
            match self.assign_now(&be, rec, src, prefer, persist, turn) {
                connect::Assign::Ready(a, c, o, p) => (a, c, o, p),
                connect::Assign::Later(later) => match self
                    .assign_and_connect(&be, rec, src, prefer, persist, turn, later)
                    .await
                {
                    Ok(v) => v,
                    Err(next) => return next,
                },
            };
        rec.server = Some(assigned.server().clone());
        rec.queue_pos = assigned.queue_pos;
        if let Some(h) = &be.options.keywords.send_name_header {
            crate::http::send_name::apply(
                &mut self.bufs.req,
                h,
                &assigned.server().name,
                conn_appended,
            );
        }
        if be.policy.sticks(assigned.index) {
            be.remember_server(src, assigned.index);
        }
        crate::http::persist::stick_store(&be, &stick_key, assigned.index);
        // Phase: exchange with the server, compiled once per kind of connection (TCP, unix);
        // a reused connection found closed before any answer is replayed on a fresh one.
        let comp = crate::http::compress::on_request(
            be.options.compression.as_ref(),
            self.fe.options.compression.as_ref(),
            &mut self.bufs.req,
        );
        let x = Exchange {
            comp,
            be: &be,
            env: &env,
            framing,
            body,
            upgrade,
            client,
            server,
            cookie: cookie.as_ref(),
            l7_left: (if be.options.retry_on.after_sending() && !env.knobs.l7_retry_disabled() {
                be.retries
            } else {
                0
            })
            .into(),
        };
        let (mut server, mut origin) = (server_conn, origin);
        // Replays are bounded: one per retry the backend allows (at least one).
        let mut replays = be.retries.max(1);
        // `%bi %bp`: asked of the socket only when the lines write them.
        let source = crate::log_format::asks_source(self.fe.log_source);
        loop {
            if source {
                rec.source = server.local_addr();
            }
            rec.bc_tls = server.tls().cloned();
            let step = match server {
                ServerConn::Tcp(s) => {
                    self.exchange(&x, rec, &mut assigned, s, origin, prior)
                        .await
                }
                ServerConn::Unix(s) => {
                    self.exchange(&x, rec, &mut assigned, s, origin, prior)
                        .await
                }
                ServerConn::Tls(s) => {
                    self.exchange(&x, rec, &mut assigned, s, origin, prior)
                        .await
                }
                ServerConn::H2(h) => self.exchange_h2(&x, rec, &mut assigned, h, origin).await,
            };
            prior = Prior::default();
            let (elsewhere, l7) = match step {
                Step::Done(next) => return next,
                Step::Replay => (false, false),
                Step::Elsewhere => (true, false),
                // `retry-on` (`retry_on.rs`, bounded by `retries` there).
                Step::Retry => {
                    replays += 1;
                    (be.options.redispatch, true)
                }
            };
            let again = if replays == 0 {
                None
            } else {
                replays -= 1;
                self.fresh_connection(&be, &mut assigned, elsewhere).await
            };
            match again {
                Some(s) => {
                    rec.retries.add(assigned.retries);
                    if l7 {
                        super::retry_on::count_reassign(&be, rec, &assigned);
                    }
                    server = s;
                    origin = Origin::Fresh;
                    rec.server = Some(assigned.server().clone());
                    if let Some(h) = &be.options.keywords.send_name_header {
                        crate::http::send_name::apply(
                            &mut self.bufs.req,
                            h,
                            &assigned.server().name,
                            conn_appended,
                        );
                    }
                    // `stick on|store-request`: the key goes with the server finally used.
                    crate::http::persist::stick_store(&be, &stick_key, assigned.index);
                }
                None => {
                    let (status, term, after) = if elsewhere {
                        (502, Termination::SERVER_HEADERS, AfterError::Close)
                    } else {
                        (503, Termination::SERVER_CONNECT, AfterError::KeepIfClean)
                    };
                    return self
                        .send_error(status, rec, term, &be.policy.errors, after)
                        .await;
                }
            }
        }
    }

    /// A new connection for a request whose reused server connection turned out closed before
    /// anything was answered (nothing was processed, so the request may be replayed): first to
    /// the same server, then, if that fails too (the server died), through the backend's
    /// connect with its retries and redispatch, which may assign another server.
    /// With `elsewhere`, the server failed the request: go straight to the backend's connect,
    /// avoiding it.
    pub(super) async fn fresh_connection(
        &mut self,
        be: &Arc<Backend>,
        assigned: &mut crate::backend::Assigned,
        elsewhere: bool,
    ) -> Option<ServerConn> {
        let client_tls = self.client.tls().cloned();
        let sni = crate::http::server_sni::evaluator(
            Some(&self.bufs.req),
            self.peer,
            self.local,
            client_tls.as_deref(),
        );
        let header = be
            .hash_header
            .as_ref()
            .and_then(|h| self.bufs.req.header(h))
            .map(<[u8]>::to_vec);
        let hints = Hints {
            src: Some(crate::net::canonical(self.peer.ip())),
            uri: self.bufs.req.uri(),
            header: header.as_deref(),
            prefer: None,
            force: false,
            sni: Some(&sni),
            // a retried connection: the request is not queued again by priority
            priority: None,
            redirect: false,
        };
        // The retries of a new assignment (none for the same server again).
        assigned.retries = Default::default();
        if !elsewhere {
            let name = hints.sni_for(assigned.server());
            if let Ok(s) = be
                .attempt(assigned.server(), self.local, name.as_deref())
                .await
            {
                return Some(s);
            }
        }
        let mut waited = Duration::ZERO;
        let failed = Some(assigned.index);
        match be
            .connect_avoiding(&hints, self.local, failed, |_| None, &mut waited)
            .await
        {
            Ok((a, s, _)) => {
                *assigned = a;
                Some(s)
            }
            Err(_) => None,
        }
    }
}
