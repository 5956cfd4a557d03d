//! keepalived's HTTP_GET checker: for each `url { path status_code digest virtualhost regex }`
//! send the request keepalived (and genhash) send (`http_protocol` 1.0, 1.0C or 1.1; `Host:`
//! the url's or checker's `virtualhost`, else the address), check the status against
//! `status_code` (default 200-299), the body against `digest` (the lowercase hex MD5 of the
//! bytes after the response head, as genhash prints it) and against `regex` (a match required,
//! or refused with `regex_no_match`, starting between `regex_min_offset` and
//! `regex_max_offset`). Every url must pass, each round (keepalived's `fast_recovery`).
//! `connect_timeout` bounds connect and read, as in keepalived. SSL_GET is the same over TLS
//! (`probe::tls`: no certificate verification; SNI only with `enable_sni`).

use crate::probe::addr::CheckAddr;
use crate::probe::response::{self, CheckResponse};
use crate::probe::tls;
use crate::status::{CheckOutcome, CheckStatus};
use fulcrum_config::model::{CheckUrl, HttpProtocol};
use md5::{Digest, Md5};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

/// Bodies larger than this are hashed only in part; keepalived pages are small status pages.
pub const MAX_BODY: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGet {
    pub addr: SocketAddr,
    pub urls: Vec<CheckUrl>,
    pub connect_timeout: Duration,
    /// SSL_GET: the request goes over TLS.
    pub ssl: bool,
    /// `virtualhost`, else the address (keepalived sends `Host: IP[:PORT]`).
    pub host: String,
    pub protocol: HttpProtocol,
    /// The checker's (or real or virtual server's) `virtualhost`.
    pub virtualhost: Option<String>,
    /// SSL_GET `enable_sni`: the virtualhost is sent as the TLS server name.
    pub enable_sni: bool,
    /// `bindto` / `bind_port`.
    pub source: Option<SocketAddr>,
}

impl HttpGet {
    pub fn new(addr: SocketAddr, urls: Vec<CheckUrl>, connect_timeout: Duration) -> Self {
        let host = if addr.port() == 80 {
            addr.ip().to_string()
        } else {
            addr.to_string()
        };
        HttpGet {
            addr,
            urls,
            connect_timeout,
            ssl: false,
            host,
            protocol: HttpProtocol::Http10,
            virtualhost: None,
            enable_sni: false,
            source: None,
        }
    }

    /// keepalived's HTTP/1.0 request (its default `http_protocol`).
    /// SSL_GET instead of HTTP_GET.
    pub fn over_tls(mut self, ssl: bool) -> Self {
        self.ssl = ssl;
        self
    }

    pub fn request(&self, url: &CheckUrl) -> Vec<u8> {
        // keepalived 2.2.7's order, as captured by the keepalived_vs_real test
        let (version, close) = match self.protocol {
            HttpProtocol::Http10 => ("1.0", ""),
            HttpProtocol::Http10Close => ("1.0", "Connection: close\r\n"),
            HttpProtocol::Http11 => ("1.1", "Connection: close\r\n"),
        };
        let host = url
            .virtualhost
            .as_deref()
            .or(self.virtualhost.as_deref())
            .unwrap_or(&self.host);
        format!(
            "GET {} HTTP/{version}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {host}\r\n\r\n",
            url.path
        )
        .into_bytes()
    }

    pub async fn run(&self) -> CheckOutcome {
        let start = crate::clock::now();
        let mut last = CheckOutcome::new(CheckStatus::L4Ok, Duration::ZERO);
        for url in &self.urls {
            let req = self.request(url);
            let addr = CheckAddr {
                dest: super::Dest::Ip(self.addr),
                source: self.source,
            };
            let exchanged = if self.ssl {
                let begun = crate::clock::now();
                let sni = url
                    .virtualhost
                    .as_deref()
                    .or(self.virtualhost.as_deref())
                    .filter(|_| self.enable_sni);
                match tls::connect_to(&addr, sni, self.connect_timeout).await {
                    Ok(stream) => {
                        response::exchange_on(stream, begun, &req, self.connect_timeout, MAX_BODY)
                            .await
                    }
                    Err(outcome) => Err(outcome),
                }
            } else {
                response::exchange(
                    &addr,
                    &req,
                    self.connect_timeout,
                    self.connect_timeout,
                    MAX_BODY,
                )
                .await
            };
            last = match exchanged {
                Ok((resp, _)) => judge(url, &resp, crate::clock::since(start)),
                Err(outcome) => outcome,
            };
            if !last.passed() {
                return last;
            }
        }
        last
    }
}

/// Lowercase hex MD5 of `body`, as genhash prints it and `digest` is written.
pub fn md5_hex(body: &[u8]) -> String {
    let sum = Md5::digest(body);
    let mut s = String::with_capacity(32);
    for b in sum {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub fn judge(url: &CheckUrl, resp: &CheckResponse, elapsed: Duration) -> CheckOutcome {
    let status_ok = if url.status_code.is_empty() {
        (200..300).contains(&resp.status)
    } else {
        url.status_code.contains(&resp.status)
    };
    if !status_ok {
        return CheckOutcome::new(CheckStatus::L7Status, elapsed)
            .with_code(resp.status)
            .with_info(format!("HTTP status code error on url {}", url.path));
    }
    if let Some(expected) = &url.digest {
        let got = md5_hex(&resp.body);
        if !got.eq_ignore_ascii_case(expected.trim()) {
            return CheckOutcome::new(CheckStatus::L7Response, elapsed)
                .with_code(resp.status)
                .with_info(format!(
                    "MD5 digest error on url {}, expected {expected}, got {got}",
                    url.path
                ));
        }
    }
    if let Some(pattern) = &url.regex {
        let found = regex_found(pattern, url, &resp.body);
        if found == url.regex_no_match {
            return CheckOutcome::new(CheckStatus::L7Response, elapsed)
                .with_code(resp.status)
                .with_info(format!(
                    "regex {} on url {}",
                    if found { "matched" } else { "did not match" },
                    url.path
                ));
        }
    }
    CheckOutcome::new(CheckStatus::L7Ok, elapsed).with_code(resp.status)
}

/// A match of `pattern` starting at or after `regex_min_offset` and at or before
/// `regex_max_offset`. The pattern was checked when the config was read; one that does not
/// compile here matches nothing.
fn regex_found(pattern: &str, url: &CheckUrl, body: &[u8]) -> bool {
    let Ok(re) = regex::bytes::Regex::new(pattern) else {
        return false;
    };
    let from = url.regex_min_offset.unwrap_or(0).min(body.len());
    let start = re.find(&body[from..]).map(|m| m.start() + from);
    start.is_some_and(|start| url.regex_max_offset.is_none_or(|max| start <= max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(codes: &[u16], digest: Option<&str>) -> CheckUrl {
        CheckUrl {
            path: "/".into(),
            status_code: codes.to_vec(),
            digest: digest.map(Into::into),
            ..CheckUrl::default()
        }
    }

    #[test]
    fn regex_match_and_no_match_with_offsets() {
        let mut u = url(&[], None);
        u.regex = Some("st(a|o)tus: ok".into());
        assert!(judge(&u, &resp(200, "xx status: ok"), Duration::ZERO).passed());
        assert!(!judge(&u, &resp(200, "status: down"), Duration::ZERO).passed());
        u.regex_max_offset = Some(1);
        assert!(!judge(&u, &resp(200, "xx status: ok"), Duration::ZERO).passed());
        u.regex_max_offset = None;
        u.regex_no_match = true;
        let ko = judge(&u, &resp(200, "status: ok"), Duration::ZERO);
        assert_eq!(ko.status, CheckStatus::L7Response);
        assert!(judge(&u, &resp(200, "status: down"), Duration::ZERO).passed());
    }
    fn resp(status: u16, body: &str) -> CheckResponse {
        CheckResponse {
            headers: Vec::new(),
            status,
            reason: String::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn md5_known_vectors() {
        // RFC 1321 test suite
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn status_default_is_2xx_and_list_is_exact() {
        assert!(judge(&url(&[], None), &resp(204, ""), Duration::ZERO).passed());
        assert!(!judge(&url(&[], None), &resp(301, ""), Duration::ZERO).passed());
        assert!(judge(&url(&[301], None), &resp(301, ""), Duration::ZERO).passed());
        assert!(!judge(&url(&[200], None), &resp(500, ""), Duration::ZERO).passed());
    }

    #[test]
    fn digest_must_match_body() {
        let ok = judge(
            &url(&[200], Some("900150983cd24fb0d6963f7d28e17f72")),
            &resp(200, "abc"),
            Duration::ZERO,
        );
        assert!(ok.passed());
        let ko = judge(
            &url(&[200], Some("900150983cd24fb0d6963f7d28e17f72")),
            &resp(200, "abd"),
            Duration::ZERO,
        );
        assert_eq!(ko.status, CheckStatus::L7Response);
        assert!(ko
            .info
            .unwrap_or_default()
            .contains("expected 900150983cd24fb0d6963f7d28e17f72"));
    }

    #[test]
    /// Byte for byte what keepalived's genhash sent when captured on a raw socket.
    fn request_as_keepalived() {
        let g = HttpGet::new(
            "127.0.0.1:8080".parse().expect("addr"),
            vec![],
            Duration::from_secs(1),
        );
        let mut u = url(&[], None);
        u.path = "/health".into();
        assert_eq!(
            g.request(&u),
            b"GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:8080\r\n\r\n"
        );
    }
}
