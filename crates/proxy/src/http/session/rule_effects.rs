//! A request's `http-request` rule chains (the frontend's, the backend's) and what they left
//! for the connection, done right after them (before the answer a rule may have chosen):
//! moved addresses, cache counts, `set-mark`/`set-tos` on the client's socket (`sockopt`),
//! the `103 Early Hints` of `early-hint` rules (`rules::knobs`), written as interim answers
//! (HTTP/1 bytes, or an informational HEADERS frame on HTTP/2).

use super::{Rec, Session};
use crate::counters::Counters;
use crate::http::body;
use crate::http::response::{Close, Part, Response};
use crate::http::rules::{self, Env, Rule, Verdict};
use crate::stream::ClientStream;

impl<C: ClientStream> Session<C> {
    /// Phase: an `http-request` rule chain (the frontend's, then the backend's) and what it
    /// leaves for the connection: `set-src`/`set-dst` move its addresses (`http::set_addr`),
    /// the cache lookups are counted (in `counters`, the frontend's or the backend's), the
    /// socket options applied ([`Session::rule_effects`]). Its verdict, and the early hints
    /// to send before it is acted on. (Inline: out of line it cost ~60 instructions a
    /// request more than the two blocks it replaced, measured.)
    #[inline]
    pub(super) fn http_request_rules(
        &mut self,
        chain: &[Rule],
        env: &Env<'_>,
        counters: &Counters,
        rec: &mut Rec,
    ) -> (Verdict, Vec<Response>) {
        let verdict = rules::apply(chain, env, &mut self.bufs.req, None, &mut self.bufs.scratch);
        if let Some((s, d)) = env.moved.result() {
            (self.peer, self.local) = (s, d);
        }
        crate::http::cache_flow::count(&env.cache, counters);
        (verdict, self.rule_effects(env, rec))
    }

    /// Applies the socket options the rules just left; the early hints to send
    /// ([`Session::send_hints`], when there are any: most requests have none, and wait for
    /// no future then).
    pub(super) fn rule_effects(&mut self, env: &Env<'_>, rec: &mut Rec) -> Vec<Response> {
        env.moved.sock.apply(&self.client);
        rec.priority = env.knobs.priority();
        env.knobs.take_hints()
    }

    /// Sends early hints (counted in the log line's `%B`, as HAProxy counts them).
    pub(super) async fn send_hints(&mut self, hints: Vec<Response>, rec: &mut Rec) {
        for hint in hints {
            rec.interim += crate::http::log_bytes::head(&hint.head);
            if let Some(edge) = super::h2_edge(&mut self.client) {
                let _ = edge.send_interim(&hint.head);
                continue;
            }
            self.bufs.scratch.clear();
            hint.write_h1(Close::Silent, Part::Whole, &mut self.bufs.scratch);
            let _ = body::write_all(
                &mut self.client,
                &self.bufs.scratch,
                self.fe.timeouts.client,
            )
            .await;
        }
    }
}
