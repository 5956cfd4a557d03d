//! Answers the proxy makes itself in an HTTP session: an applet (a `stats uri`, a
//! `use-service`), a rule's deny/return/redirect, an error page; and whether the client
//! connection stays open after them.

use super::{Next, Rec, Session};
use crate::acl::Ctx;
use crate::applet::{self, Applet, AppletRequest};
use crate::http::body::{self, Framing};
use crate::http::errors;
use crate::http::headers;
use crate::http::rules::Verdict;
use crate::stream::ClientStream;
use crate::termination::Termination;
use tokio::io::AsyncWriteExt;

/// Why an applet answers: HAProxy logs the stats page as a local answer (`L`), a service
/// chosen by a rule as the proxy's (`P`), and counts only the former as intercepted.
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
    fn of(framing: Option<Framing>) -> Drained {
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
        let framing = body::request_framing(&mut self.req).ok();
        let mut drained = Drained::of(framing);
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
                    Ok(0) | Err(_) => return Next::Close,
                    Ok(_) => {}
                }
            }
            form = self.cbuf.split_to(n).to_vec();
            rec.bytes_in += n as u64;
            drained = Drained::Yes;
        }
        let ctx = Ctx::new(self.peer, self.local, Some(&self.req), None)
            .with_tls(self.client.tls().map(|t| &**t));
        let ans = applet.answer(&AppletRequest {
            method: self.req.method(),
            uri: self.req.uri(),
            head: &self.req,
            body: &form,
            ctx: &ctx,
        });
        rec.status = ans.status;
        rec.term = match how {
            Invocation::StatsUri => {
                self.fe.counters.inc(crate::counters::Ctr::Intercepted);
                rec.applet = Some("<STATS>");
                Termination::LOCAL
            }
            Invocation::UseService => Termination::PROXY_REQUEST,
        };
        self.count_status(rec);
        self.send_local(rec, ans.bytes, drained).await
    }

    /// Sends an answer the proxy made itself (stats page, deny, return, redirect); the
    /// connection stays open when the request had no unread body (`drained`) and the client
    /// wants keep-alive.
    pub(super) async fn send_local(
        &mut self,
        rec: &mut Rec,
        mut bytes: Vec<u8>,
        drained: Drained,
    ) -> Next {
        let keep = drained == Drained::Yes
            && headers::client_wants_keep_alive(&self.req)
            && !self.stopping();
        let htx = crate::http::log_bytes::raw(&bytes);
        if !keep {
            insert_close(&mut bytes);
        }
        rec.bytes = bytes.len() as u64;
        rec.log_adjust = htx.map_or(0, |h| h as i64 - rec.bytes as i64);
        if body::write_all(&mut self.client, &bytes, self.fe.timeouts.client)
            .await
            .is_err()
        {
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
        let mut page = fe.errors.get(status).into_owned();
        if self.req.is_head() {
            if let Some(p) = page.windows(4).position(|w| w == b"\r\n\r\n") {
                page.truncate(p + 4);
            }
        }
        rec.status = status;
        rec.term = Termination::LOCAL;
        rec.nolog = true;
        self.count_status(rec);
        let drained = Drained::of(body::request_framing(&mut self.req).ok());
        self.send_local(rec, page, drained).await
    }

    /// Sends a deny/return/redirect answer; `None` when the rules let the request through.
    pub(super) async fn respond_verdict(
        &mut self,
        v: Verdict,
        rec: &mut Rec,
        pages: &errors::ErrorPages,
    ) -> Option<Next> {
        match v {
            Verdict::Continue => None,
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
            Verdict::Tarpit(s, hold) => {
                // HAProxy holds the request `timeout tarpit` (else `timeout connect`) of the
                // rule's proxy, then answers the error (`PT` in the log); the connection stays
                // usable.
                tokio::time::sleep(hold).await;
                Some(
                    self.send_error(
                        s,
                        rec,
                        Termination::new(
                            crate::termination::Cause::Proxy,
                            crate::termination::Phase::Tarpit,
                        ),
                        pages,
                        AfterError::KeepIfClean,
                    )
                    .await,
                )
            }
            Verdict::Respond(bytes) => {
                // `return` and `redirect` are local answers (HAProxy's `LR`), a `deny` the
                // proxy's (`PR`).
                rec.status = status_of(&bytes);
                rec.term = Termination::LOCAL;
                self.count_status(rec);
                // The request body, if any, was not read: the connection cannot be reused then.
                let drained = Drained::of(body::request_framing(&mut self.req).ok());
                Some(self.send_local(rec, bytes, drained).await)
            }
        }
    }

    /// Sends the proxy's page for `status`; `AfterError::Close` closes the connection (as
    /// HAProxy does after server-side failures).
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
        let fe = self.fe.clone();
        let page = pages.get_or(status, &fe.errors);
        rec.bytes = page.len() as u64;
        rec.log_adjust =
            crate::http::log_bytes::raw(&page).map_or(0, |h| h as i64 - rec.bytes as i64);
        let drained = Drained::of(body::request_framing(&mut self.req).ok());
        let keep = after == AfterError::KeepIfClean
            && drained == Drained::Yes
            && headers::client_wants_keep_alive(&self.req)
            && !self.stopping();
        let ok = body::write_all(&mut self.client, &page, self.fe.timeouts.client)
            .await
            .is_ok();
        if !keep || !ok {
            let _ = self.client.shutdown().await;
            return Next::Close;
        }
        Next::KeepAlive
    }
}

pub(super) fn status_of(resp: &[u8]) -> u16 {
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
