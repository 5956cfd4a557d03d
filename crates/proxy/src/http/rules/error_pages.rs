//! `http-error status N` pages with log-format parts (`lf-string`, `lf-file`, a `%` in an
//! `hdr` value): compiled once per generation as rule answers ([`super::reply::Reply`]) and
//! rendered for each answer with the exchange's view, as haproxy 2.6 renders them (the
//! other error pages are built once: `http::errors::ErrorPages`).

use super::reply::{self, Reply};
use crate::acl::AclError;
use fulcrum_config::model::{Proxy, ReturnBody};
use fulcrum_config::model_keywords::ErrorReply;
use std::collections::HashMap;

/// Whether `reply` has a part rendered per answer.
pub fn rendered(reply: &ErrorReply) -> bool {
    matches!(reply, ErrorReply::Reply { lf_body, headers, .. }
        if lf_body.is_some() || headers.iter().any(|(_, v)| v.contains('%')))
}

/// A proxy's rendered error pages, by status.
#[derive(Debug, Default)]
pub struct RenderedErrors(HashMap<u16, Reply>);

impl RenderedErrors {
    pub fn compile(p: &Proxy) -> Result<RenderedErrors, AclError> {
        let mut out = HashMap::new();
        for e in &p.errorfiles {
            let Some(
                r @ ErrorReply::Reply {
                    content_type,
                    body,
                    headers,
                    lf_body,
                },
            ) = &e.reply
            else {
                continue;
            };
            if !rendered(r) {
                continue;
            }
            let body = match lf_body {
                Some(t) => ReturnBody::LfString(t.clone()),
                None if body.is_empty() => ReturnBody::None,
                None => ReturnBody::String(String::from_utf8_lossy(body).into_owned()),
            };
            let at = e.span.to_string();
            let compiled = reply::compile(&at, e.status, content_type.as_deref(), &body, headers)?;
            out.insert(e.status, compiled);
        }
        Ok(RenderedErrors(out))
    }

    pub fn get(&self, status: u16) -> Option<&Reply> {
        self.0.get(&status)
    }
}
