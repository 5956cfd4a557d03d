//! A small HTTP/1.1 GET client for the services the API asks (Keystone, Barbican): one request
//! per connection, over TCP or TLS (rustls; the server's certificate checked against `ca-file`
//! or the system's CA bundle, and its name against the URL's host), bounded to 5 s and 1 MiB.

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
        .map_err(|e| format!("CA file {}: {e}", path.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("CA file {}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("CA file {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("CA file {}: no certificate", path.display()));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
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

/// `GET url` with `headers`; the answer's status and body (de-chunked).
pub async fn get(
    url: &str,
    headers: &[(&str, &str)],
    ca_file: Option<&Path>,
) -> Result<(u16, Vec<u8>), String> {
    let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return Err(format!("URL {url}: expected http:// or https://")),
    };
    let (hostport, path) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (rest, "/".to_string()),
    };
    // `[v6]:port`, `host:port` or a bare host (the scheme's port).
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.to_string()),
        _ => (hostport, if https { "443" } else { "80" }.to_string()),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {hostport}\r\n");
    for (k, v) in headers {
        if v.contains(['\r', '\n']) || path.contains(['\r', '\n', ' ']) {
            return Err(format!("{k} or the path holds a line break or a space"));
        }
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    let fetch = async {
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("URL {url}: bad port"))?;
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| e.to_string())?;
        if !https {
            return exchange(tcp, &req).await;
        }
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| format!("URL {url}: {e}"))?;
        let s = tls(ca_file)?
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        exchange(s, &req).await
    };
    let buf = tokio::time::timeout(Duration::from_secs(5), fetch)
        .await
        .map_err(|_| format!("{url}: no answer in 5 s"))??;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{url}: malformed answer"))?;
    let head = String::from_utf8_lossy(&buf[..split]).to_ascii_lowercase();
    let body = &buf[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("{url}: malformed status line"))?;
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&body[..eol]);
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let rest = &body[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        body = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_are_joined() {
        assert_eq!(
            super::dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
            b"abcde"
        );
        assert_eq!(super::dechunk(b"zz\r\n"), b"");
    }
}
