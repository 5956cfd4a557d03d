//! TLS with rustls: termination on `bind ... ssl` lines ([`acceptor`]), the connection type
//! the sessions use ([`conn`]) and the socket under it, which an idle one parks ([`sock`]),
//! and the pure pieces under them: certificate files ([`certs`], [`crtlist`]), SNI selection
//! ([`sni`]), OpenSSL names for suites and versions ([`suites`]) and the few X.509 fields the
//! fetches print ([`der`]); the rustls settings of a certificate on a bind
//! ([`server_config`]); the certificates by file name that the runtime socket shows and
//! replaces ([`store`]) and the crt-lists it edits ([`crtlists`]); the CA and CRL files the
//! runtime socket shows and replaces ([`cafiles`], with what OpenSSL shows of them:
//! [`x509_store`]); the process's TLS figures for `show info` and Prometheus ([`totals`]).

pub mod acceptor;
pub mod cafiles;
pub mod certs;
pub mod conn;
pub mod connector;
pub mod crtlist;
pub mod crtlists;
pub mod der;
pub mod handshake;
pub mod hello;
mod renewal;
pub mod server_config;
pub mod sni;
pub mod sock;
pub mod store;
pub mod suites;
pub mod ticket_keys;
pub mod totals;
pub mod x509_store;

use crate::addr::ListenKey;
use fulcrum_config::Config;
use std::sync::Arc;

/// The TLS binds of a frontend, by listening address.
pub type FrontendTls = Vec<(ListenKey, Arc<acceptor::TlsBind>)>;

/// Builds every `ssl` bind of proxy `p`; errors are `FILE:LINE: message`.
pub fn frontend(p: &fulcrum_config::model::Proxy, config: &Config) -> Result<FrontendTls, String> {
    let mut out = Vec::new();
    for b in p.binds.iter().filter(|b| b.ssl) {
        let (t, lists) = acceptor::TlsBind::build(b, &config.global.tls)
            .map_err(|m| format!("{}: {m}", b.span))?;
        let t = Arc::new(t);
        crtlists::register(&t, lists);
        for key in crate::addr::keys(b).unwrap_or_default() {
            out.push((key, t.clone()));
        }
    }
    Ok(out)
}

/// Every TLS problem of `config` (certificates that cannot be read, settings rustls lacks),
/// as `FILE:LINE: message`, for `fulcrum check`.
pub fn check(config: &Config) -> Vec<String> {
    let mut out: Vec<String> = config
        .frontends()
        .filter_map(|p| frontend(p, config).err())
        .collect();
    for s in config.backends().flat_map(|b| &b.servers).filter(|s| s.ssl) {
        if let Err(m) = connector::build(s, &config.global.tls) {
            out.push(format!("{}: {m}", s.span));
        }
    }
    out
}
