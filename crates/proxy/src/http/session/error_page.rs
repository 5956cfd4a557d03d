//! Which error page an answer of the proxy's gets: the backend's own (an `http-error` with
//! log-format parts rendered now, else its built page), then the frontend's, then the
//! built-in one (HAProxy 2.6's order). A rendered page reads the exchange as the rules do
//! (addresses, the request when there is one, variables and counters).

use super::Session;
use crate::backend::Backend;
use crate::http::errors::{ErrorPages, Page};
use crate::http::rules::reply::Reply;
use crate::http::sample_env::Situation;
use crate::stream::ClientStream;

impl<C: ClientStream> Session<C> {
    /// The page for `status` from `pages` (the backend's or the frontend's) and the
    /// frontend's, for a request that was read; `be`: the request's backend. (A head that
    /// does not parse gets the built-in page, as from haproxy's mux.)
    pub(super) fn error_page(&self, status: u16, pages: &ErrorPages, be: Option<&Backend>) -> Page {
        let fe = &self.fe;
        let render = |r: &Reply| {
            let counters = fe.counters(self.track.as_deref(), fe.own_table.as_ref());
            let seen = Situation::new(self.peer, self.local).with_counters(counters);
            Some(r.answer(&seen.view(Some(&self.bufs.req), None)))
        };
        let be = be.filter(|b| std::ptr::eq(&b.policy.errors, pages));
        if let Some(b) = be {
            if let Some(r) = b.policy.rendered_errors.get(status) {
                return render(r);
            }
            if pages.has(status) {
                return pages.get(status);
            }
        }
        if be.is_some() || std::ptr::eq(pages, &fe.errors) {
            if let Some(r) = fe.rendered_errors.get(status) {
                return render(r);
            }
        }
        pages.get_or(status, &fe.errors)
    }
}
