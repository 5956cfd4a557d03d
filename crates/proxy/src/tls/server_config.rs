//! The rustls server settings of one certificate on one bind line (HAProxy's SSL_CTX): the
//! bind's (or crt-list line's) versions, suites, ALPN and client-certificate verifier, with
//! the process's session-id cache and ticket keys (kept across reloads, so resumption
//! survives them), both bounded by `tune.ssl.lifetime` (HAProxy's default: 300 s): a session
//! or ticket older than that is not resumed (a full handshake instead), and TLS clients are
//! told that lifetime. Client-certificate verifiers are shared by the lines that ask the same;
//! their CA and CRL files come from `cafiles` (read from disk when a config loads, as the
//! runtime socket left them when a running bind rebuilds its settings).

use super::cafiles::{self, FileUse, Kind};
use super::certs;
use super::store::{Slot, SlotResolver};
use super::suites;
use fulcrum_config::tls::{GlobalTls, TlsOptions, Verify};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ServerConfig, StoresServerSessions, WebPkiClientVerifier};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

/// `tune.ssl.lifetime` in seconds, of the config built last (HAProxy's default 300 s).
static LIFETIME: AtomicU32 = AtomicU32::new(300);

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `value` stamped with the time it was made (8 bytes before it).
fn stamped(value: &[u8]) -> Vec<u8> {
    let mut out = now_secs().to_be_bytes().to_vec();
    out.extend_from_slice(value);
    out
}

/// The value of a stamped one still within `tune.ssl.lifetime` (`now`: seconds).
fn unstamped(stamped: &[u8], now: u64) -> Option<Vec<u8>> {
    let (t, value) = stamped.split_at_checked(8)?;
    let made = u64::from_be_bytes(t.try_into().ok()?);
    (now.saturating_sub(made) <= u64::from(LIFETIME.load(Ordering::Relaxed)))
        .then(|| value.to_vec())
}

/// The process's session-id cache (`tune.ssl.cachesize`, default 20000 as HAProxy), kept
/// across reloads so resumption survives them.
fn session_cache(size: Option<u32>) -> Arc<dyn StoresServerSessions> {
    static CACHE: OnceLock<Arc<dyn StoresServerSessions>> = OnceLock::new();
    if size == Some(0) {
        return Arc::new(rustls::server::NoServerSessionStorage {});
    }
    CACHE
        .get_or_init(|| {
            Arc::new(CountedCache(rustls::server::ServerSessionMemoryCache::new(
                size.unwrap_or(20_000) as usize,
            )))
        })
        .clone()
}

/// The session-id cache, its lookups and misses counted (`SslCacheLookups`, `SslCacheMisses`).
#[derive(Debug)]
struct CountedCache(Arc<rustls::server::ServerSessionMemoryCache>);

impl StoresServerSessions for CountedCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.0.put(key, stamped(&value))
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let v = self.0.get(key).and_then(|v| unstamped(&v, now_secs()));
        super::totals::cache_lookup(v.is_some());
        v
    }
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let v = self.0.take(key).and_then(|v| unstamped(&v, now_secs()));
        super::totals::cache_lookup(v.is_some());
        v
    }
    fn can_cache(&self) -> bool {
        self.0.can_cache()
    }
}

/// The process's ticket keys (rotated by rustls every 6 hours), kept across reloads.
fn ticketer() -> Option<Arc<dyn rustls::server::ProducesTickets>> {
    static T: OnceLock<Option<Arc<dyn rustls::server::ProducesTickets>>> = OnceLock::new();
    T.get_or_init(|| {
        let inner = rustls::crypto::aws_lc_rs::Ticketer::new().ok()?;
        Some(Arc::new(Aged(inner)) as Arc<dyn rustls::server::ProducesTickets>)
    })
    .clone()
}

/// Tickets that carry the time they were issued inside their encrypted part and are refused
/// once older than `tune.ssl.lifetime` (rustls's own keys live 6 to 12 hours); a TLS 1.2
/// resumption from a ticket gets no new one (`renewal`), so a session lives its lifetime from
/// its full handshake, as with HAProxy.
#[derive(Debug)]
struct Aged(Arc<dyn rustls::server::ProducesTickets>);

impl rustls::server::ProducesTickets for Aged {
    fn enabled(&self) -> bool {
        self.0.enabled()
    }
    fn lifetime(&self) -> u32 {
        LIFETIME.load(Ordering::Relaxed)
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        if super::renewal::is_renewal(plain) {
            return None;
        }
        self.0.encrypt(&stamped(plain))
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let value = unstamped(&self.0.decrypt(cipher)?, now_secs())?;
        super::renewal::opened(&value);
        Some(value)
    }
}

type VerifierKey = (Option<String>, Option<String>, Verify);

pub struct Builder<'a> {
    pub global: &'a GlobalTls,
    verifiers: HashMap<VerifierKey, Arc<dyn ClientCertVerifier>>,
    /// CA and CRL files read from disk (a config being loaded), else taken from the
    /// registry as the runtime socket left them (`cafiles`).
    fresh: bool,
}

impl<'a> Builder<'a> {
    /// For a config being loaded: its CA and CRL files are read from disk.
    pub fn new(global: &'a GlobalTls) -> Self {
        let lifetime = global
            .lifetime
            .map_or(300, |d| d.as_secs().min(u64::from(u32::MAX)));
        LIFETIME.store(lifetime as u32, Ordering::Relaxed);
        Builder {
            global,
            verifiers: HashMap::new(),
            fresh: true,
        }
    }

    /// For a running config (a certificate added, a CA or CRL file committed): its files as
    /// the registry holds them.
    pub fn live(global: &'a GlobalTls) -> Self {
        Builder {
            global,
            verifiers: HashMap::new(),
            fresh: false,
        }
    }

    /// The registry names of the CA and CRL files a bind (or crt-list line) with `o`
    /// verifies client certificates with (none under `verify none`).
    fn files(&self, o: &TlsOptions) -> Vec<(String, Kind)> {
        if o.verify.unwrap_or_default() == Verify::None {
            return Vec::new();
        }
        let base = self.global.ca_base.as_deref();
        let name = |f: &String| certs::under(base, f).display().to_string();
        o.ca_file
            .iter()
            .map(|f| (name(f), Kind::Ca))
            .chain(o.crl_file.iter().map(|f| (name(f), Kind::Crl)))
            .collect()
    }

    fn verifier(
        &mut self,
        o: &TlsOptions,
        provider: &Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Arc<dyn ClientCertVerifier>, String> {
        let verify = o.verify.unwrap_or_default();
        let key = (o.ca_file.clone(), o.crl_file.clone(), verify);
        if let Some(v) = self.verifiers.get(&key) {
            return Ok(v.clone());
        }
        let v = if verify == Verify::None {
            WebPkiClientVerifier::no_client_auth()
        } else {
            if o.ca_file.is_none() {
                return Err("'verify optional|required' needs 'ca-file' (the CAs client certificates must chain to)".to_string());
            }
            let files = self.files(o);
            let mut roots = None;
            let mut crls = Vec::new();
            for (name, kind) in &files {
                let (items, _) = cafiles::load(name, *kind, self.fresh)?;
                match kind {
                    Kind::Ca => roots = Some(cafiles::roots(&items, name)?),
                    Kind::Crl => crls = cafiles::crls(&items),
                }
            }
            let roots = roots.ok_or("no CA file")?;
            let mut b =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            if !crls.is_empty() {
                b = b.with_crls(crls).only_check_end_entity_revocation();
            }
            if verify == Verify::Optional {
                b = b.allow_unauthenticated();
            }
            b.build()
                .map_err(|e| format!("client certificate verification: {e}"))?
        };
        self.verifiers.insert(key, v.clone());
        Ok(v)
    }

    /// The settings of a certificate served with `o`, and its uses of CA and CRL files
    /// (counted while the bind serves it).
    pub fn config(
        &mut self,
        o: &TlsOptions,
        slot: &Arc<Slot>,
    ) -> Result<(Arc<ServerConfig>, Vec<FileUse>), String> {
        let provider = suites::provider(o)?;
        let versions = suites::versions(o)?;
        let verifier = self.verifier(o, &provider)?;
        let mut c = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| format!("TLS settings: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(SlotResolver(slot.clone())));
        c.alpn_protocols = o
            .alpn
            .iter()
            .flatten()
            .map(|p| p.as_bytes().to_vec())
            .collect();
        c.ignore_client_order = !o.prefer_client_ciphers;
        // No TLS 1.3 early data: every request comes after a complete handshake, which is
        // what `http-request wait-for-handshake` waits for (`http::rules::knobs`).
        c.max_early_data_size = 0;
        c.session_storage = session_cache(self.global.cachesize);
        if !o.no_tls_tickets {
            let keys = match &o.ticket_keys {
                // `tls-ticket-keys FILE` (relative to where fulcrum runs, as HAProxy reads it).
                Some(f) => Some(
                    Arc::new(Aged(super::ticket_keys::load(std::path::Path::new(f))?))
                        as Arc<dyn rustls::server::ProducesTickets>,
                ),
                None => ticketer(),
            };
            if let Some(t) = keys {
                c.ticketer = t;
            }
        }
        let mut uses = Vec::new();
        for (name, kind) in self.files(o) {
            uses.push(cafiles::load(&name, kind, false)?.1);
        }
        Ok((Arc::new(c), uses))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_older_than_the_lifetime_are_not_resumed() {
        let v = stamped(b"session");
        let made = u64::from_be_bytes(v[..8].try_into().unwrap_or_default());
        let life = u64::from(LIFETIME.load(Ordering::Relaxed));
        assert_eq!(unstamped(&v, made).as_deref(), Some(&b"session"[..]));
        assert_eq!(unstamped(&v, made + life).as_deref(), Some(&b"session"[..]));
        assert_eq!(unstamped(&v, made + life + 1), None);
        assert_eq!(unstamped(b"short", made), None);
    }
}
