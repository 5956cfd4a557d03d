//! Keystone token validation: `GET {url}/v3/auth/tokens` with the caller's token as both
//! `X-Auth-Token` and `X-Subject-Token`; the answer's `token.project.id` is the caller's
//! project and an `admin` role makes it an admin. HTTP/1.1 over TCP, or over TLS for an
//! https:// URL (rustls; the server's certificate checked against `ca-file` or the system's
//! CA bundle, and its name against the URL's host).

use crate::ops::Caller;
use serde_json::Value;
use std::path::Path;

pub async fn validate(url: &str, token: &str, ca_file: Option<&Path>) -> Result<Caller, String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("keystone URL {url}: expected http:// or https://"));
    }
    if token.contains(['\r', '\n']) {
        return Err("token with a line break".into());
    }
    let (status, body) = crate::client::get(
        &format!("{url}/v3/auth/tokens"),
        &[
            ("X-Auth-Token", token),
            ("X-Subject-Token", token),
            ("Accept", "application/json"),
        ],
        ca_file,
    )
    .await
    .map_err(|e| format!("keystone {e}"))?;
    if status != 200 {
        return Err(format!("keystone refused the token (status {status})"));
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("keystone answer: {e}"))?;
    let project = v["token"]["project"]["id"]
        .as_str()
        .ok_or("keystone answer has no token.project.id")?
        .to_string();
    let admin = v["token"]["roles"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["name"] == "admin"));
    Ok(Caller { project, admin })
}
