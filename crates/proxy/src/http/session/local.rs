//! Answers the proxy makes itself in an HTTP session: an applet (a `stats uri`, a
//! `use-service`), a rule's deny/return/redirect, an error page; and whether the client
//! connection stays open after them. Each is a neutral response (`http::response`) the
//! client's codec encodes (`respond.rs`).

use super::{Next, Rec, Session};
use crate::applet::{self, Applet, AppletRequest};
use crate::http::body::{self, Framing};
use crate::http::errors;
use crate::http::response::{Close, Part, Response};
use crate::http::rules::Verdict;
use crate::stream::ClientStream;
use crate::termination::Termination;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Why an applet answers: a proxy's `stats uri` (counted as intercepted, as HAProxy) or a
/// `use-service` rule.
#[derive(Clone, Copy)]
pub(super) enum Invocation {
    StatsUri,
    UseService,
}

/// Whether the request's body has been read off the client connection (a connection with an
/// unread body cannot serve another request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Drained {
    Yes,
    No,
}

impl Drained {
    pub(super) fn of(framing: Option<Framing>) -> Drained {
        if matches!(framing, Some(Framing::None)) {
            Drained::Yes
        } else {
            Drained::No
        }
    }
}

/// What happens to the client connection after an error page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterError {
    /// Closed (HAProxy closes after server-side failures).
    Close,
    /// Kept open when the request had no unread body and the client wants keep-alive.
    KeepIfClean,
}

impl<C: ClientStream> Session<C> {
    /// Phase: an applet answers (a proxy's `stats uri`, or `use-service`). A body the applet
    /// wants (a form, [`applet::MAX_BODY`] at most) is read first.
    pub(super) async fn applet(
        &mut self,
        applet: &dyn Applet,
        how: Invocation,
        rec: &mut Rec,
    ) -> Next {
        let framing = body::request_framing(&mut self.bufs.req).ok();
        let mut drained = Drained::of(framing);
        let mut form = Vec::new();
        if let Some(Framing::Length(n)) = framing
            .filter(|f| matches!(f, Framing::Length(n) if *n <= applet::MAX_BODY))
            .filter(|_| applet.wants_body())
        {
            let n = n as usize;
            while self.bufs.cbuf.len() < n {
                match body::read_some(
                    &mut self.client,
                    &mut self.bufs.cbuf,
                    self.fe.bufsize,
                    self.fe.timeouts.client,
                )
                .await
                {
                    Ok(0) | Err(_) => return Next::Close,
                    Ok(_) => {}
                }
            }
            form = self.bufs.cbuf.split_to(n).to_vec();
            rec.bytes_in += n as u64;
            drained = Drained::Yes;
        }
        let seen = crate::http::sample_env::Situation::new(self.peer, self.local)
            .with_tls(self.client.tls().map(|t| &**t));
        let ctx = seen.view(Some(&self.bufs.req), None);
        let ans = applet.answer(&AppletRequest {
            method: self.bufs.req.method(),
            uri: self.bufs.req.uri(),
            head: &self.bufs.req,
            body: &form,
            ctx: &ctx,
        });
        rec.status = ans.status();
        // HAProxy logs an applet's answer as a local one (`LR`), by the applet's name in the
        // server field (`<STATS>`, `<PROMEX>`), its timers 0; only the stats page counts
        // as intercepted.
        rec.term = Termination::LOCAL;
        rec.applet = Some(applet.log_name());
        (rec.tw, rec.tc, rec.trs) = (
            Some(Duration::ZERO),
            Some(Duration::ZERO),
            Some(Duration::ZERO),
        );
        if let Invocation::StatsUri = how {
            self.fe.counters.inc(crate::counters::Ctr::Intercepted);
        }
        self.count_status(rec);
        self.send_local(rec, Some(&ans), drained).await
    }

    /// Sends an answer the proxy made itself (stats page, deny, return, redirect, a cache
    /// hit), through the client's codec; the connection stays open when the request had no
    /// unread body (`drained`) and the client wants keep-alive. `None`: nothing is sent (an
    /// empty `errorfile`) and the connection closes.
    pub(super) async fn send_local(
        &mut self,
        rec: &mut Rec,
        resp: Option<&Response>,
        drained: Drained,
    ) -> Next {
        let Some(resp) = resp else {
            rec.bytes = 0;
            let _ = self.client.shutdown().await;
            return Next::Close;
        };
        let keep = drained == Drained::Yes
            && rec.client_asked == Next::KeepAlive
            && !self.stopping()
            && resp.delimited();
        let close = if keep { Close::Silent } else { Close::Announce };
        let part = self.answer_part();
        let be = rec.backend.clone();
        let sent = self.send_answer(resp, close, part, be.as_deref()).await;
        let (Ok(s) | Err(s)) = sent;
        rec.bytes = s.wire;
        rec.status = s.status;
        rec.log_adjust = s.log_adjust();
        if sent.is_err() {
            return Next::Close;
        }
        if !keep {
            let _ = self.client.shutdown().await;
        }
        Next::keep_if(keep)
    }

    /// `monitor-uri`: the proxy's page for `status` (200, or 503 on `monitor fail`), its
    /// head only for HEAD; counted as intercepted, not logged; the connection stays open.
    pub(super) async fn monitor_answer(&mut self, status: u16, rec: &mut Rec) -> Next {
        let fe = self.fe.clone();
        fe.counters.inc(crate::counters::Ctr::Intercepted);
        let page = fe.errors.get(status);
        rec.status = status;
        rec.term = Termination::LOCAL;
        rec.nolog = true;
        self.count_status(rec);
        let drained = Drained::of(body::request_framing(&mut self.bufs.req).ok());
        self.send_local(rec, page.as_deref(), drained).await
    }

    /// Sends a deny/return/redirect answer; `None` when the rules let the request through.
    pub(super) async fn respond_verdict(
        &mut self,
        v: Verdict,
        rec: &mut Rec,
        pages: &errors::ErrorPages,
    ) -> Option<Next> {
        match v {
            Verdict::Continue | Verdict::Allow | Verdict::WaitBody(..) => None,
            Verdict::Service(a) => Some(self.applet(a.as_ref(), Invocation::UseService, rec).await),
            Verdict::Error(s) => Some(
                self.send_error(
                    s,
                    rec,
                    Termination::PROXY_REQUEST,
                    pages,
                    AfterError::KeepIfClean,
                )
                .await,
            ),
            Verdict::Drop { silent } => Some(
                self.drop_client(silent, rec, Termination::PROXY_REQUEST)
                    .await,
            ),
            Verdict::Tarpit(s, hold, page) => {
                // HAProxy holds the request `timeout tarpit` (else `timeout connect`) of the
                // rule's proxy, then answers the error (`PT` in the log); the connection stays
                // usable. HAProxy 2.6 logs the hold as `Tw` and no `TR` (measured).
                let held = std::time::Instant::now();
                tokio::time::sleep(hold).await;
                rec.tr = None;
                rec.tw = Some(held.elapsed());
                let term = Termination::new(
                    crate::termination::Cause::Proxy,
                    crate::termination::Phase::Tarpit,
                );
                Some(match page {
                    Some(p) => self.send_refusal(&p, rec, term).await,
                    None => {
                        self.send_error(s, rec, term, pages, AfterError::KeepIfClean)
                            .await
                    }
                })
            }
            Verdict::Deny(resp) => Some(
                self.send_refusal(&resp, rec, Termination::PROXY_REQUEST)
                    .await,
            ),
            Verdict::Respond(resp) => {
                // `return` and `redirect` are local answers (HAProxy's `LR`), a `deny` the
                // proxy's (`PR`).
                rec.status = resp.status();
                rec.term = Termination::LOCAL;
                self.count_status(rec);
                // The request body, if any, was not read: the connection cannot be reused then.
                let drained = Drained::of(body::request_framing(&mut self.bufs.req).ok());
                Some(self.send_local(rec, Some(&resp), drained).await)
            }
        }
    }

    /// A rule's own refusal (`deny`/`tarpit` with response options): sent as a local answer,
    /// logged as the proxy's (`term`).
    async fn send_refusal(&mut self, resp: &Response, rec: &mut Rec, term: Termination) -> Next {
        rec.status = resp.status();
        rec.term = term;
        self.count_status(rec);
        let drained = Drained::of(body::request_framing(&mut self.bufs.req).ok());
        self.send_local(rec, Some(resp), drained).await
    }

    /// `reject` / `silent-drop`: the client's connection closes without an answer (logged
    /// with no status, as HAProxy); a silent drop first makes the close unseen by the client
    /// (`tcp_rules::silence`).
    pub(super) async fn drop_client(
        &mut self,
        silent: bool,
        rec: &mut Rec,
        term: Termination,
    ) -> Next {
        rec.status = 0;
        rec.bytes = 0;
        rec.term = term;
        let v = if silent {
            crate::tcp_rules::Verdict::SilentDrop
        } else {
            crate::tcp_rules::Verdict::Reject
        };
        crate::tcp_rules::ends(v, &self.client);
        if !silent {
            let _ = self.client.shutdown().await;
        }
        Next::Close
    }

    /// Sends the proxy's page for `status`; `AfterError::Close` closes the connection (as
    /// HAProxy does after server-side failures). A client that asked to close is told
    /// `connection: close` (as HAProxy's HTTP/1 codec does).
    pub(super) async fn send_error(
        &mut self,
        status: u16,
        rec: &mut Rec,
        term: Termination,
        pages: &errors::ErrorPages,
        after: AfterError,
    ) -> Next {
        rec.status = status;
        rec.term = term;
        self.count_status(rec);
        let page = self.error_page(status, pages, rec.backend.as_deref());
        let drained = Drained::of(body::request_framing(&mut self.bufs.req).ok());
        let keep = after == AfterError::KeepIfClean
            && page.as_deref().is_none_or(Response::delimited)
            && drained == Drained::Yes
            && rec.client_asked == Next::KeepAlive
            && !self.stopping();
        let ok = match page.as_deref() {
            Some(p) => {
                let close = match rec.client_asked {
                    Next::KeepAlive if p.delimited() => Close::Silent,
                    _ => Close::Announce,
                };
                let part = self.answer_part();
                let be = rec.backend.clone();
                let sent = self.send_answer(p, close, part, be.as_deref()).await;
                let (Ok(s) | Err(s)) = sent;
                rec.bytes = s.wire;
                rec.status = s.status;
                rec.log_adjust = s.log_adjust();
                sent.is_ok()
            }
            None => false,
        };
        if !keep || !ok {
            let _ = self.client.shutdown().await;
            return Next::Close;
        }
        Next::KeepAlive
    }

    /// Sends a page when no request could be read (400, 408, 505): as it is, whole, then
    /// the connection closes.
    pub(super) async fn answer_page(&mut self, page: Option<&Response>) {
        if let Some(p) = page {
            let _ = self.send_answer(p, Close::Silent, Part::Whole, None).await;
        }
        let _ = self.client.shutdown().await;
    }
}
