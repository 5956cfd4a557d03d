//! The rustls server settings of one certificate on one bind line (HAProxy's SSL_CTX): the
//! bind's (or crt-list line's) versions, suites, ALPN and client-certificate verifier, with
//! the process's session-id cache and ticket keys (kept across reloads, so resumption
//! survives them). Client-certificate verifiers are shared by the lines that ask the same.

use super::certs;
use super::store::{Slot, SlotResolver};
use super::suites;
use fulcrum_config::tls::{GlobalTls, TlsOptions, Verify};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ServerConfig, StoresServerSessions, WebPkiClientVerifier};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

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
        self.0.put(key, value)
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let v = self.0.get(key);
        super::totals::cache_lookup(v.is_some());
        v
    }
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let v = self.0.take(key);
        super::totals::cache_lookup(v.is_some());
        v
    }
    fn can_cache(&self) -> bool {
        self.0.can_cache()
    }
}

/// The process's ticket keys (rotated by rustls), kept across reloads.
fn ticketer() -> Option<Arc<dyn rustls::server::ProducesTickets>> {
    static T: OnceLock<Option<Arc<dyn rustls::server::ProducesTickets>>> = OnceLock::new();
    T.get_or_init(|| rustls::crypto::ring::Ticketer::new().ok())
        .clone()
}

type VerifierKey = (Option<String>, Option<String>, Verify);

pub struct Builder<'a> {
    pub global: &'a GlobalTls,
    verifiers: HashMap<VerifierKey, Arc<dyn ClientCertVerifier>>,
}

impl<'a> Builder<'a> {
    pub fn new(global: &'a GlobalTls) -> Self {
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
            if let Some(t) = ticketer() {
                c.ticketer = t;
            }
        }
        Ok(Arc::new(c))
    }
}
