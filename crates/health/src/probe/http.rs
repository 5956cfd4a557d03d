//! HAProxy's HTTP check as a script of the one engine (`probe::script`): `option httpchk
//! [METHOD] [URI] [VERSION]` gives the first request; `http-check connect|send|expect` rules
//! run in order (several send/expect pairs, each send after its own connect, as HAProxy
//! requires); without an expect after the last send, the default one (2xx/3xx) applies.

use super::protocols::tls_of;
use crate::probe::check_sample::{CheckEnv, Lf, SampleExpr, VarName};
use crate::probe::expect::Expect;
use crate::probe::script::{
    Action, Connect, Flavor, HttpExpectOpts, HttpLf, Message, Script, Step,
};
use crate::status::CheckStatus;
use crate::HealthError;
use fulcrum_config::model::{HttpCheck as HttpCheckModel, HttpCheckRule, HttpCheckSend, HttpChk};

/// The steps of a backend's HTTP check.
pub fn script(
    httpchk: &HttpChk,
    http_check: &HttpCheckModel,
    send_proxy: bool,
) -> Result<Script, HealthError> {
    let mut actions: Vec<Action> = Vec::new();
    let send = |s: Option<&HttpCheckSend>| -> Result<Action, HealthError> {
        if let Some(s) = s.filter(|s| s.uri_lf || s.body_lf || s.headers_lf) {
            let lf = |on: bool, text: &Option<String>| -> Result<Option<Lf>, HealthError> {
                match text {
                    Some(t) if on => Lf::new(t).map(Some).map_err(|detail| HealthError::Config {
                        what: "http-check send".into(),
                        detail,
                    }),
                    _ => Ok(None),
                }
            };
            return Ok(Action::SendHttpLf(Box::new(HttpLf {
                httpchk: httpchk.clone(),
                uri: lf(s.uri_lf, &s.uri)?,
                body: lf(s.body_lf, &s.body)?,
                headers: s
                    .headers
                    .iter()
                    .map(|(_, v)| lf(v.contains('%'), &Some(v.clone())))
                    .collect::<Result<_, _>>()?,
                send: s.clone(),
                send_state: http_check.send_state,
            })));
        }
        let (request, state_at) = build_request_at(httpchk, s);
        Ok(if http_check.send_state {
            Action::SendHttp { request, state_at }
        } else {
            Action::Send(request)
        })
    };
    let is_send = |a: &Action| {
        matches!(
            a,
            Action::Send(_) | Action::SendHttp { .. } | Action::SendHttpLf(_)
        )
    };
    let var = |scope: &str, name: &str| {
        VarName::new(scope, name).map_err(|detail| HealthError::Config {
            what: "http-check set-var".into(),
            detail,
        })
    };
    let has_send = http_check
        .rules
        .iter()
        .any(|r| matches!(r, HttpCheckRule::Send(_)));
    for rule in &http_check.rules {
        match rule {
            HttpCheckRule::SetVar {
                scope,
                name,
                expr,
                conditions,
                fmt,
            } => {
                let bad = |detail| HealthError::Config {
                    what: "http-check set-var".into(),
                    detail,
                };
                let var = var(scope, name)?;
                let conditions =
                    crate::probe::check_vars::Conditions::parse(conditions).map_err(bad)?;
                actions.push(if *fmt {
                    Action::SetVarFmt {
                        var,
                        format: Lf::new(expr).map_err(bad)?,
                        conditions,
                    }
                } else {
                    Action::SetVar {
                        var,
                        expr: SampleExpr::new(expr).map_err(bad)?,
                        conditions,
                    }
                })
            }
            HttpCheckRule::UnsetVar { scope, name } => {
                actions.push(Action::UnsetVar(var(scope, name)?))
            }
            HttpCheckRule::Connect(c) => actions.push(Action::Connect(Connect {
                port: c.port,
                port_expr: c
                    .port_expr
                    .as_deref()
                    .map(SampleExpr::new)
                    .transpose()
                    .map_err(|detail| HealthError::Config {
                        what: "http-check connect port".into(),
                        detail,
                    })?,
                addr: c.addr,
                send_proxy: c.send_proxy || (c.default && send_proxy),
                server_defaults: c.default,
                linger: c.linger,
                implicit: false,
                tls: tls_of(c),
                via_socks4: c.via_socks4,
                socks4: None,
                h2: c.proto_h2,
            })),
            HttpCheckRule::Send(s) => actions.push(send(Some(s))?),
            HttpCheckRule::Expect(e) => {
                if !has_send && !actions.iter().any(is_send) {
                    actions.push(send(None)?);
                }
                actions.push(Action::ExpectHttp(
                    Expect::from_model(Some(e))?,
                    Box::new(expect_opts(&e.options)?),
                ));
            }
            HttpCheckRule::Comment(_) => {}
        }
    }
    if !actions.iter().any(is_send) {
        actions.push(send(None)?);
    }
    if matches!(
        actions.last(),
        Some(
            Action::Send(_) | Action::SendHttp { .. } | Action::SendHttpLf(_) | Action::Connect(_)
        )
    ) {
        actions.push(Action::ExpectHttp(Expect::Default, Box::default()));
    }
    let first = actions.iter().find(|a| {
        !matches!(
            a,
            Action::SetVar { .. } | Action::SetVarFmt { .. } | Action::UnsetVar(_)
        )
    });
    if !matches!(first, Some(Action::Connect(_))) {
        actions.insert(
            0,
            Action::Connect(Connect {
                send_proxy,
                implicit: true,
                ..Connect::default()
            }),
        );
    }
    Ok(Script {
        flavor: Flavor::Protocol,
        steps: actions
            .into_iter()
            .enumerate()
            .map(|(i, action)| Step {
                number: i as u32,
                action,
                comment: None,
            })
            .collect(),
    })
}

/// The options of an `http-check expect`, compiled.
fn expect_opts(
    o: &fulcrum_config::model::HttpExpectOptions,
) -> Result<HttpExpectOpts, HealthError> {
    let bad = |detail: String| HealthError::Config {
        what: "http-check expect".into(),
        detail,
    };
    let status = |s: &Option<String>| s.as_deref().and_then(CheckStatus::from_code);
    let message = |m: &Option<String>| -> Result<Option<Message>, HealthError> {
        match m {
            Some(t) if t.contains('%') => Lf::new(t).map(|l| Some(Message::Format(l))).map_err(bad),
            Some(t) => Ok(Some(Message::Text(t.clone()))),
            None => Ok(None),
        }
    };
    Ok(HttpExpectOpts {
        ok_status: status(&o.ok_status),
        error_status: status(&o.error_status),
        tout_status: status(&o.tout_status),
        on_success: message(&o.on_success)?,
        on_error: message(&o.on_error)?,
        status_code: o
            .status_code
            .as_deref()
            .map(SampleExpr::new)
            .transpose()
            .map_err(bad)?,
        min_recv: o.min_recv,
    })
}

impl HttpLf {
    /// The request with its `uri-lf` / `body-lf` rendered now, and where the state header goes.
    pub fn build(&self, env: &CheckEnv<'_>) -> (Vec<u8>, usize) {
        let mut send = self.send.clone();
        let text = |lf: &Lf| String::from_utf8_lossy(&lf.render(env)).into_owned();
        if let Some(u) = &self.uri {
            send.uri = Some(text(u));
        }
        if let Some(b) = &self.body {
            send.body = Some(text(b));
        }
        for ((_, v), lf) in send.headers.iter_mut().zip(&self.headers) {
            if let Some(lf) = lf {
                *v = text(lf);
            }
        }
        build_request_at(&self.httpchk, Some(&send))
    }
}

/// The bytes sent on the wire for one `http-check send` (or the option's request alone).
pub fn build_request(httpchk: &HttpChk, send: Option<&HttpCheckSend>) -> Vec<u8> {
    build_request_at(httpchk, send).0
}

/// [`build_request`], and where `x-haproxy-server-state` goes in (after the written headers,
/// before `content-length` and `connection`, as haproxy 2.6 sends it).
pub fn build_request_at(httpchk: &HttpChk, send: Option<&HttpCheckSend>) -> (Vec<u8>, usize) {
    let send = send.cloned().unwrap_or_default();
    let method = send.method.as_deref().unwrap_or(&httpchk.method);
    let uri = send.uri.as_deref().unwrap_or(&httpchk.uri);
    let version = send.version.as_deref().unwrap_or(&httpchk.version);
    let mut req = format!("{method} {uri} {version}\r\n");
    if let Some(extra) = &httpchk.extra {
        // Old style: headers glued after the version with escaped CRLFs ("\r\nHost:\ x").
        let unescaped = extra
            .replace("\\r", "\r")
            .replace("\\n", "\n")
            .replace("\\ ", " ");
        let trimmed = unescaped
            .trim_start_matches(['\r', '\n'])
            .trim_end_matches(['\r', '\n']);
        if !trimmed.is_empty() {
            req.push_str(trimmed);
            req.push_str("\r\n");
        }
    }
    for (name, value) in &send.headers {
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            continue; // the manual: these are ignored, HAProxy computes the length itself
        }
        req.push_str(&format!("{}: {value}\r\n", name.to_ascii_lowercase()));
    }
    let state_at = req.len();
    let body = send.body.unwrap_or_default();
    if !body.is_empty() {
        req.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    // As haproxy 2.6 sends it (captured): header names lowercased, and "connection: close"
    // only for HTTP/1.1 (1.0 closes by default).
    if version.starts_with("HTTP/1.1") {
        req.push_str("connection: close\r\n");
    }
    req.push_str("\r\n");
    req.push_str(&body);
    (req.into_bytes(), state_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_httpchk_default_request() {
        let req = build_request(&HttpChk::default(), None);
        assert_eq!(req, b"OPTIONS / HTTP/1.0\r\n\r\n");
    }

    #[test]
    fn http_check_send_overrides_and_adds_headers_and_body() {
        let chk = HttpChk {
            method: "GET".into(),
            uri: "/".into(),
            version: "HTTP/1.0".into(),
            extra: None,
        };
        let hc = Some(HttpCheckSend {
            method: Some("POST".into()),
            uri: Some("/health".into()),
            version: Some("HTTP/1.1".into()),
            headers: vec![
                ("Host".into(), "example.com".into()),
                ("Content-Length".into(), "99".into()),
            ],
            body: Some("ping".into()),
            ..Default::default()
        });
        assert_eq!(
            String::from_utf8_lossy(&build_request(&chk, hc.as_ref())),
            "POST /health HTTP/1.1\r\nhost: example.com\r\ncontent-length: 4\r\nconnection: close\r\n\r\nping"
        );
    }

    #[test]
    fn old_style_headers_after_version() {
        let chk = HttpChk {
            method: "HEAD".into(),
            uri: "/".into(),
            version: "HTTP/1.1".into(),
            extra: Some("\\r\\nHost:\\ www.example.com".into()),
        };
        assert_eq!(
            String::from_utf8_lossy(&build_request(&chk, None)),
            "HEAD / HTTP/1.1\r\nHost: www.example.com\r\nconnection: close\r\n\r\n"
        );
    }
}
