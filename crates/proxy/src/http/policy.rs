//! A backend's HTTP policy, beside its server farm: `http-request`/`http-response` rules,
//! error pages, `option forwardfor`, cookie persistence, sample-keyed stick rules and the
//! stats page.

use super::errors::ErrorPages;
use super::headers::ForwardForRt;
use super::rules::Rule;
use crate::applet::Applet;
use crate::persist::cookie::CookiePersist;
use std::sync::Arc;

pub struct HttpPolicy {
    pub http_request: Vec<Rule>,
    /// `http-request wait-for-body` rules of this backend, each with the rules after it.
    pub body_waits: Vec<super::rules::wait_body::BodyWait>,
    pub http_response: Vec<Rule>,
    /// `http-after-response` rules of this backend (before the frontend's).
    pub http_after_response: Vec<Rule>,
    pub errors: ErrorPages,
    /// `http-error` pages with log-format parts, rendered per answer.
    pub rendered_errors: super::rules::error_pages::RenderedErrors,
    /// `option forwardfor`, compiled.
    pub forwardfor: Option<ForwardForRt>,
    /// `cookie NAME ...` with `option persist` (None: no cookie persistence, no per-request work).
    pub cookie: Option<CookiePersist>,
    /// `stick match|on|store-* EXPR [table T] [if COND]` other than a plain `stick on src`.
    pub stick_sample: Option<crate::persist::stick_sample::SampleStick<crate::acl::Cond>>,
    /// `stats ...` of this backend/listen, when enabled: the stats page applet.
    pub stats: Option<Arc<dyn Applet>>,
    /// `use-server`, `force-persist`, `ignore-persist`.
    pub server_rules: super::server_rules::ServerRules,
    /// Each server's id (`id N`, or HAProxy's automatic number): `srv_id`, `server_id`.
    pub server_ids: Vec<u64>,
    /// Servers with `non-stick`: stick rules never store them.
    pub non_stick: Vec<bool>,
    /// The backend's place among the configuration's proxies (HAProxy lists them in that
    /// order).
    pub order: u32,
}

impl HttpPolicy {
    /// Whether stick rules may store server `index` (not `non-stick`).
    pub fn sticks(&self, index: usize) -> bool {
        !self.non_stick.get(index).copied().unwrap_or(false)
    }

    /// The id of server `index` (its `id`, or HAProxy's automatic number).
    pub fn server_id(&self, index: usize) -> u64 {
        self.server_ids
            .get(index)
            .copied()
            .unwrap_or(index as u64 + 1)
    }
}
