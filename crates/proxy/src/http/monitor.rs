//! `monitor-uri PATH` and `monitor fail if|unless COND`: a frontend answers requests for its
//! monitor URI itself, before its `http-request` rules, as HAProxy 2.6 does: `200` (the
//! proxy's page for 200, `errorfile 200` applies) or `503` when a `monitor fail` condition
//! holds; the connection stays open; the request is counted as intercepted and not logged.

use super::message::Message;
use crate::acl::{self, Cond, Ctx};
use fulcrum_config::model::Proxy;

#[derive(Debug)]
pub struct Monitor {
    uri: Vec<u8>,
    fail: Vec<Cond>,
}

impl Monitor {
    /// The proxy's monitor, if it has a `monitor-uri`.
    pub fn compile(p: &Proxy) -> Result<Option<Monitor>, acl::AclError> {
        let Some(uri) = &p.monitor_uri else {
            return Ok(None);
        };
        let fail = p
            .monitor_fail
            .iter()
            .map(|m| acl::compile_condition(&m.condition, &p.acls))
            .collect::<Result<_, _>>()?;
        Ok(Some(Monitor {
            uri: uri.clone().into_bytes(),
            fail,
        }))
    }

    /// Whether the request is for the monitor URI (the whole target, as HAProxy compares it).
    pub fn matches(&self, req: &Message) -> bool {
        req.target() == self.uri.as_slice()
    }

    /// The status to answer: 503 when a `monitor fail` condition holds, else 200.
    pub fn status(&self, ctx: &Ctx<'_>) -> u16 {
        if self.fail.iter().any(|c| c.eval(ctx)) {
            503
        } else {
            200
        }
    }
}
