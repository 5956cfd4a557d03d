//! The client-certificate refs of listeners and pools, as Octavia takes them: a listener's
//! `client_ca_tls_container_ref` (CA certificates a client certificate is checked against),
//! `client_authentication` (NONE, OPTIONAL, MANDATORY → haproxy's `verify none|optional|
//! required`) and `client_crl_container_ref` (a CRL); a pool's `tls_container_ref` (the
//! certificate and key fulcrum presents to its members), `ca_tls_container_ref` (the CAs a
//! member's certificate must chain to: `verify required`) and `crl_container_ref`.
//!
//! Each ref is read like the listener certificates (`certs::fetch`: Barbican or the
//! `certificates` directory), checked for what it must hold, kept with its object (`_tls`, ref
//! → PEM) and written before each apply as `ID.FIELD.pem`, which the rendering names
//! (`ca-file`/`verify`/`crl-file` on the bind, `crt`/`ca-file`/`crl-file` on each server).

use crate::ops::{err, ApiError};
use crate::state::{s, Obj};
use serde_json::{Map, Value};
use std::path::PathBuf;

/// What a ref must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A certificate (with its chain) and its private key.
    CertKey,
    /// One or more CA certificates.
    Ca,
    /// One or more certificate revocation lists.
    Crl,
}

const LISTENER: &[(&str, Role)] = &[
    ("client_ca_tls_container_ref", Role::Ca),
    ("client_crl_container_ref", Role::Crl),
];
const POOL: &[(&str, Role)] = &[
    ("tls_container_ref", Role::CertKey),
    ("ca_tls_container_ref", Role::Ca),
    ("crl_container_ref", Role::Crl),
];

/// The client-certificate ref fields of a kind.
pub fn fields(kind: &str) -> &'static [(&'static str, Role)] {
    match kind {
        "listener" => LISTENER,
        "pool" => POOL,
        _ => &[],
    }
}

/// The refs an object (or a body) names: (field, ref, role).
pub fn named(kind: &str, o: &Obj) -> Vec<(&'static str, String, Role)> {
    fields(kind)
        .iter()
        .filter_map(|(f, role)| {
            o.get(*f)
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
                .map(|r| (*f, r.to_string(), *role))
        })
        .collect()
}

fn has(o: &Obj, field: &str) -> bool {
    o.get(field)
        .and_then(Value::as_str)
        .is_some_and(|r| !r.is_empty())
}

/// Octavia's rules for a listener's client authentication (after the body is merged).
pub fn check_listener(o: &Obj) -> Result<(), ApiError> {
    let ca = has(o, "client_ca_tls_container_ref");
    let auth = s(o, "client_authentication");
    if (ca || has(o, "client_crl_container_ref")) && s(o, "protocol") != "TERMINATED_HTTPS" {
        return Err(err(400, "Validation failure: Certificate container references are only allowed on TERMINATED_HTTPS protocol listeners."));
    }
    if !ca && !matches!(auth, "" | "NONE") {
        return Err(err(400, format!("Validation failure: Client authentication setting {auth} requires a client CA container reference.")));
    }
    if !ca && has(o, "client_crl_container_ref") {
        return Err(err(400, "Validation failure: A client authentication CA reference is required to specify a client authentication revocation list."));
    }
    Ok(())
}

/// Octavia's rules for a pool's refs (after the body is merged).
pub fn check_pool(o: &Obj) -> Result<(), ApiError> {
    if has(o, "crl_container_ref") && !has(o, "ca_tls_container_ref") {
        return Err(err(
            400,
            "Validation failure: A CA certificate reference is required to specify a revocation list.",
        ));
    }
    Ok(())
}

/// Whether `pem` holds what `role` needs.
pub fn check_pem(role: Role, pem: &str) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
    match role {
        Role::CertKey => crate::certs::check_pem(pem),
        Role::Ca => {
            let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("bad PEM: {e}"))?;
            if certs.is_empty() {
                return Err("no CA certificate in it".into());
            }
            Ok(())
        }
        Role::Crl => {
            let crls: Vec<_> = CertificateRevocationListDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("bad PEM: {e}"))?;
            if crls.is_empty() {
                return Err("no certificate revocation list in it".into());
            }
            Ok(())
        }
    }
}

/// The PEMs of the client-certificate refs a create/update body names: ref → PEM; a ref that
/// cannot be read or does not hold what its field needs is a 400, as Octavia answers.
pub async fn fetch_refs(
    src: &crate::certs::Source,
    kind: &str,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for (field, r, role) in named(kind, body) {
        let what = match role {
            Role::CertKey => "certificate",
            Role::Ca => "CA certificate",
            Role::Crl => "certificate revocation list",
        };
        let pem = crate::certs::fetch(src, &r)
            .await
            .and_then(|p| check_pem(role, &p).map(|()| p))
            .map_err(|e| {
                err(
                    400,
                    format!("Could not retrieve {what} ({field}): ['{r}'] ({e})"),
                )
            })?;
        out.insert(r, Value::String(pem));
    }
    Ok(out)
}

/// The file a ref of `id`'s `field` is written to.
pub fn file(id: &str, field: &str) -> PathBuf {
    crate::certs::out_dir().join(format!("{id}.{field}.pem"))
}

/// The file of `field` when the object names a ref there and its PEM is kept.
pub fn kept_file(o: &Obj, field: &str) -> Option<PathBuf> {
    let r = o
        .get(field)
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())?;
    o.get("_tls")
        .and_then(Value::as_object)
        .and_then(|m| m.get(r))?;
    Some(file(s(o, "id"), field))
}

/// The bind options of a TERMINATED_HTTPS listener's client authentication, as Octavia's
/// template writes them: ` ca-file F verify V` and ` crl-file F` (empty without a CA).
pub fn bind_options(l: &Obj) -> String {
    let Some(ca) = kept_file(l, "client_ca_tls_container_ref") else {
        return String::new();
    };
    let verify = match s(l, "client_authentication") {
        "MANDATORY" => "required",
        "OPTIONAL" => "optional",
        _ => "none",
    };
    let mut o = format!(" ca-file {} verify {verify}", ca.display());
    if let Some(crl) = kept_file(l, "client_crl_container_ref") {
        o.push_str(&format!(" crl-file {}", crl.display()));
    }
    o
}

/// The server options of a `tls_enabled` pool: ` ssl`, then ` crt F` (client certificate),
/// ` ca-file F` (+ ` crl-file F`) with ` verify required`, or ` verify none` without a CA.
pub fn server_options(p: &Obj) -> String {
    let mut o = String::from(" ssl");
    if let Some(crt) = kept_file(p, "tls_container_ref") {
        o.push_str(&format!(" crt {}", crt.display()));
    }
    match kept_file(p, "ca_tls_container_ref") {
        Some(ca) => {
            o.push_str(&format!(" ca-file {}", ca.display()));
            if let Some(crl) = kept_file(p, "crl_container_ref") {
                o.push_str(&format!(" crl-file {}", crl.display()));
            }
            o.push_str(" verify required");
        }
        None => o.push_str(" verify none"),
    }
    o
}

/// The files to write for one object: (file name, PEM).
pub fn files(kind: &str, o: &Obj) -> Vec<(String, String)> {
    let Some(pems) = o.get("_tls").and_then(Value::as_object) else {
        return Vec::new();
    };
    named(kind, o)
        .into_iter()
        .filter_map(|(field, r, _)| {
            pems.get(&r)
                .and_then(Value::as_str)
                .map(|pem| (format!("{}.{field}.pem", s(o, "id")), pem.to_string()))
        })
        .collect()
}
