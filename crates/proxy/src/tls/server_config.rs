//! The rustls server settings of one certificate on one bind line (HAProxy's SSL_CTX): the
//! bind's (or crt-list line's) versions, suites, ALPN and client-certificate verifier, with
//! the process's session-id cache and ticket keys (kept across reloads, so resumption
//! survives them), both bounded by `tune.ssl.lifetime` (HAProxy's default: 300 s): a session
//! or ticket older than that is not resumed (a full handshake instead), and TLS clients are
//! told that lifetime. Client-certificate verifiers are shared by the lines that ask the same.

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
        let inner = rustls::crypto::ring::Ticketer::new().ok()?;
        Some(Arc::new(Aged(inner)) as Arc<dyn rustls::server::ProducesTickets>)
    })
    .clone()
}

/// Tickets that carry the time they were issued inside their encrypted part and are refused
/// once older than `tune.ssl.lifetime` (rustls's own keys live 6 to 12 hours).
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
        self.0.encrypt(&stamped(plain))
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        unstamped(&self.0.decrypt(cipher)?, now_secs())
    }
}

type VerifierKey = (Option<String>, Option<String>, Verify);

pub struct Builder<'a> {
    pub global: &'a GlobalTls,
    verifiers: HashMap<VerifierKey, Arc<dyn ClientCertVerifier>>,
}

impl<'a> Builder<'a> {
    pub fn new(global: &'a GlobalTls) -> Self {
        let lifetime = global
            .lifetime
            .map_or(300, |d| d.as_secs().min(u64::from(u32::MAX)));
        LIFETIME.store(lifetime as u32, Ordering::Relaxed);
        Builder {
            global,
            verifiers: HashMap::new(),
        }
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
            let ca = o.ca_file.as_deref().ok_or_else(|| {
                "'verify optional|required' needs 'ca-file' (the CAs client certificates must chain to)".to_string()
            })?;
            let base = self.global.ca_base.as_deref();
            let roots = certs::load_cas(&certs::under(base, ca))?;
            let mut b =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            if let Some(crl) = &o.crl_file {
                b = b
                    .with_crls(certs::load_crls(&certs::under(base, crl))?)
                    .only_check_end_entity_revocation();
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

    pub fn config(
        &mut self,
        o: &TlsOptions,
        slot: &Arc<Slot>,
    ) -> Result<Arc<ServerConfig>, String> {
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
        Ok(Arc::new(c))
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
