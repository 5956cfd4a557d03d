//! The process's certificates by file name (HAProxy's "ckch stores") and the runtime socket's
//! certificate commands on them: `show ssl cert [NAME]`, `new ssl cert NAME`,
//! `set ssl cert NAME <<` (a PEM payload), `commit ssl cert NAME`, `abort ssl cert NAME`,
//! `del ssl cert NAME`, with HAProxy 2.6's answers.
//!
//! Every `crt` a bind loads is one [`Slot`], shared by all the binds naming that file; a bind's
//! resolver reads the slot at each handshake, so a committed certificate is served to the
//! next handshake at once while established connections keep theirs. As in HAProxy, one
//! transaction is open at a time; a reload re-reads the files (what was committed at runtime
//! and not written to disk is gone, as after a HAProxy reload).

use super::certs;
use super::der;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// One certificate file as loaded (or empty: `new ssl cert`).
#[derive(Debug, Default)]
pub struct Slot {
    key: RwLock<Option<Arc<CertifiedKey>>>,
    /// Bind lines serving it now (HAProxy's "instances": one dot each on commit).
    uses: AtomicUsize,
    /// Made by `new ssl cert`, or taken off a crt-list by `del ssl crt-list` (listed even
    /// when no bind uses it); a file a config loaded is listed while a bind of the running
    /// config uses it (after a reload that dropped it, as after haproxy's).
    runtime: AtomicBool,
}

/// A bind line's use of a slot, counted while it lives.
#[derive(Debug)]
pub struct SlotUse(pub Arc<Slot>);

impl SlotUse {
    pub fn new(slot: Arc<Slot>) -> SlotUse {
        slot.uses.fetch_add(1, Ordering::Relaxed);
        SlotUse(slot)
    }
}

impl Drop for SlotUse {
    fn drop(&mut self) {
        self.0.uses.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Slot {
    /// Keeps the certificate listed (and usable by `add ssl crt-list`) when no bind serves it
    /// any more: HAProxy keeps a certificate a crt-list line stopped using.
    pub fn keep(&self) {
        self.runtime.store(true, Ordering::Relaxed);
    }

    /// The certificate served now.
    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        self.key.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, key: Option<Arc<CertifiedKey>>) {
        *self.key.write().unwrap_or_else(|e| e.into_inner()) = key;
    }
}

/// A bind's resolver for one certificate: whatever its slot holds at handshake time.
#[derive(Debug)]
pub struct SlotResolver(pub Arc<Slot>);

impl ResolvesServerCert for SlotResolver {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.current()
    }
}

/// A runtime socket command on certificates (the words after `ssl cert`, payload included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SslCommand {
    Show(Option<String>),
    New(String),
    Set(String, String),
    Commit(String),
    Abort(String),
    /// `del ssl cert NAME`: forget a certificate no bind serves.
    Del(String),
}

struct Transaction {
    name: String,
    chain: Vec<CertificateDer<'static>>,
    key: Option<PrivateKeyDer<'static>>,
}

/// Certificates by name, and the open transaction.
#[derive(Default)]
pub struct Registry {
    certs: BTreeMap<String, Arc<Slot>>,
    tx: Option<Transaction>,
}

/// Certificates committed so far: binds re-index their SNI names when it changes.
static COMMITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many `commit ssl cert` have succeeded in this process.
pub fn commits() -> u64 {
    COMMITS.load(Ordering::Acquire)
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    certs: BTreeMap::new(),
    tx: None,
});

/// The slot of certificate file `name`, holding `key` from now on (binds built from a
/// config; a reload's fresh read replaces what the slot held).
pub fn install(name: &str, key: Arc<CertifiedKey>) -> Arc<Slot> {
    let mut r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    r.install(name, key)
}

/// Certificate `name` if it exists and holds a certificate (`add/del ssl crt-list`), else
/// HAProxy's reason ("does not exist", "is empty").
pub fn lookup(name: &str) -> Result<Arc<Slot>, String> {
    let r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    match r.get(name) {
        None => Err(format!("certificate '{name}' does not exist!")),
        Some(s) if s.current().is_none() => Err(format!("certificate '{name}' is empty!")),
        Some(s) => Ok(s.clone()),
    }
}

/// Runs one command against the process's registry; HAProxy's answer text.
pub fn run(cmd: &SslCommand) -> String {
    let mut r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    r.run(cmd)
}

impl Registry {
    pub fn install(&mut self, name: &str, key: Arc<CertifiedKey>) -> Arc<Slot> {
        let slot = self.certs.entry(name.to_string()).or_default().clone();
        slot.set(Some(key));
        slot
    }

    /// Bind lines serving the slot.
    fn instances(slot: &Slot) -> usize {
        slot.uses.load(Ordering::Relaxed)
    }

    /// The certificate named `name`, if the running config or `new ssl cert` has it.
    fn get(&self, name: &str) -> Option<&Arc<Slot>> {
        self.certs
            .get(name)
            .filter(|s| s.runtime.load(Ordering::Relaxed) || Self::instances(s) > 0)
    }

    pub fn run(&mut self, cmd: &SslCommand) -> String {
        match cmd {
            SslCommand::Show(None) => self.list(),
            SslCommand::Show(Some(name)) => self.detail(name),
            SslCommand::New(name) => self.new_cert(name),
            SslCommand::Set(name, payload) => self.set(name, payload),
            SslCommand::Commit(name) => self.commit(name),
            SslCommand::Abort(name) => self.abort(name),
            SslCommand::Del(name) => self.delete(name),
        }
    }

    fn delete(&mut self, name: &str) -> String {
        if name.is_empty() {
            return "'del ssl cert' expects a certificate name\n".into();
        }
        if self.tx.as_ref().is_some_and(|t| t.name == name) {
            return format!(
                "Can't remove the certificate: ongoing transaction for the certificate '{name}'\n"
            );
        }
        match self.get(name) {
            None => {
                format!("Can't remove the certificate: certificate '{name}' doesn't exist!\n\n")
            }
            Some(s) if Self::instances(s) > 0 => format!(
                "Can't remove the certificate: certificate '{name}' in use, can't be deleted!\n\n"
            ),
            Some(_) => {
                self.certs.remove(name);
                format!("Certificate '{name}' deleted!\n")
            }
        }
    }

    fn list(&self) -> String {
        let mut out = String::new();
        if let Some(tx) = &self.tx {
            let _ = write!(out, "# transaction\n*{}\n", tx.name);
        }
        out.push_str("# filename\n");
        for name in self.certs.keys().filter(|n| self.get(n).is_some()) {
            out.push_str(name);
            out.push('\n');
        }
        out
    }

    fn detail(&self, name: &str) -> String {
        const NOT_FOUND: &str =
            "Can't display the certificate: Not found or the certificate is a bundle!\n";
        let mut out = String::new();
        if let Some(n) = name.strip_prefix('*') {
            let Some(tx) = self.tx.as_ref().filter(|t| t.name == n) else {
                return NOT_FOUND.into();
            };
            let _ = writeln!(out, "Filename: {name}\nStatus: Unused");
            cert_detail(&tx.chain, &mut out);
        } else {
            let Some(slot) = self.get(name) else {
                return NOT_FOUND.into();
            };
            let _ = writeln!(out, "Filename: {name}");
            match slot.current() {
                None => out.push_str("Status: Empty\n"),
                Some(k) => {
                    out.push_str(if Self::instances(slot) > 0 {
                        "Status: Used\n"
                    } else {
                        "Status: Unused\n"
                    });
                    cert_detail(&k.cert, &mut out);
                }
            }
        }
        // HAProxy prints the OCSP CertID here when it can build one from the chain's issuer.
        out.push_str("OCSP Response Key: \n");
        out
    }

    fn new_cert(&mut self, name: &str) -> String {
        if name.is_empty() {
            return "'new ssl cert' expects a filename\n".into();
        }
        if self.get(name).is_some() {
            return format!("Certificate '{name}' already exists!\n");
        }
        self.certs.insert(
            name.to_string(),
            Arc::new(Slot {
                runtime: AtomicBool::new(true),
                ..Slot::default()
            }),
        );
        format!("New empty certificate store '{name}'!\n")
    }

    fn set(&mut self, name: &str, payload: &str) -> String {
        if name.is_empty() || payload.is_empty() {
            return "'set ssl cert expects a filename and a certificate as a payload\n".into();
        }
        if let Some(tx) = &self.tx {
            if tx.name != name {
                return format!(
                    "The ongoing transaction is about '{}' but you are trying to set '{name}'\nCan't update {name}!\n",
                    tx.name
                );
            }
        } else if self.get(name).is_none() {
            return format!("Can't replace a certificate which is not referenced by the configuration!\nCan't update {name}!\n");
        }
        let Ok((chain, key)) = certs::parse_pem(payload.as_bytes(), name) else {
            return format!("unable to load certificate from file '{name}'.\nCan't load the payload\nCan't update {name}!\n");
        };
        let created = self.tx.is_none();
        self.tx = Some(Transaction {
            name: name.to_string(),
            chain,
            key,
        });
        if created {
            format!("Transaction created for certificate {name}!\n")
        } else {
            format!("Transaction updated for certificate {name}!\n")
        }
    }

    fn commit(&mut self, name: &str) -> String {
        if name.is_empty() {
            return "'commit ssl cert expects a filename\n".into();
        }
        let Some(tx) = &self.tx else {
            return format!("No ongoing transaction! !\nCan't commit {name}!\n");
        };
        if tx.name != name {
            return format!(
                "The ongoing transaction is about '{}' but you are trying to set '{name}'\nCan't commit {name}!\n",
                tx.name
            );
        }
        let Some(key) = &tx.key else {
            return format!("The transaction must contain at least a certificate and a private key!\nCan't commit {name}!\n");
        };
        let ck = match certs::certified(tx.chain.clone(), key, name) {
            Ok(ck) => ck,
            Err(m) => return format!("{m}\nCan't commit {name}!\n"),
        };
        let Some(slot) = self.get(name) else {
            return format!("Can't replace a certificate which is not referenced by the configuration!\nCan't commit {name}!\n");
        };
        slot.set(Some(Arc::new(ck)));
        COMMITS.fetch_add(1, Ordering::AcqRel);
        let dots = ".".repeat(Self::instances(slot));
        self.tx = None;
        format!("Committing {name}{dots}\nSuccess!\n")
    }

    fn abort(&mut self, name: &str) -> String {
        if name.is_empty() {
            return "'abort ssl cert' expects a filename\n".into();
        }
        match &self.tx {
            None => "No ongoing transaction!\n".into(),
            Some(tx) if tx.name != name => format!(
                "The ongoing transaction is about '{}' but you are trying to abort a transaction for '{name}'\n",
                tx.name
            ),
            Some(_) => {
                self.tx = None;
                format!("Transaction aborted for certificate '{name}'!\n")
            }
        }
    }
}

/// HAProxy's `show_cert_detail`: serial, validity, SAN, key, fingerprint, names, chain.
pub(crate) fn cert_detail(chain: &[CertificateDer<'_>], out: &mut String) {
    let Some(leaf) = chain.first() else {
        return;
    };
    let Some(f) = der::fields(leaf) else {
        return;
    };
    let (before, after) = der::validity_text(f.validity).unwrap_or_default();
    let sans: Vec<String> = webpki::EndEntityCert::try_from(leaf)
        .map(|ee| ee.valid_dns_names().map(|n| format!("DNS:{n}")).collect())
        .unwrap_or_default();
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, leaf);
    let _ = writeln!(out, "Serial: {}", der::serial_hex(f.serial));
    let _ = writeln!(out, "notBefore: {before}");
    let _ = writeln!(out, "notAfter: {after}");
    let _ = writeln!(out, "Subject Alternative Name: {}", sans.join(", "));
    let _ = writeln!(out, "Algorithm: {}", der::key_algorithm(f.spki));
    let _ = writeln!(out, "SHA1 FingerPrint: {}", der::serial_hex(sha1.as_ref()));
    let _ = writeln!(out, "Subject: {}", der::dn_text(f.subject));
    let _ = writeln!(out, "Issuer: {}", der::dn_text(f.issuer));
    for c in &chain[1..] {
        if let Some(cf) = der::fields(c) {
            let _ = writeln!(out, "Chain Subject: {}", der::dn_text(cf.subject));
            let _ = writeln!(out, "Chain Issuer: {}", der::dn_text(cf.issuer));
        }
    }
}

#[cfg(test)]
mod tests;
