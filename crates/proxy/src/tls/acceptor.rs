//! TLS on a `bind ... ssl` line: its certificates (`crt`, `crt-list`, `default-crt`), SNI
//! selection, per-certificate options, client certificates (`ca-file`, `verify`, `crl-file`),
//! versions, suites, ALPN, session resumption (one session cache and one ticket key set per
//! process, so sessions survive a reload) and OCSP stapling; and the handshake itself.
//!
//! The ClientHello is read first (rustls's lazy acceptor), so each certificate can carry its
//! own settings (crt-list lines) and the right key type (ECDSA or RSA) is chosen per client.

use super::certs::{self, CertEntry};
use super::conn::TlsConn;
use super::crtlist;
use super::sni::SniIndex;
use super::store::{self, Slot, SlotResolver, SlotUse};
use super::suites;
use fulcrum_config::model::Bind;
use fulcrum_config::tls::{GlobalTls, TlsOptions, Verify};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ServerConfig, StoresServerSessions, WebPkiClientVerifier};
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, OnceLock};
use tokio::net::TcpStream;

pub type ServerTls = tokio_rustls::server::TlsStream<TcpStream>;

/// One certificate with the settings it is served with.
struct Entry {
    config: Arc<ServerConfig>,
    /// The certificate file's slot: `commit ssl cert` replaces what it holds.
    slot: SlotUse,
    path: String,
    /// crt-list SNI filters (`[!]name`); none: the certificate's own names.
    filters: Vec<String>,
    excluded: Vec<String>,
}

/// The TLS side of one bind line.
pub struct TlsBind {
    entries: Vec<Entry>,
    /// The SNI index, and the number of commits it was built after: a `commit ssl cert`
    /// re-indexes it by the names of the new certificates (as HAProxy updates its SNI tree).
    index: std::sync::RwLock<(u64, Arc<SniIndex>)>,
    strict: bool,
    /// `default-crt` entries.
    defaults: Vec<usize>,
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

struct Builder<'a> {
    global: &'a GlobalTls,
    verifiers: HashMap<VerifierKey, Arc<dyn ClientCertVerifier>>,
}

impl Builder<'_> {
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

    fn config(&mut self, o: &TlsOptions, slot: &Arc<Slot>) -> Result<Arc<ServerConfig>, String> {
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

impl TlsBind {
    /// Loads everything a bind line's TLS needs; errors name what is wrong (the caller adds
    /// the line).
    pub fn build(bind: &Bind, global: &GlobalTls) -> Result<TlsBind, String> {
        if matches!(
            bind.address,
            fulcrum_config::model::BindAddress::Unix(_)
                | fulcrum_config::model::BindAddress::Abns(_)
        ) {
            return Err("'ssl' on a unix socket bind is not supported by fulcrum yet".into());
        }
        let opts = suites::merged(&bind.tls, &global.default_bind);
        let mut b = Builder {
            global,
            verifiers: HashMap::new(),
        };
        let crt_base = global.crt_base.as_deref();
        let mut entries = Vec::new();
        let mut index = SniIndex::new(opts.strict_sni);
        let add = |e: CertEntry,
                   o: &TlsOptions,
                   filters: &[String],
                   excluded: &[String],
                   b: &mut Builder<'_>,
                   entries: &mut Vec<Entry>,
                   index: &mut SniIndex|
         -> Result<(), String> {
            let slot = store::install(&e.path, e.key);
            let config = b
                .config(o, &slot)
                .map_err(|m| format!("certificate '{}': {m}", e.path))?;
            let idx = entries.len();
            let names = if filters.is_empty() {
                &e.names
            } else {
                filters
            };
            index.add(idx, names, excluded);
            entries.push(Entry {
                config,
                slot: SlotUse::new(slot),
                path: e.path,
                filters: filters.to_vec(),
                excluded: excluded.to_vec(),
            });
            Ok(())
        };
        for crt in &opts.crt {
            for e in certs::load_path(&certs::under(crt_base, crt))? {
                add(e, &opts, &[], &[], &mut b, &mut entries, &mut index)?;
            }
        }
        for list in &opts.crt_list {
            let path = certs::under(crt_base, list);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read crt-list '{}': {e}", path.display()))?;
            let lines =
                crtlist::parse(&text).map_err(|(n, m)| format!("{}:{n}: {m}", path.display()))?;
            for l in lines {
                let line_opts = match &l.options {
                    Some(lo) => suites::merged(lo, &opts),
                    None => opts.clone(),
                };
                for e in certs::load_path(&certs::under(crt_base, &l.file))
                    .map_err(|m| format!("{}:{}: {m}", path.display(), l.line))?
                {
                    add(
                        e,
                        &line_opts,
                        &l.filters,
                        &l.excluded,
                        &mut b,
                        &mut entries,
                        &mut index,
                    )
                    .map_err(|m| format!("{}:{}: {m}", path.display(), l.line))?;
                }
            }
        }
        let mut defaults = Vec::new();
        for d in &opts.default_crt {
            for e in certs::load_path(&certs::under(crt_base, d))? {
                let idx = entries.len();
                add(e, &opts, &[], &[], &mut b, &mut entries, &mut index)?;
                index.set_default(idx);
                defaults.push(idx);
            }
        }
        if entries.is_empty() {
            return Err("'ssl' on a bind needs at least one certificate".into());
        }
        Ok(TlsBind {
            entries,
            index: std::sync::RwLock::new((store::commits(), Arc::new(index))),
            strict: opts.strict_sni,
            defaults,
        })
    }

    /// The SNI index for the certificates served now (rebuilt after a commit).
    fn sni_index(&self) -> Arc<SniIndex> {
        let commits = store::commits();
        {
            let g = self.index.read().unwrap_or_else(|e| e.into_inner());
            if g.0 == commits {
                return g.1.clone();
            }
        }
        let mut index = SniIndex::new(self.strict);
        for (idx, e) in self.entries.iter().enumerate() {
            let names = if e.filters.is_empty() {
                e.slot
                    .0
                    .current()
                    .and_then(|k| k.cert.first().map(certs::names))
                    .unwrap_or_default()
            } else {
                e.filters.clone()
            };
            index.add(idx, &names, &e.excluded);
        }
        for &d in &self.defaults {
            index.set_default(d);
        }
        let index = Arc::new(index);
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = (commits, index.clone());
        index
    }

    /// Paths of the certificates loaded (the runtime socket's `show ssl cert`).
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.path.as_str())
    }

    /// Runs the handshake on an accepted connection.
    pub async fn accept(&self, tcp: TcpStream) -> io::Result<TlsConn<ServerTls>> {
        let open = super::totals::connection();
        let start =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await?;
        let hello = start.client_hello();
        let schemes = hello.signature_schemes();
        let Some(idx) = self.sni_index().select(hello.server_name(), |i| {
            self.entries[i]
                .slot
                .0
                .current()
                .is_some_and(|k| k.key.choose_scheme(schemes).is_some())
        }) else {
            return Err(io::Error::other(format!(
                "strict-sni: no certificate for {:?}",
                hello.server_name()
            )));
        };
        let config = self.entries[idx].config.clone();
        let stream = start.into_stream(config).await?;
        let conn = stream.get_ref().1;
        let mut info = super::conn::info(conn);
        info.sni = conn.server_name().map(Into::into);
        Ok(TlsConn::new(stream, info, open))
    }
}
