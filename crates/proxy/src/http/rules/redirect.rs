//! `redirect location|prefix|scheme` rules: the Location built from the request as HAProxy
//! builds it (`http_apply_redirect_rule`: a log-format target rendered per request), and the
//! answer (`errors::redirect_response`).

use crate::http::errors;
use crate::http::message::Message;
use crate::http::response::Response;
use crate::http::rules::Fmt;
use crate::http::sample_env::HttpEnv;
use fulcrum_config::model::RedirectKind;
use std::sync::Arc;

#[derive(Debug)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub target: Vec<u8>,
    /// The target as a log-format string (`http-request redirect prefix %[...]`).
    pub format: Option<Fmt>,
    pub code: u16,
    /// `drop-query`: the query string is not carried over (prefix, scheme).
    pub drop_query: bool,
    /// `append-slash`: a `/` is added to a path not ending with one.
    pub append_slash: bool,
    pub cookie: Option<Vec<u8>>,
    /// `ignore-empty`: a log-format `location` that renders empty skips the rule.
    pub ignore_empty: bool,
}

impl Redirect {
    /// The answer to `req` (`env` renders a log-format target); none when an `ignore-empty`
    /// location renders empty (the rule is skipped, as HAProxy's).
    pub fn answer(&self, req: &Message, env: &HttpEnv<'_>) -> Option<Arc<Response>> {
        let rendered;
        let target: &[u8] = match &self.format {
            Some(f) => {
                let mut out = Vec::with_capacity(64);
                f.render(&mut out, env);
                rendered = out;
                &rendered
            }
            None => &self.target,
        };
        if self.ignore_empty
            && self.format.is_some()
            && target.is_empty()
            && matches!(self.kind, RedirectKind::Location)
        {
            return None;
        }
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
            RedirectKind::Location => loc.extend_from_slice(target),
            RedirectKind::Prefix => {
                // A written prefix of `/` alone adds nothing (a self-redirection), as
                // HAProxy's; a log-format one is added as rendered.
                if self.format.is_some() || target != b"/" {
                    loc.extend_from_slice(target);
                }
                tail(&mut loc);
            }
            RedirectKind::Scheme => {
                loc.extend_from_slice(target);
                loc.extend_from_slice(b"://");
                loc.extend_from_slice(req.header(b"host").unwrap_or(b""));
                tail(&mut loc);
            }
        }
        Some(Arc::new(errors::redirect_response(
            self.code,
            &loc,
            self.cookie.as_deref(),
        )))
    }
}
