//! Phase "read the response head" of the exchange: the server's answer head, interim `1xx`
//! answers relayed to the client (then the body that waited for `100 Continue`), and what a
//! failure means: a `retry-on` retry, a replay on a fresh connection, another server, or a
//! 502/504 (`Err(Step)`).

use super::*;

impl<C: ClientStream> Session<C> {
    #[allow(clippy::too_many_arguments)]
    pub(in crate::http::session) async fn read_answer_head<S: ServerStream>(
        &mut self,
        x: &Exchange<'_>,
        rec: &mut Rec,
        assigned: &crate::backend::Assigned,
        server: &mut S,
        reused: bool,
        kept: &mut Option<Vec<u8>>,
        body_sent: &mut Sent,
    ) -> Result<(), Step> {
        let be = x.be;
        let (env, framing) = (x.env, x.framing);
        let srv_timeout = env.timeouts.server(be.timeouts.server);
        self.bufs.sbuf.clear();
        // Back to the start of its memory: `advance` past each answer would otherwise walk
        // the next answers through the whole buffer (16 KB of cache lines per ~100 small
        // answers, for the kernel's copy and the parse), where HAProxy reads every answer
        // into the first bytes of a buffer. Free when the buffer is empty (no copy).
        let _ = self.bufs.sbuf.try_reclaim(self.fe.bufsize);
        loop {
            match self.read_response_head(&mut *server, srv_timeout, be).await {
                Ok(n) => {
                    self.bufs.sbuf.advance(n);
                }
                Err(e)
                    if kept.is_some()
                        && *body_sent == Sent::Done
                        && super::super::retry_on::on_error(x, &e) =>
                {
                    be.observe(assigned.server(), super::super::retry_on::event_of(&e));
                    return Err(self.l7_retry(x, rec, assigned, kept.take()));
                }
                Err(ResError::Timeout) => {
                    be.observe(assigned.server(), ServerEvent::HttpReadTimeout);
                    return Err(self
                        .failed(504, rec, Termination::SERVER_TIMEOUT_HEADERS, be)
                        .await);
                }
                Err(ResError::Closed)
                    if reused && *body_sent == Sent::Done && framing == Framing::None =>
                {
                    return Err(Step::Replay);
                }
                Err(ResError::Closed)
                    if *body_sent == Sent::Done
                        && framing == Framing::None
                        && idempotent(self.bufs.req.method()) =>
                {
                    // The server closed without a byte of answer (killed while the request
                    // waited in its accept queue, or while serving it): an idempotent request
                    // without body may be repeated, on another server.
                    be.observe(assigned.server(), ServerEvent::HttpBrokenPipe);
                    return Err(Step::Elsewhere);
                }
                Err(e) => {
                    be.observe(assigned.server(), super::super::retry_on::event_of(&e));
                    // An answer that does not parse is the proxy's refusal (`PH`, as
                    // haproxy); one cut short is the server's abort (`SH`).
                    let term = if matches!(e, ResError::Invalid) {
                        Termination::PROXY_HEADERS
                    } else {
                        Termination::SERVER_HEADERS
                    };
                    return Err(self.failed(502, rec, term, be).await);
                }
            }
            let st = self.bufs.res.status;
            if (100..200).contains(&st) && st != 101 {
                // Interim response: relayed through the client's codec (an HTTP/2 client
                // gets an informational HEADERS frame), then the body goes if it waited.
                if !self.relay_interim().await {
                    return Err(Step::Done(Next::Close));
                }
                if st == 100 && *body_sent == Sent::Pending {
                    if self.send_body(x, rec, &mut *server).await.is_err() {
                        return Err(Step::Done(Next::Close));
                    }
                    *body_sent = Sent::Done;
                }
                continue;
            }
            break;
        }
        Ok(())
    }
}
