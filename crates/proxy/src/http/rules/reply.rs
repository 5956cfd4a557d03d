//! The answers `return`, `deny` and `tarpit` make from response options (`status`,
//! `content-type`, `string`/`lf-string`/`file`/`lf-file`/`errorfile`/`errorfiles`, `hdr`):
//! built once when nothing in them is a log-format string, else rendered per request. The
//! layout is HAProxy 2.6's (`http_reply_to_htx`): the `hdr` fields (names lower-cased,
//! a field whose rendered value is empty left out), then `content-length`, then
//! `content-type` when there is a body.

use super::Fmt;
use crate::acl::AclError;
use crate::http::errors;
use crate::http::response::Response;
use crate::http::sample_env::HttpEnv;
use fulcrum_config::model::ReturnBody;
use std::sync::Arc;

/// A compiled answer.
#[derive(Debug)]
pub enum Reply {
    /// Nothing to render: the same answer every time.
    Static(Arc<Response>),
    /// A body or a header value is a log-format string.
    Rendered {
        status: u16,
        content_type: Option<String>,
        headers: Vec<(Vec<u8>, Fmt)>,
        body: Body,
    },
}

#[derive(Debug)]
pub enum Body {
    Bytes(Vec<u8>),
    Lf(Fmt),
}

/// Compiles the answer; `at` names the rule in errors (`FILE:LINE`).
pub fn compile(
    at: &str,
    status: u16,
    content_type: Option<&str>,
    body: &ReturnBody,
    headers: &[(String, String)],
) -> Result<Reply, AclError> {
    let err = |e: String| AclError(format!("{at}: {e}"));
    let bytes = match body {
        ReturnBody::None => Vec::new(),
        ReturnBody::String(s) => s.clone().into_bytes(),
        ReturnBody::LfString(_) => Vec::new(),
        ReturnBody::File(f) | ReturnBody::Errorfile(f) => std::fs::read(f)
            .map_err(|e| err(format!("cannot read '{f}' for the rule's answer: {e}")))?,
        ReturnBody::Errorfiles(name) => {
            return Err(err(format!(
                "errorfiles '{name}' was not resolved (http-errors section missing)"
            )))
        }
    };
    if let ReturnBody::Errorfile(f) = body {
        // The file is a whole response, read once (as HAProxy's HTX at start-up).
        let page = errors::user_page(&bytes).map_err(|e| err(format!("errorfile '{f}': {e}")))?;
        return page.map(Reply::Static).ok_or_else(|| {
            err(format!(
                "errorfile '{f}': the file is empty (an answer with nothing to send is not supported)"
            ))
        });
    }
    let lf_headers = headers.iter().any(|(_, v)| v.contains('%'));
    if !lf_headers && !matches!(body, ReturnBody::LfString(_)) {
        let headers: Vec<(Vec<u8>, Vec<u8>)> = headers
            .iter()
            .map(|(n, v)| (n.clone().into_bytes(), v.clone().into_bytes()))
            .collect();
        return Ok(Reply::Static(Arc::new(
            layout(status, content_type, &headers, bytes).fixed(),
        )));
    }
    let headers = headers
        .iter()
        .map(|(n, v)| Ok((n.clone().into_bytes(), Fmt::parse(v).map_err(err)?)))
        .collect::<Result<Vec<_>, AclError>>()?;
    let body = match body {
        ReturnBody::LfString(t) => Body::Lf(Fmt::parse(t).map_err(err)?),
        _ => Body::Bytes(bytes),
    };
    Ok(Reply::Rendered {
        status,
        content_type: content_type.map(str::to_string),
        headers,
        body,
    })
}

impl Reply {
    /// The answer for this request (`env`: the exchange the log-format strings read).
    pub fn answer(&self, env: &HttpEnv<'_>) -> Arc<Response> {
        match self {
            Reply::Static(r) => r.clone(),
            Reply::Rendered {
                status,
                content_type,
                headers,
                body,
            } => {
                let headers: Vec<(Vec<u8>, Vec<u8>)> = headers
                    .iter()
                    .map(|(n, f)| {
                        let mut v = Vec::new();
                        f.render_answer(&mut v, env, *status);
                        (n.clone(), v)
                    })
                    .collect();
                let body = match body {
                    Body::Bytes(b) => b.clone(),
                    Body::Lf(f) => {
                        let mut v = Vec::new();
                        f.render_answer(&mut v, env, *status);
                        v
                    }
                };
                Arc::new(layout(*status, content_type.as_deref(), &headers, body))
            }
        }
    }
}

/// HAProxy's layout of a reply (`errors::return_response`).
fn layout(
    status: u16,
    content_type: Option<&str>,
    headers: &[(Vec<u8>, Vec<u8>)],
    body: Vec<u8>,
) -> Response {
    errors::return_response(status, content_type, headers, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::message::Message;

    fn h1(r: &Response) -> String {
        let mut out = Vec::new();
        r.write_h1(
            crate::http::response::Close::Silent,
            crate::http::response::Part::Whole,
            &mut out,
        );
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn static_and_rendered_answers_have_haproxys_layout() {
        let hdrs = vec![("X-C".to_string(), "v".to_string())];
        let r = compile(
            "f:1",
            404,
            Some("text/plain"),
            &ReturnBody::String("p".into()),
            &hdrs,
        )
        .expect("compiles");
        assert!(matches!(r, Reply::Static(_)));
        let mut m = Message::new();
        let _ = m.parse_request(b"GET /e HTTP/1.1\r\nHost: h\r\n\r\n");
        let src: std::net::SocketAddr = ([10, 0, 0, 1], 1234).into();
        let seen = crate::http::sample_env::Situation::new(src, src);
        let env = seen.view(Some(&m), None);
        assert_eq!(
            h1(&r.answer(&env)),
            "HTTP/1.1 404 Not Found\r\nx-c: v\r\ncontent-length: 1\r\ncontent-type: text/plain\r\n\r\np"
        );
        let hdrs = vec![
            ("X-B".to_string(), "%[path]".to_string()),
            ("X-E".to_string(), "%[req.hdr(nope)]".to_string()),
        ];
        let r = compile(
            "f:1",
            403,
            Some("text/plain"),
            &ReturnBody::LfString("p=%[path]".into()),
            &hdrs,
        )
        .expect("compiles");
        assert_eq!(
            h1(&r.answer(&env)),
            "HTTP/1.1 403 Forbidden\r\nx-b: /e\r\ncontent-length: 4\r\ncontent-type: text/plain\r\n\r\np=/e"
        );
        // No request (a tarpit's answer, rendered after the hold): empty values.
        let seen = crate::http::sample_env::Situation::new(src, src);
        let none = seen.view(None, None);
        assert_eq!(
            h1(&r.answer(&none)),
            "HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\np="
        );
    }
}
