//! TLS to servers (`server ... ssl`): the rustls client settings of a server line
//! (`verify none|required`, `ca-file` (or `@system-ca`), `crl-file`, `sni str(NAME)`,
//! `verifyhost`, `alpn`, `crt` as client certificate, versions and suites, session reuse
//! unless `no-ssl-reuse`, TLS 1.2 tickets unless `no-tls-tickets`), and the handshake on a
//! freshly opened connection.
//!
//! As HAProxy, `verify required` checks the chain always and the name only when one is given
//! (`verifyhost`, else `sni`); and with neither `verify` nor `ca-file` the line is refused
//! with HAProxy's own advice, never silently left unverified.

use super::certs;
use super::conn::TlsConn;
use super::suites;
use crate::connect::ServerConn;
use crate::counters::Counters;
use crate::server::ServerTls;
use fulcrum_config::model::Server;
use fulcrum_config::tls::{GlobalTls, Verify};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, Error, SignatureScheme};
use std::io;
use std::sync::Arc;

pub type ClientTls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// The system's CA bundle (`ca-file @system-ca`).
const SYSTEM_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Chain checked by webpki; the name only when `check_name` says so.
#[derive(Debug)]
struct Verifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    check_name: Option<ServerName<'static>>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion()); // verify none
        };
        let name = self.check_name.as_ref().unwrap_or(server_name);
        match inner.verify_server_cert(end_entity, intermediates, name, ocsp, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.check_name.is_none() => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// `sni str(NAME)` → NAME. Other expressions need the request at connect time: not yet.
fn sni_name(expr: &str) -> Result<String, String> {
    expr.strip_prefix("str(")
        .and_then(|r| r.strip_suffix(')'))
        .map(str::to_string)
        .ok_or_else(|| {
            format!("'sni {expr}': only a constant 'sni str(NAME)' is supported by fulcrum yet")
        })
}

fn dns(name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name.to_string())
        .map_err(|_| format!("'{name}' is not a valid server name"))
}

/// The TLS settings of server line `s`; errors name what is wrong (the caller adds the line).
pub fn build(s: &Server, global: &GlobalTls) -> Result<ServerTls, String> {
    if s.address.unix.is_some() {
        return Err("'ssl' to a unix socket server is not supported by fulcrum yet".into());
    }
    let o = suites::merged(&s.tls, &global.default_server);
    let provider = suites::provider(&o)?;
    let versions = suites::versions(&o)?;
    let verify = o
        .verify
        .or(global.server_verify)
        .unwrap_or(Verify::Required);
    let sni = o.sni.as_deref().map(sni_name).transpose()?;
    let check_name = match (&o.verifyhost, &sni) {
        (Some(h), _) => Some(dns(h)?),
        (None, Some(n)) => Some(dns(n)?),
        (None, None) => None,
    };
    let inner = match verify {
        Verify::None => None,
        _ => {
            let ca = o.ca_file.as_deref().ok_or_else(|| {
                "verify is enabled by default but no CA file specified; set 'ca-file', or an explicit 'verify none' on the server line, or 'ssl-server-verify none' in the global section".to_string()
            })?;
            let path = if ca == "@system-ca" {
                SYSTEM_CA.into()
            } else {
                certs::under(global.ca_base.as_deref(), ca)
            };
            let roots = certs::load_cas(&path)?;
            let mut b =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            if let Some(crl) = &o.crl_file {
                b = b
                    .with_crls(certs::load_crls(&certs::under(
                        global.ca_base.as_deref(),
                        crl,
                    ))?)
                    .only_check_end_entity_revocation();
            }
            Some(
                b.build()
                    .map_err(|e| format!("server certificate verification: {e}"))?,
            )
        }
    };
    let verifier = Arc::new(Verifier {
        inner,
        check_name,
        algs: provider.signature_verification_algorithms,
    });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS settings: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match o.crt.first() {
        None => builder.with_no_client_auth(),
        Some(crt) => {
            let e = certs::load_file(&certs::under(global.crt_base.as_deref(), crt))?;
            let chain = e.key.cert.clone();
            let bytes = std::fs::read(&e.path).map_err(|err| format!("'{}': {err}", e.path))?;
            let key =
                <PrivateKeyDer<'static> as rustls::pki_types::pem::PemObject>::from_pem_slice(
                    &bytes,
                )
                .map_err(|_| format!("'{}' holds no private key", e.path))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|err| format!("client certificate '{}': {err}", e.path))?
        }
    };
    config.alpn_protocols = o
        .alpn
        .iter()
        .flatten()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    config.enable_sni = sni.is_some();
    if o.no_ssl_reuse {
        config.resumption = Resumption::disabled();
    } else if o.no_tls_tickets {
        // `no-tls-tickets`: TLS 1.2 sessions resume by id only (TLS 1.3 resumes by tickets).
        config.resumption =
            Resumption::default().tls12_resumption(rustls::client::Tls12Resumption::SessionIdOnly);
    }
    let name = match &sni {
        Some(n) => dns(n)?,
        None => match s.address.ip {
            Some(ip) => ServerName::IpAddress(ip.into()),
            None => dns(&s.address.host)
                .unwrap_or_else(|_| ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())),
        },
    };
    Ok(ServerTls {
        config: Arc::new(config),
        name,
    })
}

/// Runs the TLS handshake on a freshly opened server connection.
pub async fn wrap(
    conn: ServerConn,
    tls: &ServerTls,
    counters: [&Counters; 2],
) -> io::Result<ServerConn> {
    let ServerConn::Tcp(tcp) = conn else {
        return Ok(conn);
    };
    let open = super::totals::connection();
    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
    let stream = match connector.connect(tls.name.clone(), tcp).await {
        Ok(s) => s,
        Err(e) => {
            for c in counters {
                super::conn::count_handshake(c, None, false);
            }
            return Err(e);
        }
    };
    let info = super::conn::info(stream.get_ref().1);
    for c in counters {
        super::conn::count_handshake(c, Some(info.resumed), false);
    }
    Ok(ServerConn::Tls(Box::new(TlsConn::new(stream, info, open))))
}
