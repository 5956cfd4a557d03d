//! `http-request wait-for-body` in the middle of a proxy's chain (or with a condition): the
//! chain runs in parts around it ([`BodyWait`]; the session waits, `buffer_body`).
//!
//! `http-response wait-for-body ... [if|unless COND]` anywhere in a proxy's `http-response`
//! rules: `rules::apply` pauses there ([`super::Verdict::WaitBody`]) and the exchange
//! resumes the rules once the body is in (`session::response_rules`).

use super::Rule;
use fulcrum_config::model::WaitForBody;

/// A proxy's `http-request wait-for-body` in the middle of its chain (or with a condition):
/// the rules before the first are the proxy's `http_request`; each wait's `after` runs up to
/// the next one.
pub struct BodyWait {
    pub cond: Option<crate::acl::Cond>,
    pub wait: WaitForBody,
    pub after: Vec<Rule>,
}
