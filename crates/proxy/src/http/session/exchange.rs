//! Phase "exchange" of an HTTP request: send the request (head, then body unless the client
//! waits for `100 Continue`) on the server connection, read the response head
//! (`response_head.rs`; interim 1xx relayed to HTTP/1 clients), apply the `http-response`
//! rules and the cookie's response part, then relay the response (or a tunnel after `101`)
//! to the client's codec. A reused connection found closed before any answer asks for a
//! replay ([`Step::Replay`]); a fresh one reset before the request was delivered, or closed
//! without answering an idempotent request without body, for another server
//! ([`Step::Elsewhere`]); `request.rs` makes the new connection. Generic over the server
//! stream (TCP, unix, TLS): no dynamic dispatch per byte.
//!
//! The server side is HTTP/1.1: [`Session::exchange`] takes any [`ServerStream`] and the
//! [`Exchange`] the request phases prepared, and answers a [`Step`]. Its first two phases are
//! methods of their own: `exchange/send.rs` (send the request) and `exchange/head.rs` (read
//! the response head, interim answers, failures).

use super::local::AfterError;
use super::respond::client_case;
use super::response_head::ResError;
use super::{Attached, Next, Rec, Session};
use crate::backend::{Backend, Origin};
use crate::connect::ServerStream;
use crate::http::body::{self, BodyError, Framing};
use crate::http::headers::{self, Upgrade};
use crate::http::message::Version;
use crate::http::rules::Env;
use crate::observe::ServerEvent;
use crate::stream::ClientStream;
use crate::termination::Termination;
use bytes::Buf;
use send::SentRequest;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::AsyncWriteExt;

mod head;
mod send;

/// What the server exchange of one request needs from the phases before it.
pub(super) struct Exchange<'a> {
    pub(super) be: &'a Arc<Backend>,
    pub(super) env: &'a Env<'a>,
    pub(super) framing: Framing,
    /// When the request body goes: at once, or after the server's `100 Continue`.
    pub(super) body: BodySend,
    pub(super) upgrade: Upgrade,
    /// What the client connection may do after this request (before the response says).
    pub(super) client: Next,
    /// What the server connection may do (the connection mode; the response may close it).
    pub(super) server: Next,
    pub(super) cookie: Option<&'a crate::persist::cookie::CookieRequest>,
    /// The compression algorithm the request allows (`compression algo`), if any.
    pub(super) comp: Option<fulcrum_config::model_extras::CompAlgo>,
    /// `retry-on` retries left after the request was sent (`retries`; 0 without `retry-on`).
    pub(super) l7_left: std::sync::atomic::AtomicU32,
}

/// When a request body is sent to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodySend {
    Now,
    /// The client sent `Expect: 100-continue`: after the server's interim `100`.
    After100Continue,
}

/// Whether the request body has reached the server yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    Pending,
    Done,
}

/// What a server connection brings to an exchange from its earlier requests.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Prior {
    /// Requests it carried before.
    pub(super) uses: u32,
    /// Private to this client connection (see `Attached`).
    pub(super) private: bool,
    pub(super) prefer_last: bool,
}

/// Whether a response binds its server connection to the client (HAProxy's
/// http_wait_for_response): a 401 or 407 whose authentication challenge is NTLM or
/// Negotiate (connection-based authentication).
fn binds_connection(res: &crate::http::message::Message) -> bool {
    let name: &[u8] = match res.status {
        401 => b"www-authenticate",
        407 => b"proxy-authenticate",
        _ => return false,
    };
    res.headers(name).any(|v| {
        v.len() >= 4
            && (v[..4].eq_ignore_ascii_case(b"NTLM") || v[..4].eq_ignore_ascii_case(b"Nego"))
    })
}

/// How a server exchange ended.
pub(super) enum Step {
    /// Finished; whether the client connection stays open.
    Done(Next),
    /// The reused connection was closed before any answer: replay on a fresh connection.
    Replay,
    /// A fresh connection was reset before the request was delivered, or closed without a byte
    /// of answer to an idempotent request without body: replay on another server.
    Elsewhere,
    /// `retry-on` met (a listed status, no answer, junk, the server timeout): send the request
    /// again, on the same server, or another with `option redispatch` (HAProxy's L7 retry).
    Retry,
}

/// RFC 9110 9.2.2: methods whose repetition has the same effect as one request.
fn idempotent(method: &[u8]) -> bool {
    [
        &b"GET"[..],
        b"HEAD",
        b"OPTIONS",
        b"TRACE",
        b"PUT",
        b"DELETE",
    ]
    .contains(&method)
}

impl<C: ClientStream> Session<C> {
    /// The exchange ends with an error answer from the backend's error pages (`status`, why
    /// in `term`) and the client connection closed.
    pub(in crate::http::session) async fn failed(
        &mut self,
        status: u16,
        rec: &mut Rec,
        term: Termination,
        be: &Backend,
    ) -> Step {
        Step::Done(
            self.send_error(status, rec, term, &be.policy.errors, AfterError::Close)
                .await,
        )
    }

    /// Sends the request on `server` and relays the answer (or a tunnel after a 101); returns
    /// whether the client connection stays open, or asks for a fresh server connection when a
    /// reused one turned out closed before anything was answered.
    pub(super) async fn exchange<S: ServerStream>(
        &mut self,
        x: &Exchange<'_>,
        rec: &mut Rec,
        assigned: &mut crate::backend::Assigned,
        mut server: S,
        origin: Origin,
        prior: Prior,
    ) -> Step {
        let fe = self.fe.clone();
        let be = x.be;
        let env = x.env;
        let cli_timeout = fe.timeouts.client;

        // Phase: forward the request head (and body, unless the client waits for 100).
        let SentRequest {
            mut kept,
            t_sent,
            mut body_sent,
        } = match self
            .send_request(x, rec, assigned, &mut server, origin)
            .await
        {
            Ok(sent) => sent,
            Err(step) => return step,
        };
        let reused = origin == Origin::Reused;
        // Phase: read the response head (relaying interim 1xx responses).
        if let Err(step) = self
            .read_answer_head(
                x,
                rec,
                assigned,
                &mut server,
                reused,
                &mut kept,
                &mut body_sent,
            )
            .await
        {
            return step;
        }
        be.observe(
            assigned.server(),
            ServerEvent::HttpStatus(self.bufs.res.status),
        );
        if kept.is_some()
            && body_sent == Sent::Done
            && be.options.retry_on.statuses.contains(&self.bufs.res.status)
        {
            return self.l7_retry(x, rec, assigned, kept);
        }
        // Before the response rules, as HAProxy: a connection-based authentication makes the
        // connection private (and its server preferred) for the rest of the client's session.
        let auth_bound = binds_connection(&self.bufs.res);
        rec.trs = Some(t_sent.elapsed());
        rec.status = self.bufs.res.status;
        // `%B`'s count of the head as it came (`log_bytes`): read by the log line only.
        let htx_head = if fe.log.is_some() {
            crate::http::log_bytes::head(&self.bufs.res) as i64
        } else {
            0
        };

        // Phase: upgrade to a tunnel.
        if self.bufs.res.status == 101 && x.upgrade == Upgrade::Requested {
            self.count_status(rec);
            self.bufs.out.clear();
            self.bufs
                .res
                .write_response_cased(&[], client_case(&self.fe), &mut self.bufs.out);
            if body::write_all(&mut self.client, &self.bufs.out, cli_timeout)
                .await
                .is_err()
            {
                return Step::Done(Next::Close);
            }
            let t = crate::tunnel::Tunnel {
                idle: env.timeouts.tunnel(be.timeouts.tunnel).or(cli_timeout),
                client_fin: fe.timeouts.client_fin,
                server_fin: be.timeouts.server_fin,
                splice: crate::splice::modes(
                    &fe.options.splice,
                    &be.options.splice,
                    crate::splice::TUNNEL_DEFAULT,
                ),
            };
            let to_server = self.bufs.cbuf.split().freeze();
            let to_client = self.bufs.sbuf.split().freeze();
            rec.head_out = self.bufs.out.len() as u64;
            rec.log_adjust = htx_head - rec.head_out as i64;
            let (up, down, _) =
                crate::tunnel::tunnel(&mut self.client, &to_server, &mut server, &to_client, &t)
                    .await;
            rec.bytes = down;
            rec.bytes_in += up;
            return Step::Done(Next::Close);
        }

        // Phase: `stick store-response EXPR` (HAProxy runs it before http-response rules).
        if be.policy.stick_sample.is_some() {
            if let Some(p) = x.env.place {
                p.at_server(assigned.index);
            }
            let seen =
                crate::http::sample_env::Situation::new(self.peer, self.local).at(x.env.place);
            let env = seen.view(Some(&self.bufs.req), Some(&self.bufs.res));
            crate::http::persist::stick_response(be, &env, assigned.index);
        }
        // Phase: http-response rules (backend, then frontend).
        let res_framing = match body::response_framing(&mut self.bufs.res, &self.bufs.req) {
            Ok(f) => f,
            // framing that does not parse (`Content-Length: zz`): refused, `PH` as haproxy
            Err(_) => return self.failed(502, rec, Termination::PROXY_HEADERS, be).await,
        };
        // `http-response wait-for-body` (`response_wait`): a proxy's first, unconditional
        // rule is waited for before the rules; the others pause the rules where they stand.
        let first = be
            .options
            .response_wait_for_body
            .clone()
            .or_else(|| fe.options.response_wait_for_body.clone());
        let mut waited = false;
        if let Some(w) = &first {
            if !self
                .wait_response_body(&mut server, w, res_framing, fe.bufsize)
                .await
            {
                return self
                    .failed(504, rec, Termination::SERVER_TIMEOUT_HEADERS, be)
                    .await;
            }
            waited = true;
        }
        env.res_body_in
            .store(self.bufs.sbuf.len(), std::sync::atomic::Ordering::Relaxed);
        // Phase: response rules (`http-response`, `checkcache`, the cookie's response part).
        let mut at = None;
        loop {
            match self.response_rules(x, rec, assigned.index, at).await {
                Err(step) => return step,
                Ok(None) => break,
                Ok(Some((next, w))) => {
                    at = Some(next);
                    if waited {
                        continue;
                    }
                    waited = true;
                    if !self
                        .wait_response_body(&mut server, &w, res_framing, fe.bufsize)
                        .await
                    {
                        return self
                            .failed(504, rec, Termination::SERVER_TIMEOUT_HEADERS, be)
                            .await;
                    }
                    env.res_body_in
                        .store(self.bufs.sbuf.len(), std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        let encoder = self.response_encoder(x, res_framing);
        // `cache-store` kept this response: its body is copied as it is relayed (not when
        // compressed, nor when delimited by the server's close).
        let cache_store = x.env.cache.take_pending().filter(|_| {
            encoder.is_none()
                && matches!(
                    res_framing,
                    Framing::Length(_) | Framing::Chunked | Framing::None
                )
        });
        let mut cached_body = Vec::new();
        // (one pass over the fields: the server's keep-alive, the hop-by-hop fields to strip)
        let hops = headers::hops(&self.bufs.res);
        // An answer delimited by the server's close: read to its end (neither connection is
        // kept; HAProxy then closes the server's with a FIN), or not.
        let server_ends = res_framing == Framing::UntilClose;
        let server_reuse =
            x.server == Next::KeepAlive && hops.keep_alive(self.bufs.res.version) && !server_ends;
        let client = Next::keep_if(
            x.client == Next::KeepAlive
                && !server_ends
                && body_sent == Sent::Done
                && !self.stopping(),
        );
        let client_version = self.bufs.req.version;
        headers::strip(&mut self.bufs.res, &hops, Upgrade::None);
        if client == Next::Close {
            self.bufs.res.append(b"connection", b"close");
        } else if client_version == Version::Http10 {
            self.bufs.res.append(b"connection", b"keep-alive");
        }
        // Phase: forward the response head with as much body as is already here (HTTP/2:
        // the head goes from the neutral head, `out` holds body bytes only).
        self.bufs.out.clear();
        let h2_head = C::H2.then(|| crate::http::h2::edge::h1_size(&self.bufs.res));
        if h2_head.is_none() {
            self.bufs
                .res
                .write_response_cased(&[], client_case(&self.fe), &mut self.bufs.out);
        }
        let mut res_framing = res_framing;
        if encoder.is_some() {
            // compressed: the head alone, the body re-encoded below
        } else if let Framing::Length(n) = res_framing {
            let k = (self.bufs.sbuf.len() as u64).min(n) as usize;
            self.bufs.out.extend_from_slice(&self.bufs.sbuf[..k]);
            if cache_store.is_some() {
                cached_body.extend_from_slice(&self.bufs.sbuf[..k]);
            }
            self.bufs.sbuf.advance(k);
            rec.bytes = k as u64;
            res_framing = if k as u64 == n {
                Framing::None
            } else {
                Framing::Length(n - k as u64)
            };
        }
        rec.head_out = h2_head.unwrap_or(self.bufs.out.len() as u64 - rec.bytes);
        rec.log_adjust = htx_head - rec.head_out as i64;
        self.count_status(rec);
        // The whole answer in `out`, the connection shut down right after it (below).
        let last = client == Next::Close && encoder.is_none() && res_framing == Framing::None;
        if !self.send_response_head_of(cli_timeout, last).await {
            rec.term = Termination::CLIENT_DATA;
            return Step::Done(Next::Close);
        }
        self.log_asap(rec);
        let splicing = crate::http::body_splice::Splicing {
            mode: crate::splice::modes(
                &fe.options.splice,
                &be.options.splice,
                crate::splice::DEFAULT,
            )[1],
            src: S::plain_tcp,
            dst: C::plain_tcp,
        };
        let with = (encoder, cache_store, cached_body, Some(splicing));
        if let Err(step) = self
            .relay_body_with(x, rec, res_framing, &mut server, with)
            .await
        {
            return step;
        }
        // A `send-proxy` connection carries one client's addresses: never kept for reuse.
        if server_reuse && self.bufs.sbuf.is_empty() && assigned.server().send_proxy == 0 {
            let never = be.options.http_reuse == fulcrum_config::model::HttpReuse::Never;
            self.attached = Some(Attached {
                server: assigned.server().clone(),
                stream: server.into_conn(),
                private: prior.private || never || auth_bound,
                uses: prior.uses + 1,
                prefer_last: prior.prefer_last || auth_bound,
            });
        } else if !server_ends {
            // The exchange is complete and the connection will not carry another: closed
            // with a reset, as HAProxy closes a server connection it has not read the end of.
            if let Some(s) = server.plain_tcp() {
                crate::connect::reset_on_close(s);
            }
        }
        if client == Next::Close {
            let _ = self.client.shutdown().await;
        }
        Step::Done(client)
    }
}
