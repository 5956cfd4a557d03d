//! HAProxy's HTTP check: `option httpchk [METHOD] [URI] [VERSION]` with `http-check send`
//! (meth/uri/ver override, hdr lines, body with its Content-Length) and `http-check expect`.
//! Builds the request once; each run connects, sends, reads one response and judges it.

use crate::probe::addr::CheckAddr;
use crate::probe::expect::Expect;
use crate::probe::response;
use crate::status::CheckOutcome;
use crate::HealthError;
use fulcrum_config::model::{HttpCheck as HttpCheckModel, HttpChk};
use std::time::Duration;

/// HAProxy judges checks on its first buffer; keep the same order of size.
pub const CHECK_BUFFER: usize = 16384;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    pub addr: CheckAddr,
    pub request: Vec<u8>,
    pub expect: Expect,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
}

impl HttpCheck {
    pub fn new(
        addr: CheckAddr,
        httpchk: &HttpChk,
        http_check: &HttpCheckModel,
        connect_timeout: Duration,
        read_timeout: Duration,
    ) -> Result<Self, HealthError> {
        Ok(HttpCheck {
            addr,
            request: build_request(httpchk, http_check),
            expect: Expect::from_model(http_check.expect.as_ref())?,
            connect_timeout,
            read_timeout,
        })
    }

    pub async fn run(&self) -> CheckOutcome {
        match response::exchange(
            &self.addr,
            &self.request,
            self.connect_timeout,
            self.read_timeout,
            CHECK_BUFFER,
        )
        .await
        {
            Ok((resp, elapsed)) => self.expect.evaluate(&resp, elapsed),
            Err(outcome) => outcome,
        }
    }
}

/// The bytes sent on the wire for one check.
pub fn build_request(httpchk: &HttpChk, http_check: &HttpCheckModel) -> Vec<u8> {
    let send = http_check.send.clone().unwrap_or_default();
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
    req.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_config::model::HttpCheckSend;

    #[test]
    fn option_httpchk_default_request() {
        let req = build_request(&HttpChk::default(), &HttpCheckModel::default());
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
        let hc = HttpCheckModel {
            send: Some(HttpCheckSend {
                method: Some("POST".into()),
                uri: Some("/health".into()),
                version: Some("HTTP/1.1".into()),
                headers: vec![
                    ("Host".into(), "example.com".into()),
                    ("Content-Length".into(), "99".into()),
                ],
                body: Some("ping".into()),
            }),
            expect: None,
        };
        assert_eq!(
            String::from_utf8_lossy(&build_request(&chk, &hc)),
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
            String::from_utf8_lossy(&build_request(&chk, &HttpCheckModel::default())),
            "HEAD / HTTP/1.1\r\nHost: www.example.com\r\nconnection: close\r\n\r\n"
        );
    }
}
