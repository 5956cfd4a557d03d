//! Phase "response rules", shared by both server exchanges (an HTTP/1 server's in
//! `exchange.rs`, an HTTP/2 server's in `exchange_h2.rs`): the backend's `tcp-response
//! content` rules (`tcp_response`), the backend's then the frontend's `http-response` rules (a rule may answer instead of the server), `option checkcache`, the
//! persistence cookie's response part; then which encoder the answer gets (`compression`).
//!
//! An `http-response wait-for-body` rule whose condition holds pauses the rules there
//! ([`RulesAt`]): the exchange reads the body (`response_wait`) and resumes them after it,
//! as HAProxy's chain waits where the rule stands (once: a body already waited for is not
//! waited for again).

use super::exchange::{Exchange, Step};
use super::local::AfterError;
use super::{Next, Rec, Session};
use crate::http::body::Framing;
use crate::http::compress;
use crate::http::response::Close;
use crate::http::rules::{self, Verdict};
use crate::stream::ClientStream;
use crate::termination::Termination;

/// Where paused response rules resume: the rule set (0 the backend's, 1 the frontend's), the
/// rule in it, and what the `tcp-response content` rules decided before.
#[derive(Debug, Clone, Copy)]
pub(super) struct RulesAt {
    set: usize,
    rule: usize,
    close_server: bool,
}

/// The rules paused at a `wait-for-body`: where to resume, and the wait.
pub(super) type Paused = (RulesAt, fulcrum_config::model::WaitForBody);

impl<C: ClientStream> Session<C> {
    /// [`Session::response_rules`] for an answer whose body is not waited for (an HTTP/2
    /// server's: README): a pause resumes at once.
    pub(super) async fn response_rules_unwaited(
        &mut self,
        x: &Exchange<'_>,
        rec: &mut Rec,
        server: usize,
    ) -> Result<(), Step> {
        let mut at = None;
        while let Some((next, _)) = self.response_rules(x, rec, server, at).await? {
            at = Some(next);
        }
        Ok(())
    }

    /// Applies the response rules to `self.bufs.res` from the start (`at` None) or where they
    /// paused; `Ok(Some(..))` when a `wait-for-body` rule pauses them, `Err` when the proxy
    /// answered (the step the exchange returns). `server`: the index of the server that
    /// answered.
    pub(super) async fn response_rules(
        &mut self,
        x: &Exchange<'_>,
        rec: &mut Rec,
        server: usize,
        at: Option<RulesAt>,
    ) -> Result<Option<Paused>, Step> {
        let fe = self.fe.clone();
        let be = x.be;
        let at = match at {
            Some(at) => at,
            None => {
                if let Some(p) = x.env.place {
                    p.at_server(server);
                    p.at_source(rec.source);
                    p.at_server_tls(rec.bc_tls.as_ref());
                }
                if let Some(f) = x.env.facts {
                    f.response(crate::http::sample_env::ResponseFacts {
                        request: rec.tr,
                        queue: rec.tw,
                        connect: rec.tc,
                        response: rec.trs,
                        retries: rec.retries,
                        cookie: rec.cookie[0],
                        source: rec.source,
                        queue_pos: rec.queue_pos,
                    });
                }
                // `tcp-response content` rules first, as HAProxy (`tcp_response`); boxed:
                // most configurations have none, and their future is not in this one.
                let close_server = !self.fe.backend_tcp_response.is_empty()
                    && Box::pin(self.tcp_response_rules(x, rec)).await?;
                RulesAt {
                    set: 0,
                    rule: 0,
                    close_server,
                }
            }
        };
        let close_server = at.close_server;
        let sets = [&be.policy.http_response, &fe.http_response];
        for (set, rules_set) in sets.into_iter().enumerate().skip(at.set) {
            let start = if set == at.set { at.rule } else { 0 };
            let verdict = rules::apply(
                rules_set.get(start..).unwrap_or_default(),
                x.env,
                &mut self.bufs.req,
                Some(&mut self.bufs.res),
                &mut self.bufs.scratch,
            );
            // `set-mark`/`set-tos` of `http-response` rules (`sockopt`)
            x.env.moved.sock.apply(&self.client);
            match verdict {
                // `use-service` is only valid in `http-request` (the parser rejects it here).
                Verdict::Continue | Verdict::Allow | Verdict::Service(_) | Verdict::Tarpit(..) => {}
                Verdict::WaitBody(next, w) => {
                    let at = RulesAt {
                        set,
                        rule: start + next,
                        close_server,
                    };
                    return Ok(Some((at, w)));
                }
                Verdict::Drop { silent } => {
                    // HAProxy 2.6 logs the server's status, the answer's internal size and
                    // `PR` (measured).
                    let next = self
                        .drop_client(silent, rec, Termination::PROXY_REQUEST)
                        .await;
                    rec.status = self.bufs.res.status;
                    rec.log_adjust = (crate::payload::htx_response(&self.bufs.res)
                        + self.bufs.sbuf.len()) as i64;
                    return Err(Step::Done(next));
                }
                Verdict::Error(s) => return Err(self.refuse(s, rec, be).await),
                Verdict::Deny(resp) => {
                    // HAProxy logs a refused answer `PH`, whatever the page.
                    rec.term = Termination::PROXY_HEADERS;
                    rec.status = resp.status();
                    self.count_status(rec);
                    let part = self.answer_part();
                    // as the error page of a plain `deny` (`refuse`): the connection closes
                    let close = match rec.client_asked {
                        Next::KeepAlive if resp.delimited() => Close::Silent,
                        _ => Close::Announce,
                    };
                    let (Ok(s) | Err(s)) = self.send_answer(&resp, close, part, Some(be)).await;
                    rec.bytes = s.wire;
                    rec.status = s.status;
                    // haproxy 2.6 counts the refused answer's internal size too (measured)
                    rec.log_adjust = s.log_adjust()
                        + (crate::payload::htx_response(&self.bufs.res) + self.bufs.sbuf.len())
                            as i64;
                    let _ = tokio::io::AsyncWriteExt::shutdown(&mut self.client).await;
                    return Err(Step::Done(Next::Close));
                }
                Verdict::Respond(resp) => {
                    rec.status = resp.status();
                    self.count_status(rec);
                    let part = self.answer_part();
                    let (Ok(s) | Err(s)) =
                        self.send_answer(&resp, Close::Silent, part, Some(be)).await;
                    rec.bytes = s.wire;
                    rec.status = s.status;
                    rec.log_adjust = s.log_adjust();
                    return Err(Step::Done(Next::Close));
                }
            }
        }
        // `option checkcache`: a cacheable answer setting a cookie is refused (`http::checkcache`)
        if be.options.keywords.checkcache
            && crate::http::checkcache::blocks(self.bufs.req.method(), &self.bufs.res)
        {
            let status = self.bufs.res.status;
            return Err(self.refuse(status, rec, be).await);
        }
        if let Some(c) = x.cookie {
            // SF_DIRECT: the cookie's server answered (false after a redispatch).
            let direct = c.server == Some(server);
            rec.cookie[1] = crate::http::persist::on_response(
                be,
                c,
                self.bufs.req.method(),
                server,
                direct,
                &mut self.bufs.res,
            );
            if c.server.is_some() && !direct {
                // HAProxy: the cookie's server failed and the request was redispatched (TX_CK_DOWN).
                rec.cookie[0] = b'D';
            }
        }
        // `cache-store`: the head as the rules left it is the one stored
        x.env.cache.final_head(&self.bufs.res);
        // `http-after-response`: the backend's rules, then the frontend's (`after_response`);
        // the status they set is the one logged.
        self.after_response(x.env, Some(be));
        rec.status = self.bufs.res.status;
        if close_server {
            // `tcp-response content close`: the server connection ends with this answer.
            self.bufs.res.append(b"connection", b"close");
        }
        Ok(None)
    }

    /// The server's answer refused by the proxy (a rule's `deny`, `option checkcache`):
    /// the error page of `status` instead, the connection closed (`PH` in the log).
    async fn refuse(&mut self, status: u16, rec: &mut Rec, be: &crate::backend::Backend) -> Step {
        let next = self
            .send_error(
                status,
                rec,
                Termination::PROXY_HEADERS,
                &be.policy.errors,
                AfterError::Close,
            )
            .await;
        Step::Done(next)
    }

    /// The encoder of this answer when `compression` applies to it (request and answer both
    /// allow it), else `None`.
    pub(super) fn response_encoder(
        &mut self,
        x: &Exchange<'_>,
        res_framing: Framing,
    ) -> Option<Box<compress::Encoder>> {
        let (be, fe) = (&x.be.options, &self.fe.options);
        x.comp
            .filter(|&a| {
                compress::on_response(
                    a,
                    be.compression.as_ref(),
                    fe.compression.as_ref(),
                    &self.bufs.req,
                    &mut self.bufs.res,
                    res_framing,
                )
            })
            .map(|a| {
                let level = compress::level(be.compression.as_ref(), fe.compression.as_ref());
                Box::new(compress::Encoder::new(a, level))
            })
    }
}
