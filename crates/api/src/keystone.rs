//! Keystone token validation: `GET {url}/v3/auth/tokens` with the caller's token as both
//! `X-Auth-Token` and `X-Subject-Token`; the answer's `token.project.id` is the caller's
//! project and an `admin` role makes it an admin. Plain HTTP/1.1 over a TCP stream (http://
//! URLs only: a Keystone behind TLS is not reached yet).

use crate::ops::Caller;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub async fn validate(url: &str, token: &str) -> Result<Caller, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("keystone URL {url}: only http:// is supported"))?;
    let (hostport, prefix) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (rest, String::new()),
    };
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    if token.contains(['\r', '\n']) {
        return Err("token with a line break".into());
    }
    let fetch = async {
        let mut s = tokio::net::TcpStream::connect(&hostport)
            .await
            .map_err(|e| e.to_string())?;
        let req = format!(
            "GET {prefix}/v3/auth/tokens HTTP/1.1\r\nHost: {hostport}\r\nX-Auth-Token: {token}\r\nX-Subject-Token: {token}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.take(1 << 20)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<Vec<u8>, String>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(5), fetch)
        .await
        .map_err(|_| format!("keystone {url}: no answer in 5 s"))??;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("keystone: malformed answer")?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("keystone refused the token (status {status})"));
    }
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("keystone answer: {e}"))?;
    let project = v["token"]["project"]["id"]
        .as_str()
        .ok_or("keystone answer has no token.project.id")?
        .to_string();
    let admin = v["token"]["roles"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["name"] == "admin"));
    Ok(Caller { project, admin })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}
