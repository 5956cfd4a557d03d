//! `option http-buffer-request` and a frontend's `http-request wait-for-body time T
//! [at-least N]` (leading: before the rules; elsewhere or with a condition: where the chain
//! pauses, `state::BodyWait`, the rules after it then run): wait (within `timeout http-request`,
//! else `timeout client`; within T for the rule) until the whole request body, or N bytes
//! of it, or as much as fills the buffer (`tune.bufsize`), is here, so the `req.body*`
//! fetches see it. As HAProxy,
//! a client that sent `Expect: 100-continue` gets the `100 Continue` from the proxy (the
//! header is removed), and one that is too slow gets a 408.

use super::Session;
use crate::http::body;
use crate::http::body_param;
use crate::stream::ClientStream;

/// Why the body could not be waited for.
pub(super) enum BodyWait {
    Timeout,
    Closed,
}

impl<C: ClientStream> Session<C> {
    /// The body as the `req.body` fetch sees it (de-chunked), once all of it or a bufferful
    /// is in `cbuf` (which keeps the raw bytes for forwarding).
    pub(super) async fn buffer_body(
        &mut self,
        rule: Option<&fulcrum_config::model::WaitForBody>,
    ) -> Result<Vec<u8>, BodyWait> {
        let chunked = self
            .bufs
            .req
            .headers(b"transfer-encoding")
            .any(|v| v.to_ascii_lowercase().ends_with(b"chunked"));
        let length = if chunked {
            None
        } else {
            match self.bufs.req.header(b"content-length").map(|v| {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
            }) {
                Some(Some(n)) => Some(n),
                // Without a body, or with a length the framing phase refuses later.
                _ => return Ok(Vec::new()),
            }
        };
        let cap = self.fe.bufsize.max(1024);
        let at_least = rule.map_or(0, |w| w.at_least);
        let complete = |b: &[u8]| match length {
            _ if at_least > 0 && b.len() as u64 >= at_least => true,
            Some(n) => b.len() as u64 >= n,
            None => b.starts_with(b"0\r\n") || b.windows(5).any(|w| w == b"\n0\r\n\r"),
        };
        if !complete(&self.bufs.cbuf) && self.bufs.req.has_token(b"expect", b"100-continue") {
            self.bufs.req.remove(b"expect");
            self.send_continue().await;
        }
        let timeout = match rule {
            Some(w) => Some(w.time),
            None => self.fe.timeouts.http_request.or(self.fe.timeouts.client),
        };
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        while !complete(&self.bufs.cbuf) && self.bufs.cbuf.len() < cap {
            let left = deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
            if left == Some(std::time::Duration::ZERO) {
                return Err(BodyWait::Timeout);
            }
            let want = cap - self.bufs.cbuf.len();
            match body::read_some(&mut self.client, &mut self.bufs.cbuf, want, left).await {
                Ok(0) => return Err(BodyWait::Closed),
                Ok(_) => {}
                Err(body::BodyError::SrcTimeout) => return Err(BodyWait::Timeout),
                Err(_) => return Err(BodyWait::Closed),
            }
        }
        Ok(match length {
            Some(n) => self.bufs.cbuf[..(n.min(self.bufs.cbuf.len() as u64) as usize)].to_vec(),
            None => body_param::dechunk(&self.bufs.cbuf),
        })
    }
}

impl<C: ClientStream> Session<C> {
    /// A body that did not come: 408 on a timeout (as HAProxy), a silent close otherwise.
    pub(super) async fn body_wait_failed(
        &mut self,
        w: BodyWait,
        rec: &mut super::Rec,
    ) -> super::Next {
        match w {
            BodyWait::Timeout => {
                let fe = self.fe.clone();
                self.send_error(
                    408,
                    rec,
                    crate::termination::Termination::CLIENT_TIMEOUT_REQUEST,
                    &fe.errors,
                    super::local::AfterError::Close,
                )
                .await
            }
            BodyWait::Closed => {
                rec.term = crate::termination::Termination::CLIENT_DATA;
                super::Next::Close
            }
        }
    }
}

impl<C: ClientStream> Session<C> {
    /// A frontend's `http-request wait-for-body` rules in the middle of its chain: at each,
    /// when its condition holds, wait for the body (`req.body*` see it from there on; a body
    /// already waited for is not waited for again), then run the rules up to the next wait;
    /// the answer when one ends the request.
    pub(super) async fn body_wait_phase(
        &mut self,
        waits: &[crate::http::rules::wait_body::BodyWait],
        errors: &crate::http::errors::ErrorPages,
        env: &mut crate::http::rules::Env<'_>,
        rec: &mut super::Rec,
    ) -> Option<super::Next> {
        for bw in waits {
            let go = bw
                .cond
                .as_ref()
                .is_none_or(|c| c.eval(&env.situation().view(Some(&self.bufs.req), None)));
            if go && env.body.is_none() {
                match self.buffer_body(Some(&bw.wait)).await {
                    Ok(b) => env.body = Some(b),
                    Err(w) => return Some(self.body_wait_failed(w, rec).await),
                }
            }
            let verdict = crate::http::rules::apply(
                &bw.after,
                env,
                &mut self.bufs.req,
                None,
                &mut self.bufs.scratch,
            );
            if let Some((s, d)) = env.moved.result() {
                (self.peer, self.local) = (s, d);
            }
            let hints = self.rule_effects(env, rec);
            if !hints.is_empty() {
                self.send_hints(hints, rec).await;
            }
            let allowed = matches!(verdict, crate::http::rules::Verdict::Allow);
            if verdict.answers() {
                if let Some(next) = self.respond_verdict(verdict, rec, errors).await {
                    return Some(next);
                }
            }
            if allowed {
                // `allow` ends the proxy's chain, later waits and rules included.
                break;
            }
        }
        None
    }
}
