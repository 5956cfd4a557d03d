//! `redirect location|prefix|scheme` rules: the Location built from the request as HAProxy
//! builds it, and the answer (`errors::redirect_response`).

use crate::http::errors;
use crate::http::message::Message;
use crate::http::response::Response;
use fulcrum_config::model::RedirectKind;
use std::sync::Arc;

#[derive(Debug)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub target: Vec<u8>,
    pub code: u16,
    /// `drop-query`: the query string is not carried over (prefix, scheme).
    pub drop_query: bool,
    /// `append-slash`: a `/` is added to a path not ending with one.
    pub append_slash: bool,
    pub cookie: Option<Vec<u8>>,
}

impl Redirect {
    /// The answer to `req`.
    pub fn answer(&self, req: &Message) -> Arc<Response> {
        let mut loc = Vec::with_capacity(64);
        // The request's path (and query unless `drop-query`), `/` appended with
        // `append-slash`, as HAProxy's prefix and scheme redirects.
        let tail = |loc: &mut Vec<u8>| {
            let uri = req.uri();
            let path = if self.drop_query {
                uri.split(|&b| b == b'?').next().unwrap_or(uri)
            } else {
                uri
            };
            loc.extend_from_slice(path);
            // HAProxy appends it to the location as built, query included
            if self.append_slash && !loc.ends_with(b"/") {
                loc.push(b'/');
            }
        };
        match self.kind {
            RedirectKind::Location => loc.extend_from_slice(&self.target),
            RedirectKind::Prefix => {
                if self.target.as_slice() != b"/" {
                    loc.extend_from_slice(&self.target);
                }
                tail(&mut loc);
            }
            RedirectKind::Scheme => {
                loc.extend_from_slice(&self.target);
                loc.extend_from_slice(b"://");
                loc.extend_from_slice(req.header(b"host").unwrap_or(b""));
                tail(&mut loc);
            }
        }
        Arc::new(errors::redirect_response(
            self.code,
            &loc,
            self.cookie.as_deref(),
        ))
    }
}
