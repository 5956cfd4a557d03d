//! Keystone token validation: `GET {url}/v3/auth/tokens` with the caller's token as both
//! `X-Auth-Token` and `X-Subject-Token`; the answer's `token.project.id` is the caller's
//! project and an `admin` role makes it an admin. HTTP/1.1 over TCP, or over TLS for an
//! https:// URL (rustls; the server's certificate checked against `ca-file` or the system's
//! CA bundle, and its name against the URL's host).

use crate::ops::Caller;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The system's CA bundle (Debian's ca-certificates), used without `ca-file`.
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A TLS client trusting the CAs in `ca_file` (or the system's bundle).
fn tls(ca_file: Option<&Path>) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let path = ca_file.unwrap_or(Path::new(SYSTEM_CAS));
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("keystone CA file {}: {e}", path.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("keystone CA file {}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("keystone CA file {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "keystone CA file {}: no certificate",
            path.display()
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    req: &str,
) -> Result<Vec<u8>, String> {
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    // A TLS peer closing without close_notify after a complete answer is not an error here.
    match s.take(1 << 20).read_to_end(&mut buf).await {
        Ok(_) => Ok(buf),
        Err(e) if !buf.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(buf),
        Err(e) => Err(e.to_string()),
    }
}

pub async fn validate(url: &str, token: &str, ca_file: Option<&Path>) -> Result<Caller, String> {
    let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return Err(format!("keystone URL {url}: expected http:// or https://")),
    };
    let (hostport, prefix) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (rest, String::new()),
    };
    // `[v6]:port`, `host:port` or a bare host (the scheme's port).
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.to_string()),
        _ => (hostport, if https { "443" } else { "80" }.to_string()),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if token.contains(['\r', '\n']) {
        return Err("token with a line break".into());
    }
    let req = format!(
        "GET {prefix}/v3/auth/tokens HTTP/1.1\r\nHost: {hostport}\r\nX-Auth-Token: {token}\r\nX-Subject-Token: {token}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    let fetch = async {
        let tcp = tokio::net::TcpStream::connect((
            host,
            port.parse::<u16>()
                .map_err(|_| format!("keystone URL {url}: bad port"))?,
        ))
        .await
        .map_err(|e| e.to_string())?;
        if !https {
            return exchange(tcp, &req).await;
        }
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| format!("keystone URL {url}: {e}"))?;
        let s = tls(ca_file)?
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        exchange(s, &req).await
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
