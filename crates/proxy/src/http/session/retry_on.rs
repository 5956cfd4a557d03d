//! `retry-on` after the request reached a server (HAProxy 2.6's layer-7 retries): a request
//! whose body is all in hand when it is sent (none, or a `Content-Length` body already
//! received, sent without waiting for `100 Continue`) is kept; when the server answers a
//! listed status, closes without answering (`empty-response`), answers something that is not
//! HTTP (`junk-response`) or lets `timeout server` strike (`response-timeout`), the answer is
//! dropped with its connection and the request sent again, each time counted against
//! `retries` (and as a retry in the stats, then as HAProxy's reassignment counts it:
//! `count_reassign`); `request.rs` picks the server (the same one, or another with `option
//! redispatch`). Whatever the method: HAProxy 2.6 replays a `POST` as
//! well (its manual leaves replay protection to the application). Once the retries are spent,
//! the last answer goes to the client as it is.

use super::exchange::{BodySend, Exchange, Step};
use super::response_head::ResError;
use super::{Rec, Session};
use crate::counters::Ctr;
use crate::http::body::Framing;
use crate::observe::ServerEvent;
use crate::stream::ClientStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The health event of a failed response head.
pub(super) fn event_of(e: &ResError) -> ServerEvent {
    match e {
        ResError::Invalid | ResError::Cut => ServerEvent::HttpInvalid,
        ResError::Closed => ServerEvent::HttpBrokenPipe,
        ResError::Timeout => ServerEvent::HttpReadTimeout,
    }
}

/// Whether `retry-on` asks for a retry after this failure.
pub(super) fn on_error(x: &Exchange<'_>, e: &ResError) -> bool {
    let r = &x.be.options.retry_on;
    match e {
        ResError::Closed => r.empty_response,
        ResError::Invalid | ResError::Cut => r.junk_response,
        ResError::Timeout => r.response_timeout,
    }
}

impl<C: ClientStream> Session<C> {
    /// The request's body kept for a retry (empty: no body), when `retry-on` may retry it:
    /// retries are left and the whole body is already here.
    pub(super) fn l7_kept(&self, x: &Exchange<'_>) -> Option<Vec<u8>> {
        if x.l7_left.load(Ordering::Relaxed) == 0 {
            return None;
        }
        match x.framing {
            Framing::None => Some(Vec::new()),
            Framing::Length(n) if x.body == BodySend::Now && self.bufs.cbuf.len() as u64 >= n => {
                Some(self.bufs.cbuf[..n as usize].to_vec())
            }
            _ => None,
        }
    }

    /// Takes one retry: counts it, puts the body back in front of what the client sent
    /// next, and asks `request.rs` for another attempt.
    pub(super) fn l7_retry(
        &mut self,
        x: &Exchange<'_>,
        rec: &mut Rec,
        assigned: &crate::backend::Assigned,
        kept: Option<Vec<u8>>,
    ) -> Step {
        x.l7_left.fetch_sub(1, Ordering::Relaxed);
        rec.retries.one_more();
        assigned.server().counters.inc(Ctr::Retries);
        x.be.counters.inc(Ctr::Retries);
        if let Some(body) = kept.filter(|b| !b.is_empty()) {
            rec.bytes_in = rec.bytes_in.saturating_sub(body.len() as u64);
            let rest = self.bufs.cbuf.split();
            self.bufs.cbuf.extend_from_slice(&body);
            self.bufs.cbuf.unsplit(rest);
        }
        Step::Retry
    }
}

/// After a `retry-on` retry has its new connection (`now`), before `rec.server` moves to
/// it: HAProxy 2.6 assigns the request again, and counts a redispatch on the server left when
/// `now` is another one (the stream is then marked redispatched: `+` in `%rc`), else a second
/// retry on the same server (measured with haproxy 2.6.12: `retries 3` against one server
/// answering 503 counts `wretr` 6).
pub(super) fn count_reassign(
    be: &crate::backend::Backend,
    rec: &mut Rec,
    now: &crate::backend::Assigned,
) {
    let Some(left) = rec.server.as_ref() else {
        return;
    };
    let moved = !Arc::ptr_eq(now.server(), left);
    rec.retries.redispatched |= moved;
    be.count_retry(left, moved);
}
