//! The process's CA files and CRL files by name (HAProxy's "cafile entries": one tree holds
//! both kinds), what `ca-file` and `crl-file` on binds and servers verify with, and the
//! runtime socket's commands on them with HAProxy 2.6's answers: `show|new|set|commit|abort|
//! del ssl ca-file` and the same for `crl-file`, one open transaction per kind.
//!
//! A committed file is what the next handshakes verify with: binds rebuild their settings
//! (`acceptor`), servers' verifiers re-read it (`connector`), both when [`generation`]
//! moves; established connections keep what they negotiated. A config (its first load, a
//! reload, `fulcrum check`) reads the files from disk again, as a HAProxy reload does; what a
//! running config adds at run time (`add ssl crt-list`, a rebuild) takes what is here.
//! `@system-ca` is the system's certificate directory read as HAProxy 2.6 reads it (the
//! first certificate of each `.pem`, `.crt`, `.cer` or `.crl` file, in name order), listed
//! from the first command on, as HAProxy lists the one its HTTP client loads at start.

use super::x509_store;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ca,
    Crl,
}

/// The system's certificate directory (`X509_get_default_cert_dir()` on Debian).
const SYSTEM_DIR: &str = "/usr/lib/ssl/certs";
pub const SYSTEM_CA: &str = "@system-ca";

struct Entry {
    kind: Kind,
    /// DER certificates or CRLs, in the order OpenSSL's store shows them.
    items: Arc<Vec<Vec<u8>>>,
    /// Bind certificates and servers verifying with it now (HAProxy's instance links).
    uses: Arc<AtomicUsize>,
}

struct Tx {
    name: String,
    items: Vec<Vec<u8>>,
}

struct Registry {
    files: BTreeMap<String, Entry>,
    ca_tx: Option<Tx>,
    crl_tx: Option<Tx>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    files: BTreeMap::new(),
    ca_tx: None,
    crl_tx: None,
});

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// How many commits (of either kind) this process has seen.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// A file's DER objects (certificates, CRLs), in the order OpenSSL's store shows them.
pub type Items = Arc<Vec<Vec<u8>>>;

/// One bind certificate's or server's use of a file, counted while it lives.
#[derive(Debug)]
pub struct FileUse(Arc<AtomicUsize>);

impl Drop for FileUse {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The contents of file `name` of `kind`: read from disk when `fresh` (a config being
/// loaded; the registry takes what was read), else what the registry holds (read once if
/// it holds nothing of that name). Counts a use when `count`.
pub fn load(name: &str, kind: Kind, fresh: bool) -> Result<(Items, FileUse), String> {
    if !fresh {
        let r = registry();
        if let Some(e) = r.files.get(name).filter(|e| e.kind == kind) {
            e.uses.fetch_add(1, Ordering::Relaxed);
            return Ok((e.items.clone(), FileUse(e.uses.clone())));
        }
    }
    let items = Arc::new(read(name, kind)?);
    let mut r = registry();
    let e = r.files.entry(name.to_string()).or_insert_with(|| Entry {
        kind,
        items: items.clone(),
        uses: Arc::default(),
    });
    e.kind = kind;
    e.items = items.clone();
    e.uses.fetch_add(1, Ordering::Relaxed);
    Ok((items, FileUse(e.uses.clone())))
}

/// Reads a CA or CRL file as the config names it (errors as the config check words them).
fn read(name: &str, kind: Kind) -> Result<Vec<Vec<u8>>, String> {
    if name == SYSTEM_CA && kind == Kind::Ca {
        return Ok(system_cas());
    }
    let path = Path::new(name);
    let shown = path.display();
    let items: Vec<Vec<u8>> = match kind {
        Kind::Ca => CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read CA file '{shown}': {e:?}"))?
            .map(|c| c.map(|c| c.to_vec()))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("CA file '{shown}': invalid PEM: {e:?}"))?,
        Kind::Crl => CertificateRevocationListDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read CRL file '{shown}': {e:?}"))?
            .map(|c| c.map(|c| c.to_vec()))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("CRL file '{shown}': invalid PEM: {e:?}"))?,
    };
    if kind == Kind::Crl && items.is_empty() {
        return Err(format!(
            "CRL file '{shown}' holds no revocation list (expected 'BEGIN X509 CRL')"
        ));
    }
    Ok(ordered(items))
}

fn ordered(items: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    x509_store::store_order(items)
}

/// The system's CAs as HAProxy 2.6 loads `@system-ca`: in file name order, the first
/// certificate of each file whose name ends in `.pem`, `.crt`, `.cer` or `.crl` (not
/// starting with a dot).
fn system_cas() -> Vec<Vec<u8>> {
    let Ok(dir) = std::fs::read_dir(SYSTEM_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|d| d.ok()?.file_name().into_string().ok())
        .filter(|n| {
            !n.starts_with('.')
                && [".pem", ".crt", ".cer", ".crl"].iter().any(|x| {
                    n.rsplit_once('.')
                        .is_some_and(|(_, e)| format!(".{e}") == *x)
                })
        })
        .collect();
    names.sort();
    let items = names
        .iter()
        .filter_map(|n| {
            let bytes = std::fs::read(Path::new(SYSTEM_DIR).join(n)).ok()?;
            Some(
                CertificateDer::pem_slice_iter(&bytes)
                    .next()?
                    .ok()?
                    .to_vec(),
            )
        })
        .collect();
    ordered(items)
}

/// Lists `@system-ca` (once), as HAProxy's HTTP client loads it at start.
fn ensure_system(r: &mut Registry) {
    if !r.files.contains_key(SYSTEM_CA) {
        let items = system_cas();
        if !items.is_empty() {
            r.files.insert(
                SYSTEM_CA.into(),
                Entry {
                    kind: Kind::Ca,
                    items: Arc::new(items),
                    uses: Arc::default(),
                },
            );
        }
    }
}

/// The trust anchors of CA file contents.
pub fn roots(items: &[Vec<u8>], name: &str) -> Result<rustls::RootCertStore, String> {
    let mut store = rustls::RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(
        items
            .iter()
            .filter(|c| !x509_store::is_crl(c))
            .map(|c| CertificateDer::from(c.clone()))
            .collect::<Vec<_>>(),
    );
    if added == 0 {
        return Err(format!("CA file '{name}' holds no usable certificate"));
    }
    Ok(store)
}

/// The revocation lists of CRL file contents.
pub fn crls(items: &[Vec<u8>]) -> Vec<CertificateRevocationListDer<'static>> {
    items
        .iter()
        .filter(|c| x509_store::is_crl(c))
        .map(|c| CertificateRevocationListDer::from(c.clone()))
        .collect()
}

/// A runtime socket command on CA or CRL files (the words after `ssl ca-file|crl-file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCommand {
    /// `show`: the list, or one file's details (`NAME[:INDEX]`, `*NAME` for the transaction).
    Show(Option<String>),
    New(String),
    /// `set NAME <<`: the payload, None when the line had none.
    Set(String, Option<String>),
    Commit(String),
    Abort(String),
    Del(String),
}

/// Runs `c` on files of `kind`; HAProxy 2.6's answer.
pub fn run(kind: Kind, c: &FileCommand) -> String {
    let mut r = registry();
    ensure_system(&mut r);
    match c {
        FileCommand::Show(None) => r.list(kind),
        FileCommand::Show(Some(arg)) => r.detail(kind, arg),
        FileCommand::New(name) => r.create(kind, name),
        FileCommand::Set(name, payload) => r.set(kind, name, payload.as_deref()),
        FileCommand::Commit(name) => r.commit(kind, name),
        FileCommand::Abort(name) => r.abort(kind, name),
        FileCommand::Del(name) => r.delete(kind, name),
    }
}

/// The words HAProxy uses for each kind.
fn word(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Ca => ("ca-file", "CA"),
        Kind::Crl => ("crl-file", "CRL"),
    }
}

/// Parses a payload of PEM certificates and CRLs (either kind takes both, as HAProxy's
/// store does); None when it holds none, or one that does not read.
fn parse_payload(payload: &str) -> Option<Vec<Vec<u8>>> {
    use rustls::pki_types::pem::SectionKind;
    let mut rd = std::io::Cursor::new(payload.as_bytes());
    let mut items = Vec::new();
    while let Some((section, der)) = rustls::pki_types::pem::from_buf(&mut rd).ok()? {
        match section {
            SectionKind::Certificate if super::der::fields(&der).is_some() => items.push(der),
            SectionKind::Crl if x509_store::is_crl(&der) => items.push(der),
            SectionKind::Certificate | SectionKind::Crl => return None,
            _ => {}
        }
    }
    (!items.is_empty()).then(|| ordered(items))
}

impl Registry {
    fn tx(&mut self, kind: Kind) -> &mut Option<Tx> {
        match kind {
            Kind::Ca => &mut self.ca_tx,
            Kind::Crl => &mut self.crl_tx,
        }
    }

    fn list(&mut self, kind: Kind) -> String {
        let mut out = String::new();
        let count = |items: &[Vec<u8>]| format!(" - {} certificate(s)", items.len());
        if let Some(tx) = self.tx(kind).as_ref() {
            out.push_str("# transaction\n");
            match kind {
                Kind::Ca => {
                    let _ = writeln!(out, "*{}{}", tx.name, count(&tx.items));
                }
                Kind::Crl => {
                    let _ = writeln!(out, "*{}", tx.name);
                }
            }
        }
        out.push_str("# filename\n");
        for (name, e) in self.files.iter().filter(|(_, e)| e.kind == kind) {
            match kind {
                Kind::Ca => {
                    let _ = writeln!(out, "{name}{}", count(&e.items));
                }
                Kind::Crl => {
                    let _ = writeln!(out, "{name}");
                }
            }
        }
        out
    }

    fn detail(&mut self, kind: Kind, arg: &str) -> String {
        let (_, what) = word(kind);
        let not_found = format!("Can't display the {what} file : Not found!\n");
        let (name, index) = match arg.split_once(':') {
            Some((n, i)) => match i.parse::<i64>() {
                Ok(i) if i > 0 => (n, usize::try_from(i).ok()),
                _ => return format!("wrong {what} index after colons in '{arg}'!"),
            },
            None => (arg, None),
        };
        let (shown, items, used) = if let Some(n) = name.strip_prefix('*') {
            match self.tx(kind).as_ref() {
                Some(tx) if tx.name == n => (name.to_string(), tx.items.clone(), false),
                _ => return not_found,
            }
        } else {
            match self.files.get(name).filter(|e| e.kind == kind) {
                Some(e) => (
                    name.to_string(),
                    e.items.to_vec(),
                    e.uses.load(Ordering::Relaxed) > 0,
                ),
                None => return not_found,
            }
        };
        let mut blocks = String::new();
        for (i, item) in items.iter().enumerate() {
            if index.is_some_and(|n| n != i + 1) || x509_store::is_crl(item) != (kind == Kind::Crl)
            {
                continue;
            }
            match kind {
                Kind::Ca => {
                    let _ = write!(blocks, " \nCertificate #{}:\n", i + 1);
                    super::store::cert_detail(
                        &[CertificateDer::from(item.as_slice())],
                        &mut blocks,
                    );
                }
                Kind::Crl => {
                    let _ = write!(blocks, " \nCertificate Revocation List #{}:\n", i + 1);
                    x509_store::crl_detail(item, &mut blocks);
                }
            }
        }
        let status = if items.is_empty() {
            "Empty"
        } else if used {
            "Used"
        } else {
            "Unused"
        };
        if blocks.is_empty() && kind == Kind::Ca {
            // HAProxy 2.6 answers nothing for an empty CA file or an index past its end.
            return String::new();
        }
        format!("Filename: {shown}\nStatus: {status}\n{blocks}")
    }

    fn create(&mut self, kind: Kind, name: &str) -> String {
        let (file, what) = word(kind);
        if name.is_empty() {
            return format!("'new ssl {file}' expects a filename\n");
        }
        if self.files.contains_key(name) {
            return format!("{what} file '{name}' already exists!\n");
        }
        self.files.insert(
            name.to_string(),
            Entry {
                kind,
                items: Arc::default(),
                uses: Arc::default(),
            },
        );
        format!("New {what} file created '{name}'!\n")
    }

    fn set(&mut self, kind: Kind, name: &str, payload: Option<&str>) -> String {
        let (file, what) = word(kind);
        let Some(payload) = payload.filter(|_| !name.is_empty()) else {
            return format!("'set ssl {file} expects a filename and CAs as a payload\n");
        };
        let fail = |m: String| format!("{m}Can't update {name}!\n");
        if let Some(tx) = self.tx(kind).as_ref() {
            if tx.name != name {
                return fail(format!(
                    "The ongoing transaction is about '{}' but you are trying to set '{name}'\n",
                    tx.name
                ));
            }
        } else if !self.files.contains_key(name) {
            return fail(format!(
                "Can't replace a {what} file which is not referenced by the configuration!\n"
            ));
        }
        let Some(items) = parse_payload(payload) else {
            return fail("Invalid payload\n".into());
        };
        let tx = self.tx(kind);
        let verb = if tx.is_some() { "updated" } else { "created" };
        *tx = Some(Tx {
            name: name.to_string(),
            items,
        });
        format!("transaction {verb} for {what} {name}!\n")
    }

    fn commit(&mut self, kind: Kind, name: &str) -> String {
        if name.is_empty() {
            return "'commit ssl ca-file expects a filename\n".into();
        }
        let fail = |m: String| format!("{m}Can't commit {name}!\n");
        let tx = match self.tx(kind).take() {
            None => return fail("No ongoing transaction! !\n".into()),
            Some(tx) if tx.name != name => {
                let m = format!(
                    "The ongoing transaction is about '{}' but you are trying to set '{name}'\n",
                    tx.name
                );
                *self.tx(kind) = Some(tx);
                return fail(m);
            }
            Some(tx) => tx,
        };
        let e = self.files.entry(tx.name.clone()).or_insert_with(|| Entry {
            kind,
            items: Arc::default(),
            uses: Arc::default(),
        });
        e.kind = kind;
        e.items = Arc::new(tx.items);
        let dots = ".".repeat(e.uses.load(Ordering::Relaxed));
        GENERATION.fetch_add(1, Ordering::AcqRel);
        format!("Committing {name}{dots}\nSuccess!\n")
    }

    fn abort(&mut self, kind: Kind, name: &str) -> String {
        let (file, _) = word(kind);
        if name.is_empty() {
            return format!("'abort ssl {file}' expects a filename\n");
        }
        let tx = self.tx(kind);
        match tx.as_ref() {
            None => "No ongoing transaction!\n".into(),
            Some(t) if t.name != name => format!(
                "The ongoing transaction is about '{}' but you are trying to abort a transaction for '{name}'\n",
                t.name
            ),
            Some(_) => {
                *tx = None;
                format!("Transaction aborted for certificate '{name}'!\n")
            }
        }
    }

    fn delete(&mut self, kind: Kind, name: &str) -> String {
        let (file, what) = word(kind);
        if name.is_empty() {
            return format!("'del ssl {file}' expects a {what} file name\n");
        }
        let fail = |m: String| format!("Can't remove the {what} file: {m}\n");
        let Some(e) = self.files.get(name) else {
            return fail(format!("{what} file '{name}' doesn't exist!\n"));
        };
        if kind == Kind::Crl && e.kind != Kind::Crl {
            return fail("'del ssl crl-file' does not work on CA files!\n".into());
        }
        if e.uses.load(Ordering::Relaxed) > 0 {
            return fail(format!("{what} file '{name}' in use, can't be deleted!\n"));
        }
        self.files.remove(name);
        format!("{what} file '{name}' deleted!\n")
    }
}

#[cfg(test)]
mod tests;
