//! Phase "send the request" of the exchange: the PROXY protocol preface on a fresh
//! connection, the request head, and the body unless the client waits for `100 Continue`.
//! A connection that fails here asks for a replay, another server, or answers 502
//! (`Err(Step)`); otherwise what the next phases need ([`SentRequest`]).

use super::*;

/// What sending the request leaves to the response phases.
pub(in crate::http::session) struct SentRequest {
    /// The request as `retry-on` may send it again (`None`: not retryable).
    pub(in crate::http::session) kept: Option<Vec<u8>>,
    pub(in crate::http::session) t_sent: Instant,
    pub(in crate::http::session) body_sent: Sent,
}

impl<C: ClientStream> Session<C> {
    pub(in crate::http::session) async fn send_request<S: ServerStream>(
        &mut self,
        x: &Exchange<'_>,
        rec: &mut Rec,
        assigned: &crate::backend::Assigned,
        server: &mut S,
        origin: Origin,
    ) -> Result<SentRequest, Step> {
        let fe = self.fe.clone();
        let be = x.be;
        let (env, framing) = (x.env, x.framing);
        let srv_timeout = env.timeouts.server(be.timeouts.server);
        self.bufs.out.clear();
        let send_proxy = assigned.server().send_proxy;
        if origin == Origin::Fresh && send_proxy != 0 {
            // `send-proxy[-v2]`: a new server connection starts with the client's addresses.
            let addrs = (!C::UNIX).then_some((self.peer, self.local));
            let pre = crate::proxy_protocol::for_server(send_proxy, addrs);
            self.bufs.out.extend_from_slice(&pre);
        }
        let case = be.options.h1.case_adjust_server.then_some(&fe.h1_case);
        self.bufs.req.write_request_cased(case, &mut self.bufs.out);
        let kept = self.l7_kept(x);
        let t_sent = Instant::now();
        let mut body_sent = if framing == Framing::None {
            Sent::Done
        } else {
            Sent::Pending
        };
        // With the other sessions' sends of this turn (runtime_turn.rs).
        crate::runtime_turn::after_ready_tasks().await;
        let out = &self.bufs.out;
        let mut ok = match super::super::respond::write_at_once(server.plain_tcp(), out) {
            Ok(n) if n == out.len() => true,
            Ok(n) => body::write_all(&mut *server, &out[n..], srv_timeout)
                .await
                .is_ok(),
            Err(()) => false,
        };
        if ok && x.body == BodySend::Now && body_sent == Sent::Pending {
            match self.send_body(x, rec, server).await {
                Ok(()) => body_sent = Sent::Done,
                Err(BodyError::SrcClosed)
                | Err(BodyError::SrcTimeout)
                | Err(BodyError::Invalid) => {
                    rec.term = Termination::CLIENT_DATA;
                    rec.status = 0;
                    return Err(Step::Done(Next::Close));
                }
                Err(_) => ok = false,
            }
        }
        let reused = origin == Origin::Reused;
        if !ok && reused && framing == Framing::None {
            // A reused connection the server had closed: nothing was delivered, replay once.
            return Err(Step::Replay);
        }
        if !ok && framing == Framing::None {
            // A fresh connection reset before the request was delivered in full: the server
            // (dying or dead) cannot have acted on it; another server may take it.
            be.observe(assigned.server(), ServerEvent::HttpBrokenPipe);
            return Err(Step::Elsewhere);
        }
        if !ok {
            return Err(self.failed(502, rec, Termination::SERVER_HEADERS, be).await);
        }
        Ok(SentRequest {
            kept,
            t_sent,
            body_sent,
        })
    }
}

impl<C: ClientStream> Session<C> {
    /// The request body from the client to `server` (at once, or after `100 Continue`), its
    /// bytes counted in the log record; the caller decides what a failure means.
    pub(in crate::http::session) async fn send_body<S: ServerStream>(
        &mut self,
        x: &Exchange<'_>,
        rec: &mut Rec,
        server: &mut S,
    ) -> Result<(), BodyError> {
        let srv_timeout = x.env.timeouts.server(x.be.timeouts.server);
        let splicing = crate::http::body_splice::Splicing {
            mode: crate::splice::modes(
                &self.fe.options.splice,
                &x.be.options.splice,
                crate::splice::DEFAULT,
            )[0],
            src: C::plain_tcp,
            dst: S::plain_tcp,
        };
        let mut sent = 0;
        let r = body::forward_spliced(
            x.framing,
            &mut self.client,
            &mut self.bufs.cbuf,
            &mut *server,
            self.fe.bufsize,
            (self.fe.timeouts.client, srv_timeout),
            Some(splicing),
            &mut sent,
        )
        .await;
        // Counted also when the body stops half-way (`%U`, `bin`).
        rec.bytes_in += sent;
        let htx = r?;
        // `%U` counts a chunked body without its framing (HAProxy's HTX size, as `%B`).
        rec.in_adjust += htx as i64 - sent as i64;
        Ok(())
    }
}
