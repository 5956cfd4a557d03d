//! The TLS client of keepalived's SSL_GET: a handshake over an established TCP connection,
//! bounded by `connect_timeout`. As keepalived's SSL_GET without an `ssl { ca ... }` block,
//! the server's certificate is not verified (a health check asks "does the service answer", and
//! real servers commonly carry self-signed certificates); no SNI is sent, as keepalived sends
//! none unless `enable_sni` is set. A failed handshake is "Layer6 invalid response", a slow one
//! "Layer6 timeout", in HAProxy's words.

use crate::probe::addr::{CheckAddr, Conn, Dest};
use crate::probe::script::TlsSettings;
use crate::probe::tcp;
use crate::status::{CheckOutcome, CheckStatus};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Accepts any certificate; signatures are still checked with the provider's algorithms so a
/// broken handshake is still an error.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// One client configuration for every SSL_GET check of the process.
fn connector() -> Result<TlsConnector, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        Ok(Arc::new(config))
    });
    config.clone().map(TlsConnector::from)
}

/// TCP connect then TLS handshake, together within `timeout`.
pub async fn connect(
    addr: SocketAddr,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, CheckOutcome> {
    connect_to(&addr.into(), None, timeout).await
}

/// [`connect`] from the check address's source, sending `sni` as the server name when given.
pub async fn connect_to(
    addr: &CheckAddr,
    sni: Option<&str>,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, CheckOutcome> {
    let start = crate::clock::now();
    let Dest::Ip(ip) = addr.dest else {
        return Err(CheckOutcome::new(CheckStatus::L4Connection, Duration::ZERO)
            .with_info("TLS checks need an IP address"));
    };
    let tcp = match tcp::connect_to(addr, timeout).await? {
        Conn::Tcp(s) => s,
        Conn::Unix(_) => {
            return Err(CheckOutcome::new(CheckStatus::L4Connection, Duration::ZERO)
                .with_info("TLS checks need an IP address"))
        }
    };
    let connector = connector().map_err(|e| {
        CheckOutcome::new(CheckStatus::L6Response, crate::clock::since(start)).with_info(e)
    })?;
    // An IP address as the server name: rustls sends no SNI for it.
    let name = sni
        .and_then(|n| ServerName::try_from(n.to_string()).ok())
        .unwrap_or_else(|| ServerName::IpAddress(ip.ip().into()));
    let left = timeout.saturating_sub(crate::clock::since(start));
    match tokio::time::timeout(left, connector.connect(name, tcp)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(
            CheckOutcome::new(CheckStatus::L6Response, crate::clock::since(start))
                .with_info(e.to_string()),
        ),
        Err(_) => Err(CheckOutcome::new(
            CheckStatus::L6Timeout,
            crate::clock::since(start),
        )),
    }
}

/// A client configuration for a check's TLS settings: verified against `ca_file` (the
/// server's name is the SNI, else its address), or not verified (`verify none`); ALPN as
/// configured. Built once per distinct settings.
fn settings_connector(t: &TlsSettings) -> Result<TlsConnector, String> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    type Key = (Option<String>, Vec<String>);
    static CACHE: OnceLock<Mutex<HashMap<Key, Arc<ClientConfig>>>> = OnceLock::new();
    let key = (t.ca_file.clone(), t.alpn.clone());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(TlsConnector::from(c));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let mut config = match &t.ca_file {
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
        Some(path) => {
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            for cert in
                CertificateDer::pem_file_iter(path).map_err(|e| format!("ca-file {path}: {e}"))?
            {
                let cert = cert.map_err(|e| format!("ca-file {path}: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("ca-file {path}: {e}"))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    config.alpn_protocols = t.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let config = Arc::new(config);
    if let Ok(mut m) = cache.lock() {
        m.insert(key, config.clone());
    }
    Ok(TlsConnector::from(config))
}

/// The TLS handshake of a check's connect step on an established TCP connection, within
/// `timeout`: failed → L6RSP with the reason, slow → L6TOUT (HAProxy's statuses).
pub async fn handshake(
    tcp: TcpStream,
    ip: std::net::IpAddr,
    t: &TlsSettings,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, CheckOutcome> {
    let start = crate::clock::now();
    let connector = settings_connector(t).map_err(|e| {
        CheckOutcome::new(CheckStatus::L6Response, crate::clock::since(start)).with_info(e)
    })?;
    let name = t
        .sni
        .as_ref()
        .and_then(|n| ServerName::try_from(n.clone()).ok())
        .unwrap_or_else(|| ServerName::IpAddress(ip.into()));
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Ok(Ok(tls)) => Ok(tls),
        // HAProxy's words for any failed handshake (rustls's reason is in the debug log)
        Ok(Err(e)) => {
            tracing::debug!("check TLS handshake with {ip}: {e}");
            Err(
                CheckOutcome::new(CheckStatus::L6Response, crate::clock::since(start))
                    .with_info("SSL handshake failure"),
            )
        }
        Err(_) => Err(CheckOutcome::new(
            CheckStatus::L6Timeout,
            crate::clock::since(start),
        )),
    }
}
