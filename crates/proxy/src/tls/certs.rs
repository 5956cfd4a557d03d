//! Reading certificates as HAProxy reads them: a PEM file with the certificate, its chain and
//! its key (or the key beside it in `FILE.key`), a directory of such files, the OCSP response
//! to staple from `FILE.ocsp`, and the names each certificate answers for (SAN DNS names and
//! the subject's CN, wildcards kept) for SNI selection.

use super::der;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One loaded certificate.
pub struct CertEntry {
    pub path: String,
    pub key: Arc<CertifiedKey>,
    /// Lower-case names it answers for (`*.example.com` kept as written).
    pub names: Vec<String>,
}

/// `p` under `base` when relative (`crt-base`, `ca-base`).
pub fn under(base: Option<&str>, p: &str) -> PathBuf {
    match base {
        Some(b) if !p.starts_with('/') => Path::new(b).join(p),
        _ => PathBuf::from(p),
    }
}

/// Files of a directory that are not certificates themselves (HAProxy skips them too).
fn companion(name: &str) -> bool {
    name.starts_with('.')
        || [".ocsp", ".issuer", ".sctl", ".key"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// A `crt` argument: one file, or every certificate of a directory (sorted by name).
pub fn load_path(path: &Path) -> Result<Vec<CertEntry>, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read certificate '{}': {e}", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![load_file(path)?]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| {
            format!(
                "cannot list certificate directory '{}': {e}",
                path.display()
            )
        })?
        .filter_map(|e| e.ok())
        .filter(|e| !companion(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "certificate directory '{}' holds no certificate",
            path.display()
        ));
    }
    files.iter().map(|f| load_file(f)).collect()
}

pub fn load_file(path: &Path) -> Result<CertEntry, String> {
    let shown = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read certificate '{shown}': {e}"))?;
    let (chain, key) = parse_pem(&bytes, &shown)?;
    let key = match key {
        Some(k) => k,
        None => {
            let beside = PathBuf::from(format!("{shown}.key"));
            PrivateKeyDer::from_pem_file(&beside).map_err(|_| {
                format!(
                    "'{shown}' holds no private key (and there is no '{}')",
                    beside.display()
                )
            })?
        }
    };
    let mut ck = certified(chain, &key, &shown)?;
    let ocsp = PathBuf::from(format!("{shown}.ocsp"));
    if let Ok(resp) = std::fs::read(&ocsp) {
        if !resp.is_empty() {
            ck.ocsp = Some(resp);
        }
    }
    Ok(CertEntry {
        names: names(&ck.cert[0]),
        path: shown,
        key: Arc::new(ck),
    })
}

/// The certificate chain (leaf first) and the private key of PEM text; errors when there is
/// no certificate. `shown` names the source in messages.
pub fn parse_pem(
    bytes: &[u8],
    shown: &str,
) -> Result<(Vec<CertificateDer<'static>>, Option<PrivateKeyDer<'static>>), String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate '{shown}': invalid PEM: {e:?}"))?;
    if chain.is_empty() {
        return Err(format!(
            "'{shown}' holds no certificate (expected a PEM 'BEGIN CERTIFICATE' block)"
        ));
    }
    Ok((chain, PrivateKeyDer::from_pem_slice(bytes).ok()))
}

/// A chain and its key as rustls serves them, once the key is known to match.
pub fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'_>,
    shown: &str,
) -> Result<CertifiedKey, String> {
    let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(key)
        .map_err(|e| format!("'{shown}': unsupported private key: {e}"))?;
    let ck = CertifiedKey::new(chain, signer);
    if ck.keys_match().is_err() {
        return Err(format!(
            "'{shown}': the private key does not match the certificate"
        ));
    }
    Ok(ck)
}

/// The names a certificate answers for: its SAN DNS names and its subject CN.
pub fn names(cert: &CertificateDer<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Ok(ee) = webpki::EndEntityCert::try_from(cert) {
        out.extend(ee.valid_dns_names().map(str::to_ascii_lowercase));
    }
    if let Some(cn) = der::fields(cert).and_then(|f| der::common_name(f.subject)) {
        let cn = cn.to_ascii_lowercase();
        if !out.contains(&cn) {
            out.push(cn);
        }
    }
    out
}

/// The certificates of a CA file (`ca-file`).
pub fn load_cas(path: &Path) -> Result<rustls::RootCertStore, String> {
    let shown = path.display();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read CA file '{shown}': {e:?}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("CA file '{shown}': invalid PEM: {e:?}"))?;
    let mut store = rustls::RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("CA file '{shown}' holds no usable certificate"));
    }
    Ok(store)
}

/// The revocation lists of a CRL file (`crl-file`).
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let shown = path.display();
    let crls: Vec<_> = CertificateRevocationListDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read CRL file '{shown}': {e:?}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("CRL file '{shown}': invalid PEM: {e:?}"))?;
    if crls.is_empty() {
        return Err(format!(
            "CRL file '{shown}' holds no revocation list (expected 'BEGIN X509 CRL')"
        ));
    }
    Ok(crls)
}
