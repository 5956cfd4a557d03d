//! TLS certificates of TERMINATED_HTTPS listeners: a container ref (`default_tls_container_ref`,
//! `sni_container_refs`) is read when the listener is created or updated — from Barbican when
//! it is under the `api` section's `barbican URL` (a certificate container's `certificate`,
//! `intermediates` and `private_key` secrets, or one secret holding PEM), else from the
//! `certificates DIR` directory (the ref's last path segment names `DIR/ID` or `DIR/ID.pem`:
//! labs without Barbican) — checked (a certificate and its private key) and kept with the
//! listener (internal field `_tls`, ref → PEM), so a restart or another cluster node does not
//! need Barbican again. Before each apply, every live TERMINATED_HTTPS listener's PEMs and its
//! `crt-list` (default certificate first, then the SNI ones, as Octavia's amphora writes it) are
//! written under the output directory, which the rendered `bind ... ssl crt-list` names. The
//! same directory holds Octavia's `ping-wrapper.sh`, the external check of PING monitors.

use crate::ops::{err, ApiError};
use crate::state::{s, Obj, State};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where certificates come from (the `api` section's `certificates` and `barbican`).
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub dir: Option<PathBuf>,
    pub barbican: Option<String>,
    /// `auth keystone ... ca-file`: also trusted for an https:// Barbican.
    pub ca_file: Option<PathBuf>,
}

static OUT: OnceLock<PathBuf> = OnceLock::new();

/// Sets where the PEMs and crt-lists are written (once, at start; the first call wins).
pub fn set_out_dir(dir: PathBuf) {
    let _ = OUT.set(dir);
}

/// The output directory that goes with an embedded store at `store`: `STORE.certs`.
pub fn dir_for_store(store: &Path) -> PathBuf {
    let mut dir = store.as_os_str().to_owned();
    dir.push(".certs");
    dir.into()
}

/// Where the PEMs and crt-lists are written: the one set at start, else a directory of this
/// process under the system's temporary directory.
pub fn out_dir() -> &'static Path {
    OUT.get_or_init(|| {
        std::env::temp_dir().join(format!("fulcrum-lbaas-certs-{}", std::process::id()))
    })
}

/// The crt-list file a listener's `bind` names.
pub fn crt_list(listener_id: &str) -> PathBuf {
    out_dir().join(format!("{listener_id}.crt-list"))
}

/// The external check a PING monitor runs (Octavia's amphora ships the same script as
/// `/var/lib/octavia/ping-wrapper.sh`): one ICMP echo, 1 s, to the server's address.
pub fn ping_wrapper() -> PathBuf {
    out_dir().join("ping-wrapper.sh")
}

const PING_WRAPPER: &str = "#!/bin/bash\nif [[ $HAPROXY_SERVER_ADDR =~ \":\" ]]; then\n    /bin/ping6 -q -n -w 1 -c 1 $HAPROXY_SERVER_ADDR > /dev/null 2>&1\nelse\n    /bin/ping -q -n -w 1 -c 1 $HAPROXY_SERVER_ADDR > /dev/null 2>&1\nfi\n";

/// The refs a listener body names, default first.
fn refs(o: &Obj) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(d) = o.get("default_tls_container_ref").and_then(Value::as_str) {
        out.push(d.to_string());
    }
    if let Some(list) = o.get("sni_container_refs").and_then(Value::as_array) {
        for r in list.iter().filter_map(Value::as_str) {
            if !out.iter().any(|x| x == r) {
                out.push(r.to_string());
            }
        }
    }
    out
}

/// Octavia's rules for TLS refs on a listener (after the body is merged into the object).
pub fn check_listener(o: &Obj) -> Result<(), ApiError> {
    let terminated = s(o, "protocol") == "TERMINATED_HTTPS";
    let has_default = o
        .get("default_tls_container_ref")
        .and_then(Value::as_str)
        .is_some_and(|r| !r.is_empty());
    if terminated && !has_default {
        return Err(err(400, "Validation failure: An SNI or default certificate container reference must be provided for TERMINATED_HTTPS listeners."));
    }
    if !terminated && !refs(o).is_empty() {
        return Err(err(400, "Validation failure: Certificate container references are only allowed on TERMINATED_HTTPS protocol listeners."));
    }
    Ok(())
}

/// The PEMs of the refs a create/update body names (fetched now, outside the state lock):
/// ref → PEM. A ref that cannot be read or holds no certificate with its key is a 400, as
/// Octavia answers `Could not retrieve certificate`.
pub async fn fetch_refs(
    src: &Source,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for r in refs(body) {
        let pem = fetch(src, &r).await.map_err(|e| {
            err(
                400,
                format!("Could not retrieve certificate: ['{r}'] ({e})"),
            )
        })?;
        check_pem(&pem).map_err(|e| {
            err(
                400,
                format!("Could not retrieve certificate: ['{r}'] ({e})"),
            )
        })?;
        out.insert(r, Value::String(pem));
    }
    Ok(out)
}

/// Keeps with the listener the PEMs of the refs it now names (`fetched` adds new ones; those
/// no longer named are dropped).
pub fn keep(o: &mut Obj, fetched: Map<String, Value>) {
    let mut had = match o.remove("_tls") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    had.extend(fetched);
    let mut now = Map::new();
    let client = ["listener", "pool"]
        .into_iter()
        .flat_map(|k| crate::tls_refs::named(k, o))
        .map(|(_, r, _)| r);
    for r in refs(o).into_iter().chain(client) {
        if let Some(p) = had.remove(&r) {
            now.insert(r, p);
        }
    }
    if !now.is_empty() {
        o.insert("_tls".into(), Value::Object(now));
    }
}

pub(crate) async fn fetch(src: &Source, r: &str) -> Result<String, String> {
    if let Some(b) = src
        .barbican
        .as_deref()
        .filter(|b| r.starts_with(&format!("{b}/")))
    {
        let _ = b;
        return barbican(src, r).await;
    }
    let Some(dir) = &src.dir else {
        return Err(match &src.barbican {
            Some(b) => format!("the ref is not under the configured Barbican {b} and no 'certificates' directory is configured"),
            None => "no 'certificates' directory or 'barbican' URL is configured in the api section".into(),
        });
    };
    let id = r.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if id.is_empty()
        || id.starts_with('.')
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!("'{id}' is not a certificate id"));
    }
    for name in [id.to_string(), format!("{id}.pem")] {
        let p = dir.join(&name);
        if p.is_file() {
            return std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()));
        }
    }
    Err(format!("no {id} or {id}.pem in {}", dir.display()))
}

async fn get_text(src: &Source, url: &str, accept: &str) -> Result<String, String> {
    let (status, body) =
        crate::client::get(url, &[("Accept", accept)], src.ca_file.as_deref()).await?;
    if status != 200 {
        return Err(format!("Barbican answered {status} for {url}"));
    }
    String::from_utf8(body)
        .map_err(|_| format!("{url}: not text (PKCS12 bundles are not read; store PEM)"))
}

/// A Barbican certificate container (`/v1/containers/ID`) or a secret (`/v1/secrets/ID`).
async fn barbican(src: &Source, r: &str) -> Result<String, String> {
    if r.contains("/secrets/") {
        return get_text(src, &format!("{r}/payload"), "text/plain").await;
    }
    let v: Value = serde_json::from_str(&get_text(src, r, "application/json").await?)
        .map_err(|e| format!("Barbican container {r}: {e}"))?;
    let secret = |name: &str| {
        v["secret_refs"].as_array().and_then(|l| {
            l.iter()
                .find(|x| x["name"] == name)
                .and_then(|x| x["secret_ref"].as_str())
                .map(str::to_string)
        })
    };
    let mut pem = String::new();
    for (name, required) in [
        ("certificate", true),
        ("intermediates", false),
        ("private_key", true),
    ] {
        match secret(name) {
            Some(u) => {
                let text = get_text(src, &format!("{u}/payload"), "text/plain").await?;
                pem.push_str(text.trim_end());
                pem.push('\n');
            }
            None if required => return Err(format!("Barbican container {r} has no {name}")),
            None => {}
        }
    }
    if secret("private_key_passphrase").is_some() {
        return Err("encrypted private keys (private_key_passphrase) are not read".into());
    }
    Ok(pem)
}

/// A PEM with at least one certificate and one private key, both readable.
pub fn check_pem(pem: &str) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in it".into());
    }
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| "no private key in it".to_string())?;
    Ok(())
}

/// Writes the PEMs and crt-list of every TERMINATED_HTTPS listener in `state` under the output
/// directory (0700, files 0600) and removes the files of listeners no longer there.
pub fn write_all(state: &State) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = out_dir();
    let mut keep_names = std::collections::HashSet::new();
    let ping = state.all("healthmonitor").any(|h| s(h, "type") == "PING");
    let tls = state
        .all("listener")
        .any(|l| s(l, "protocol") == "TERMINATED_HTTPS")
        || state.all("pool").any(|p| p.contains_key("_tls"));
    if !ping && !tls && !dir.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    if ping {
        write_if_changed(&ping_wrapper(), PING_WRAPPER, |o| {
            o.mode(0o700);
        })?;
        keep_names.insert("ping-wrapper.sh".to_string());
    }
    for kind in ["listener", "pool"] {
        for o in state.all(kind) {
            for (name, pem) in crate::tls_refs::files(kind, o) {
                write_if_changed(&dir.join(&name), &pem, |o| {
                    o.mode(0o600);
                })?;
                keep_names.insert(name);
            }
        }
    }
    for l in state.all("listener") {
        if s(l, "protocol") != "TERMINATED_HTTPS" {
            continue;
        }
        let Some(Value::Object(pems)) = l.get("_tls") else {
            continue;
        };
        let lid = s(l, "id");
        let mut list = String::new();
        for (n, r) in refs(l).iter().enumerate() {
            let Some(pem) = pems.get(r).and_then(Value::as_str) else {
                continue;
            };
            let name = format!("{lid}.{n}.pem");
            let path = dir.join(&name);
            write_if_changed(&path, pem, |o| {
                o.mode(0o600);
            })?;
            list.push_str(&format!("{}\n", path.display()));
            keep_names.insert(name);
        }
        let name = format!("{lid}.crt-list");
        write_if_changed(&dir.join(&name), &list, |o| {
            o.mode(0o600);
        })?;
        keep_names.insert(name);
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let ours =
                name.ends_with(".pem") || name.ends_with(".crt-list") || name == "ping-wrapper.sh";
            if !keep_names.contains(&name) && ours {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

fn write_if_changed(
    path: &Path,
    text: &str,
    opts: impl FnOnce(&mut std::fs::OpenOptions),
) -> Result<(), String> {
    use std::io::Write;
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    let tmp = path.with_extension("tmp");
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    opts(&mut o);
    let mut f = o
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Removes the output directory (fulcrum stopping): private keys do not outlive the process
/// in the temporary directory.
pub fn remove_out_dir() {
    let _ = std::fs::remove_dir_all(out_dir());
}
