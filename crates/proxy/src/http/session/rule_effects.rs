//! What a request's rules left for the connection, done right after them (before the
//! answer a rule may have chosen): `set-mark`/`set-tos` on the client's socket
//! (`sockopt`), the `103 Early Hints` of `early-hint` rules (`rules::knobs`), written as
//! interim answers (HTTP/1 bytes, or an informational HEADERS frame on HTTP/2).

use super::{Rec, Session};
use crate::http::body;
use crate::http::response::{Close, Part, Response};
use crate::http::rules::Env;
use crate::stream::ClientStream;

impl<C: ClientStream> Session<C> {
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
            self.scratch.clear();
            hint.write_h1(Close::Silent, Part::Whole, &mut self.scratch);
            let _ = body::write_all(&mut self.client, &self.scratch, self.fe.timeouts.client).await;
        }
    }
}
