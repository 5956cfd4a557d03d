//! `tcp-request content` rules run for each request in HTTP mode (before the frontend's
//! `http-request` rules, and the backend's once routed): what they leave for the request
//! (moved addresses, captures, `set-priority-*`, `set-log-level`) goes into its `Env`; the
//! first request of a stream made HTTP takes what they left before the switch.

use super::Session;
use crate::http::rules::{self, Env};
use crate::stream::ClientStream;
use crate::track::Table;
use std::sync::Arc;

impl<C: ClientStream> Session<C> {
    /// Runs `tcp-request content` rules on this request; whether the connection ends.
    /// `own`: the stick table of the proxy whose rules these are.
    pub(super) fn content_rules(
        &mut self,
        rules: &[crate::tcp_rules::Rule],
        own: Option<&Arc<Table>>,
        env: &mut Env<'_>,
    ) -> bool {
        if rules.is_empty() {
            return false;
        }
        let counters = self.fe.counters(self.track.as_deref(), own);
        let (src, dst) = env.moved.get(self.peer, self.local);
        let seen = crate::http::sample_env::Situation::new(src, dst)
            .with_counters(counters)
            .at(env.place);
        let ctx = seen.view(Some(&self.bufs.req), None);
        let moved = crate::tcp_rules::Moved::default();
        let end = crate::tcp_rules::content(rules, &ctx, &self.client, true, &moved);
        if let Some((s, d)) = moved.result() {
            // `set-src`/`set-dst`: the connection's addresses from now on, for this
            // request's later rules too.
            (self.peer, self.local) = (s, d);
            (env.src, env.dst) = (s, d);
        }
        moved.captures_into(env.captures.as_deref());
        left_for_request(env, moved.priority(), moved.level());
        end
    }

    /// The first request of a stream `switch-mode http` made HTTP: what the frontend's
    /// content rules left before the switch (`switch_mode::Inspected`) is its own.
    pub(super) fn inspected_before(left: crate::switch_mode::Inspected, env: &mut Env<'_>) {
        if let Some(c) = left.captures {
            env.captures = Some(Arc::new(c));
        }
        left_for_request(env, left.priority, left.level);
    }
}

/// `set-priority-*` and `set-log-level` (8: `silent`, rules::SILENT) of content rules, for
/// the request.
fn left_for_request(env: &mut Env<'_>, priority: Option<(i32, i32)>, level: Option<u8>) {
    if let Some(p) = priority {
        env.knobs.set_priority(p);
    }
    if let Some(l) = level {
        let cell = env
            .log_level
            .get_or_insert_with(|| Arc::new(std::sync::atomic::AtomicU8::new(rules::UNSET)));
        cell.store(l, std::sync::atomic::Ordering::Relaxed);
    }
}
