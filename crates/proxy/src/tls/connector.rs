//! TLS to servers (`server ... ssl`): the rustls client settings of a server line
//! (`verify none|required`, `ca-file` (or `@system-ca`), `crl-file`, `sni EXPR` (a constant
//! `str(NAME)`, or any sample expression evaluated for each new connection on the request
//! that opens it: `sni ssl_fc_sni`, `sni req.hdr(host)`),
//! `verifyhost`, `alpn`, `crt` as client certificate, versions and suites, session reuse
//! unless `no-ssl-reuse`, TLS 1.2 tickets unless `no-tls-tickets`), and the handshake on a
//! freshly opened connection.
//!
//! As HAProxy, `verify required` checks the chain always and the name only when one is given
//! (`verifyhost`, else `sni`); and with neither `verify` nor `ca-file` the line is refused
//! with HAProxy's own advice, never silently left unverified.

use super::cafiles::{self, Kind};
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

/// Chain checked by webpki; the name only when `check_name` says so, or, with `sni EXPR`,
/// against the SNI a connection sent (none sent: no name checked, as HAProxy).
#[derive(Debug)]
struct Verifier {
    inner: Option<Live>,
    check_name: Option<ServerName<'static>>,
    dynamic_sni: bool,
    algs: WebPkiSupportedAlgorithms,
}

/// The chain verifier of a server line's `ca-file` (and `crl-file`), built again from the
/// files as committed when the runtime socket commits one (`cafiles`): the next handshakes
/// verify with them. (HAProxy 2.6 does so only for a server with a client certificate, one
/// without keeps the files it started with.)
#[derive(Debug)]
struct Live {
    /// Registry names of the CA file and the CRL file.
    ca: String,
    crl: Option<String>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: std::sync::RwLock<(u64, Arc<WebPkiServerVerifier>)>,
    _files: Vec<cafiles::FileUse>,
}

impl Live {
    /// `counted`: the line's uses of the files show (HAProxy 2.6 links a server's CA and CRL
    /// files only when it has a client certificate, `crt`: without one its files are
    /// listed unused, and a commit prints no dot for it).
    fn new(
        ca: String,
        crl: Option<String>,
        provider: Arc<rustls::crypto::CryptoProvider>,
        counted: bool,
    ) -> Result<Live, String> {
        let generation = cafiles::generation();
        let (verifier, mut files) = Self::build(&ca, crl.as_deref(), &provider, true)?;
        if !counted {
            files.clear();
        }
        Ok(Live {
            ca,
            crl,
            provider,
            current: std::sync::RwLock::new((generation, verifier)),
            _files: files,
        })
    }

    fn build(
        ca: &str,
        crl: Option<&str>,
        provider: &Arc<rustls::crypto::CryptoProvider>,
        fresh: bool,
    ) -> Result<(Arc<WebPkiServerVerifier>, Vec<cafiles::FileUse>), String> {
        let (items, ca_use) = cafiles::load(ca, Kind::Ca, fresh)?;
        let roots = cafiles::roots(&items, ca)?;
        let mut files = vec![ca_use];
        let mut b = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        if let Some(crl) = crl {
            let (items, crl_use) = cafiles::load(crl, Kind::Crl, fresh)?;
            files.push(crl_use);
            b = b
                .with_crls(cafiles::crls(&items))
                .only_check_end_entity_revocation();
        }
        let v = b
            .build()
            .map_err(|e| format!("server certificate verification: {e}"))?;
        Ok((v, files))
    }

    /// The verifier of the files as committed now.
    fn get(&self) -> Arc<WebPkiServerVerifier> {
        let generation = cafiles::generation();
        {
            let c = self.current.read().unwrap_or_else(|e| e.into_inner());
            if c.0 == generation {
                return c.1.clone();
            }
        }
        let mut c = self.current.write().unwrap_or_else(|e| e.into_inner());
        if c.0 != generation {
            match Self::build(&self.ca, self.crl.as_deref(), &self.provider, false) {
                Ok((v, _)) => c.1 = v,
                Err(m) => tracing::warn!("server TLS: {m} (the previous CAs stay)"),
            }
            c.0 = generation;
        }
        c.1.clone()
    }
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
        // A connection made with an SNI from `sni EXPR` is checked against it; one without
        // (an address as its name: nothing sent) has no name to check.
        let named = self.check_name.is_some()
            || (self.dynamic_sni && matches!(server_name, ServerName::DnsName(_)));
        match inner
            .get()
            .verify_server_cert(end_entity, intermediates, name, ocsp, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !named => Ok(ServerCertVerified::assertion()),
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

/// A server's `sni`: a constant name (`str(NAME)`), or an expression for each connection.
enum Sni {
    Constant(String),
    Expr(fulcrum_sample::expr::Expr),
}

fn sni_of(expr: &str) -> Result<Sni, String> {
    if let Some(name) = expr.strip_prefix("str(").and_then(|r| r.strip_suffix(')')) {
        if !name.contains([',', '(', ')']) {
            return Ok(Sni::Constant(name.to_string()));
        }
    }
    fulcrum_sample::expr::compile(expr)
        .map(Sni::Expr)
        .map_err(|e| format!("'sni {expr}': {}", e.msg))
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
    let (sni, sni_expr) = match o.sni.as_deref().map(sni_of).transpose()? {
        Some(Sni::Constant(n)) => (Some(n), None),
        Some(Sni::Expr(e)) => (None, Some(Arc::new(e))),
        None => (None, None),
    };
    if sni_expr.is_some() && (s.proto_h2 || alpn_h2(&o)) {
        return Err(
            "'sni' with an expression on an HTTP/2 server ('proto h2', 'alpn h2') is not supported by fulcrum yet"
                .into(),
        );
    }
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
            let base = global.ca_base.as_deref();
            let ca = if ca == cafiles::SYSTEM_CA {
                ca.to_string()
            } else {
                certs::under(base, ca).display().to_string()
            };
            let crl = o
                .crl_file
                .as_ref()
                .map(|c| certs::under(base, c).display().to_string());
            Some(Live::new(ca, crl, provider.clone(), !o.crt.is_empty())?)
        }
    };
    let verifier = Arc::new(Verifier {
        inner,
        check_name,
        dynamic_sni: sni_expr.is_some(),
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
    // An address as the name never goes out as SNI (rustls): a connection without one.
    config.enable_sni = sni.is_some() || sni_expr.is_some();
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
        sni: sni_expr,
    })
}

/// Whether the server line's `alpn` offers `h2`.
fn alpn_h2(o: &fulcrum_config::tls::TlsOptions) -> bool {
    o.alpn.iter().flatten().any(|p| p == "h2")
}

/// Runs the TLS handshake on a freshly opened server connection; `sni`: the value of the
/// server's `sni EXPR` for the request opening it (none: no SNI sent).
pub async fn wrap(
    conn: ServerConn,
    tls: &ServerTls,
    counters: [&Counters; 2],
    sni: Option<&str>,
) -> io::Result<ServerConn> {
    let ServerConn::Tcp(tcp) = conn else {
        return Ok(conn);
    };
    let open = super::totals::connection();
    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
    let dynamic = tls
        .sni
        .as_ref()
        .and_then(|_| ServerName::try_from(sni?.to_string()).ok());
    let name = match &dynamic {
        Some(n) => n.clone(),
        // `sni EXPR` without a value: no SNI (an address never goes out as one).
        None if tls.sni.is_some() => ServerName::IpAddress(
            tcp.peer_addr()
                .map(|a| a.ip())
                .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into())
                .into(),
        ),
        None => tls.name.clone(),
    };
    let stream = match connector.connect(name, tcp).await {
        Ok(s) => s,
        Err(e) => {
            for c in counters {
                super::conn::count_handshake(c, None, false);
            }
            return Err(e);
        }
    };
    let mut info = super::conn::info(stream.get_ref().1);
    if let Some(ServerName::DnsName(n)) = &dynamic {
        // What this connection was opened for: an idle one serves only requests of this SNI.
        info.sni = Some(n.as_ref().into());
    }
    for c in counters {
        super::conn::count_handshake(c, Some(info.resumed), false);
    }
    Ok(ServerConn::Tls(Box::new(TlsConn::new(stream, info, open))))
}
