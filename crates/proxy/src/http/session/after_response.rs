//! Phase "after response": `http-after-response` rules on every final answer the client
//! gets, as HAProxy 2.6 runs them, the backend's rules (once one was chosen) then the
//! frontend's: on a server's answer after its `http-response` rules, and on the proxy's own
//! answers (errors, `return`, redirects, `auth`, a 503 without servers). Not on cache hits
//! nor on the stats page (their own writers).

use super::Session;
use crate::backend::Backend;
use crate::http::response::Response;
use crate::http::rules::{self, Env};
use crate::stream::ClientStream;

impl<C: ClientStream> Session<C> {
    /// Applies the `http-after-response` rules of `be` (when given) and of the frontend to
    /// the server's answer in `self.bufs.res`.
    pub(super) fn after_response(&mut self, env: &Env<'_>, be: Option<&Backend>) {
        let none = |b: Option<&Backend>| b.is_none_or(|b| b.policy.http_after_response.is_empty());
        if self.fe.http_after_response.is_empty() && none(be) {
            return;
        }
        let fe = self.fe.clone();
        let sets = be
            .map(|b| &b.policy.http_after_response)
            .into_iter()
            .chain([&fe.http_after_response]);
        for set in sets.filter(|s| !s.is_empty()) {
            // Only header, status and variable actions are allowed here: nothing answers.
            let _ = rules::apply(
                set,
                env,
                &mut self.bufs.req,
                Some(&mut self.bufs.res),
                &mut self.bufs.scratch,
            );
        }
    }

    /// The proxy's own answer `resp` as the `http-after-response` rules of `be` (the chosen
    /// backend, if any) and of the frontend make it (`None`: there are none, send `resp`).
    pub(super) fn after_local_answer(
        &mut self,
        resp: &Response,
        be: Option<&Backend>,
    ) -> Option<Response> {
        let routed = be;
        let be = be.filter(|b| !b.policy.http_after_response.is_empty());
        // Interim answers (`100 Continue`) are not final: no rules.
        if (self.fe.http_after_response.is_empty() && be.is_none()) || resp.status() < 200 {
            return None;
        }
        let fe = self.fe.clone();
        let mut out = resp.clone();
        let place = crate::place::Place {
            // the backend the request was routed to (`%b`, `be_name`), whether or not it has
            // rules of its own
            be: routed,
            conn: self.track.as_deref().and_then(|t| t.conn()),
            ..crate::place::Place::at(&fe)
        };
        // The request's log facts (`%t %b %s`...), when a rule value reads them.
        let tls = self.client.tls().cloned();
        let facts = self.clock.as_deref().map(|c| {
            crate::rule_facts::RuleFacts::new(
                fe.mode,
                &fe.name,
                &fe.conns,
                fe.log.as_ref(),
                c.accept,
                c.waits,
                c.rt,
            )
            .with_tls(tls.as_deref())
            .local_answer()
        });
        let env = Env {
            src: self.peer,
            dst: self.local,
            counters: fe.counters(self.track.as_deref(), fe.own_table.as_ref()),
            tls: self.client.tls().cloned(),
            cache: Default::default(),
            unique_id: self.clock.as_ref().and_then(|c| c.unique_id.clone()),
            log_level: None,
            timeouts: Default::default(),
            captures: None,
            capture_slots: Some(&fe.captures),
            body: None,
            moved: Default::default(),
            res_body_in: Default::default(),
            proxy_request: false,
            place: Some(&place),
            knobs: Default::default(),
            facts: facts
                .as_ref()
                .map(|f| f as &dyn crate::http::sample_env::LogFacts),
        };
        let sets = be
            .map(|b| &b.policy.http_after_response)
            .into_iter()
            .chain([&fe.http_after_response]);
        for set in sets.filter(|s| !s.is_empty()) {
            let _ = rules::apply(
                set,
                &env,
                &mut self.bufs.req,
                Some(&mut out.head),
                &mut self.bufs.scratch,
            );
        }
        Some(out)
    }
}
