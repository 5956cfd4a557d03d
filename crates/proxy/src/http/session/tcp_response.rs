//! Phase "tcp-response content" of an HTTP exchange: HAProxy runs a backend's `tcp-response
//! content` rules before its `http-response` rules, in HTTP mode too. As HAProxy 2.6 they
//! first run as the server connection is set up, before any answer: a rule whose condition
//! does not read the answer decides then (`close`: the server is cut before answering, the
//! client gets a 502 logged `SH`; `reject`: the client's connection closes, logged `-1 ...
//! PD`; `accept`: no more rules); a rule reading the answer (`status`, `res.hdr()`,
//! `res.len`...) makes them wait and run again, from the first, on the parsed head and the
//! body bytes that came with it (no further waiting within `tcp-response inspect-delay`:
//! what HAProxy does there is not reproduced). Then `reject` closes the client's connection
//! without a byte of the answer (logged `PD` with the server's status; `silent-drop` as
//! `reject`, the socket silenced first, logged `PR` as haproxy 2.6), `close` lets the
//! answer through and closes the server connection after it. `set-log-level` sets the
//! request's log line level as the `http-request` action does; `set-mark`/`set-tos` set the
//! client's socket option when the rule runs, as haproxy 2.6.

use super::exchange::{Exchange, Step};
use super::local::AfterError;
use super::{Next, Rec, Session};
use crate::stream::ClientStream;
use crate::tcp_rules::{self, ResVerdict};
use crate::termination::{Cause, Phase, Termination};

impl<C: ClientStream> Session<C> {
    /// Runs the backend's `tcp-response content` rules on `self.bufs.res`: `Ok(true)` when the
    /// server connection must close after this answer, `Err` when the client's is closed.
    pub(super) async fn tcp_response_rules(
        &mut self,
        x: &Exchange<'_>,
        rec: &mut Rec,
    ) -> Result<bool, Step> {
        // Most configurations have none: no lookup by name then.
        if self.fe.backend_tcp_response.is_empty() {
            return Ok(false);
        }
        let Some(r) = self.fe.backend_tcp_response.get(&x.be.name) else {
            return Ok(false);
        };
        // Before the answer: a rule that does not read it may decide already.
        let mut seen = x.env.situation();
        seen.res_data = Some(crate::payload::Channel::http(0, false, self.fe.bufsize));
        seen.res_pending = true;
        let before = seen.view(Some(&self.bufs.req), None);
        let moved = tcp_rules::Moved::default();
        let decided = tcp_rules::decide_response(&r.rules, &before, &moved);
        self.tcp_response_level(x, rec, &moved);
        match decided {
            None => {}
            Some(ResVerdict::Accept) => return Ok(false),
            Some(ResVerdict::Close) => {
                let pages = &x.be.policy.errors;
                let next = self
                    .send_error(
                        502,
                        rec,
                        Termination::SERVER_HEADERS,
                        pages,
                        AfterError::Close,
                    )
                    .await;
                return Err(Step::Done(next));
            }
            Some(v @ (ResVerdict::Reject | ResVerdict::SilentDrop)) => {
                rec.status = 0;
                rec.term = self.dropped(v);
                rec.bytes = 0;
                return Err(Step::Done(Next::Close));
            }
        }
        let body_in = self.bufs.sbuf.len();
        let htx = crate::payload::htx_response(&self.bufs.res) + body_in;
        let mut seen = x.env.situation();
        seen.res_data = Some(crate::payload::Channel::http(htx, true, self.fe.bufsize));
        let ctx = seen.view(Some(&self.bufs.req), Some(&self.bufs.res));
        let decided = tcp_rules::decide_response(&r.rules, &ctx, &moved);
        self.tcp_response_level(x, rec, &moved);
        match decided.unwrap_or(ResVerdict::Accept) {
            ResVerdict::Accept => Ok(false),
            ResVerdict::Close => Ok(true),
            v @ (ResVerdict::Reject | ResVerdict::SilentDrop) => {
                rec.status = self.bufs.res.status;
                rec.term = self.dropped(v);
                rec.bytes = 0;
                rec.log_adjust = htx as i64;
                Err(Step::Done(Next::Close))
            }
        }
    }

    /// A `reject` (logged `PD`) or a `silent-drop` (the client's socket silenced first;
    /// logged `PR`, as HAProxy 2.6 logs every silent drop).
    fn dropped(&self, v: ResVerdict) -> Termination {
        if v == ResVerdict::SilentDrop {
            tcp_rules::ends(tcp_rules::Verdict::SilentDrop, &self.client);
            return Termination::PROXY_REQUEST;
        }
        Termination::new(Cause::Proxy, Phase::Data)
    }

    /// A `tcp-response content set-log-level` that ran: the request's log line level; a
    /// `set-mark`/`set-tos`: the client's socket (`sockopt`).
    fn tcp_response_level(&self, x: &Exchange<'_>, rec: &mut Rec, moved: &tcp_rules::Moved) {
        moved.sock.apply(&self.client);
        if let Some(l) = moved.level() {
            if let Some(cell) = x.env.log_level.as_ref() {
                cell.store(l, std::sync::atomic::Ordering::Relaxed);
            }
            if rec.log_level.is_none() {
                rec.log_level.clone_from(&x.env.log_level);
            }
        }
    }
}
