//! Phase "exchange" of an HTTP request with an HTTP/2 server (`server ... proto h2`, or `h2`
//! chosen by ALPN): the request goes as a new stream on a shared connection
//! (`connect::h2`), its head built from the neutral head and its body (HTTP/1
//! framing from the client's codec) sent as DATA frames; the response head comes back into
//! the neutral head, then the same `http-response` rules, cookie, compression and cache
//! steps as the HTTP/1 exchange (`exchange.rs`), and the body is relayed to the client's
//! codec as HTTP/1 framing (chunks with the server's trailers when there is no length).
//!
//! Stream failures are answered as HAProxy does: a stream the server refused unprocessed
//! (REFUSED_STREAM, GOAWAY) or a connection found closed goes again on a fresh connection
//! ([`Step::Replay`]); a reset before the response head is a 502 (`SH`; an HTTP/2 client's
//! stream is reset instead, as HAProxy does), `timeout server` a 504 (`sH`); a reset during
//! the body ends the client's answer (`SD`).

use super::exchange::{BodySend, Exchange, Step};
use super::local::AfterError;
use super::respond::client_case;
use super::{Next, Rec, Session};
use crate::backend::Origin;
use crate::connect::h2::H2Conn;
use crate::http::body::{self, BodyError, Framing};
use crate::http::h2::frames::{self, InBody};
use crate::http::h2::upstream::{self, Failure};
use crate::http::headers::{self, Upgrade};
use crate::http::message::Version;
use crate::observe::ServerEvent;
use crate::stream::ClientStream;
use crate::termination::Termination;
use std::time::Instant;
use tokio::io::AsyncWriteExt;

impl<C: ClientStream> Session<C> {
    /// Sends the request as a stream on `conn` and relays the answer.
    pub(super) async fn exchange_h2(
        &mut self,
        x: &Exchange<'_>,
        rec: &mut Rec,
        assigned: &mut crate::backend::Assigned,
        conn: H2Conn,
        origin: Origin,
    ) -> Step {
        let fe = self.fe.clone();
        let be = x.be;
        let (env, framing) = (x.env, x.framing);
        let srv_timeout = env.timeouts.server(be.timeouts.server);
        let cli_timeout = fe.timeouts.client;

        // Phase: the request head as a new stream. `Expect: 100-continue` is answered here
        // (the HTTP/2 server gets the body at once).
        let expects = x.body == BodySend::After100Continue;
        if expects {
            self.bufs.req.remove(b"expect");
        }
        // An HTTP/2 client's head as it came goes on as it is if the request still holds it.
        let carried = super::h2_edge(&mut self.client).and_then(|e| e.take_request());
        let tls = assigned.server().tls().is_some();
        let head = match upstream::request_head(&self.bufs.req, tls, carried) {
            Ok(h) => h,
            Err(_) => {
                let s = self
                    .send_error(
                        400,
                        rec,
                        Termination::PROXY_HEADERS,
                        &be.policy.errors,
                        AfterError::Close,
                    )
                    .await;
                return Step::Done(s);
            }
        };
        let reused = origin == Origin::Reused;
        let lost = |reused: bool| {
            if reused {
                Step::Replay
            } else {
                Step::Elsewhere
            }
        };
        // The handle's own `SendRequest` sends the stream (no clone of it per request: a
        // clone and its drop each take the connection's lock).
        let mut conn = conn;
        let ready = std::future::poll_fn(|cx| conn.send.poll_ready(cx));
        let Some(Ok(())) = self.alarm.within(srv_timeout, ready).await else {
            // The connection is gone (or never got room): nothing was sent.
            return lost(reused);
        };
        let t_sent = Instant::now();
        let Ok((response, stream)) = conn.send.send_request(head, framing == Framing::None) else {
            return lost(reused);
        };
        let mut body_done = framing == Framing::None;
        if !body_done {
            if expects {
                self.send_continue().await;
            }
            let length = match framing {
                Framing::Length(n) => Some(n),
                _ => None,
            };
            let mut sink = upstream::request_sink(stream, length);
            match body::forward(
                framing,
                &mut self.client,
                &mut self.bufs.cbuf,
                &mut sink,
                fe.bufsize,
                cli_timeout,
                srv_timeout,
            )
            .await
            {
                Ok(n) => {
                    rec.bytes_in += n;
                    body_done = sink.finished();
                }
                Err(BodyError::SrcClosed | BodyError::SrcTimeout | BodyError::Invalid) => {
                    // The sink resets the stream as it goes.
                    rec.term = Termination::CLIENT_DATA;
                    rec.status = 0;
                    return Step::Done(Next::Close);
                }
                // The server reset the stream or stopped reading: its answer may say why.
                Err(_) => {}
            }
        }

        // Phase: interim answers (1xx: `103 Early Hints`, ...) relayed through the client's
        // codec as they come, as HAProxy does, then the response head. A `100 Continue` is
        // not relayed when the proxy answered the client's `Expect` itself.
        let mut response = response;
        let answer = loop {
            let interim = std::future::poll_fn(|cx| response.poll_informational(cx));
            match self.alarm.within(srv_timeout, interim).await {
                None => break None,
                Some(Some(Ok(r))) => {
                    let (parts, _) = r.into_parts();
                    upstream::response_message(&parts, false, false, &mut self.bufs.res);
                    crate::http::h2::maps::give(parts.headers);
                    if self.bufs.res.status == 100 && expects {
                        continue;
                    }
                    if !self.relay_interim().await {
                        rec.term = Termination::CLIENT_DATA;
                        return Step::Done(Next::Close);
                    }
                }
                // The final head is next (or the stream failed: the response says how).
                Some(_) => break self.alarm.within(srv_timeout, &mut response).await,
            }
        };
        let res = match answer {
            None => {
                if x.cookie.is_some() {
                    rec.cookie[1] = b'N';
                }
                be.observe(assigned.server(), ServerEvent::HttpReadTimeout);
                let s = self
                    .send_error(
                        504,
                        rec,
                        Termination::SERVER_TIMEOUT_HEADERS,
                        &be.policy.errors,
                        AfterError::Close,
                    )
                    .await;
                return Step::Done(s);
            }
            Some(Err(e)) => {
                if upstream::failure(&e) == Failure::Unprocessed && framing == Framing::None {
                    return Step::Replay;
                }
                tracing::debug!("h2 stream to server {}: {e}", assigned.server().name);
                be.observe(assigned.server(), ServerEvent::HttpBrokenPipe);
                if x.cookie.is_some() {
                    rec.cookie[1] = b'N';
                }
                if C::H2 {
                    // As HAProxy: the server's reset reaches an HTTP/2 client as a reset of
                    // its stream (the edge resets a stream left unanswered), not a 502 page.
                    rec.status = 502;
                    rec.term = Termination::SERVER_HEADERS;
                    self.count_status(rec);
                    return Step::Done(Next::Close);
                }
                let s = self
                    .send_error(
                        502,
                        rec,
                        Termination::SERVER_HEADERS,
                        &be.policy.errors,
                        AfterError::Close,
                    )
                    .await;
                return Step::Done(s);
            }
            Some(Ok(r)) => r,
        };
        let (parts, recv) = res.into_parts();
        let res_body = upstream::response_message(
            &parts,
            recv.is_end_stream(),
            self.bufs.req.is_head(),
            &mut self.bufs.res,
        );
        // To an HTTP/2 client, the answer's fields go on as they came unless rules change them.
        match super::h2_edge(&mut self.client) {
            Some(e) => e.carry_answer(parts.headers),
            None => crate::http::h2::maps::give(parts.headers),
        }
        let mut server = upstream::response_source(recv, res_body);
        be.observe(
            assigned.server(),
            ServerEvent::HttpStatus(self.bufs.res.status),
        );
        rec.trs = Some(t_sent.elapsed());
        rec.status = self.bufs.res.status;
        let htx_head = crate::http::log_bytes::head(&self.bufs.res) as i64;

        // Phase: `stick store-response`, then http-response rules (backend, then frontend).
        if be.policy.stick_sample.is_some() {
            if let Some(p) = x.env.place {
                p.at_server(assigned.index);
            }
            let seen =
                crate::http::sample_env::Situation::new(self.peer, self.local).at(x.env.place);
            let env = seen.view(Some(&self.bufs.req), Some(&self.bufs.res));
            crate::http::persist::stick_response(be, &env, assigned.index);
        }
        let res_framing = match res_body {
            InBody::None => Framing::None,
            InBody::Chunked => Framing::Chunked,
            InBody::Length => match body::response_framing(&mut self.bufs.res, &self.bufs.req) {
                Ok(f) => f,
                Err(_) => {
                    be.observe(assigned.server(), ServerEvent::HttpInvalid);
                    let s = self
                        .send_error(
                            502,
                            rec,
                            Termination::SERVER_HEADERS,
                            &be.policy.errors,
                            AfterError::Close,
                        )
                        .await;
                    return Step::Done(s);
                }
            },
        };
        // Phase: response rules (`http-response`, `checkcache`, the cookie's response part).
        if let Err(step) = self.response_rules_unwaited(x, rec, assigned.index).await {
            return step;
        }
        if res_body == InBody::Chunked {
            // HAProxy's HTTP/1 encoder adds it last, after the rules' fields.
            self.bufs.res.append(b"transfer-encoding", b"chunked");
        }
        let encoder = self.response_encoder(x, res_framing);
        let cache_store = x.env.cache.take_pending().filter(|_| {
            encoder.is_none() && matches!(res_framing, Framing::Length(_) | Framing::Chunked)
        });
        let client = Next::keep_if(x.client == Next::KeepAlive && body_done && !self.stopping());
        headers::strip_hop_by_hop(&mut self.bufs.res, Upgrade::None);
        if client == Next::Close {
            self.bufs.res.append(b"connection", b"close");
        } else if self.bufs.req.version == Version::Http10 {
            self.bufs.res.append(b"connection", b"keep-alive");
        }

        // Phase: the response head to the client's codec, then the body.
        self.bufs.out.clear();
        self.bufs.sbuf.clear();
        let h2_head = C::H2.then(|| crate::http::h2::edge::h1_size(&self.bufs.res));
        if h2_head.is_none() {
            self.bufs
                .res
                .write_response_cased(&[], client_case(&self.fe), &mut self.bufs.out);
        }
        rec.head_out = h2_head.unwrap_or(self.bufs.out.len() as u64);
        rec.log_adjust = htx_head - rec.head_out as i64;
        self.count_status(rec);
        if !self.send_response_head(cli_timeout).await {
            rec.term = Termination::CLIENT_DATA;
            return Step::Done(Next::Close);
        }
        self.log_asap(rec);
        let direct =
            encoder.is_none() && cache_store.is_none() && matches!(res_framing, Framing::Length(_));
        if let Some(out) = super::h2_edge(&mut self.client)
            .map(|e| e.body_out())
            .filter(|o| direct && o.takes_raw())
        {
            // HTTP/2 on both sides, a body of known length: the server's DATA frames go to
            // the client as they are (no copy, no HTTP/1 framing in between).
            match frames::relay(&mut server, out, srv_timeout, cli_timeout).await {
                Ok(n) => rec.bytes += n,
                Err(BodyError::DstFailed | BodyError::DstTimeout) => {
                    rec.term = Termination::CLIENT_DATA;
                    return Step::Done(Next::Close);
                }
                Err(_) => {
                    rec.term = Termination::SERVER_DATA;
                    return Step::Done(Next::Close);
                }
            }
        } else if let Err(step) = self
            .relay_body(
                x,
                rec,
                encoder,
                res_framing,
                &mut server,
                cache_store,
                Vec::new(),
            )
            .await
        {
            return step;
        }
        if client == Next::Close {
            let _ = self.client.shutdown().await;
        }
        Step::Done(client)
    }
}
