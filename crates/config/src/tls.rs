//! The TLS part of the model: what a `bind ... ssl` or `server ... ssl` line asks for, and the
//! `global` TLS defaults (`crt-base`, `ca-base`, `ssl-default-bind-*`, `ssl-default-server-*`,
//! `tune.ssl.*`). Values are kept as written; the proxy's `tls` modules turn them into rustls
//! settings and report what rustls cannot do as `FILE:LINE` errors.

use crate::diagnostics::Span;
use serde::Serialize;
use std::time::Duration;

/// A protocol version as `ssl-min-ver`/`ssl-max-ver` and `no-tlsvNN` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum TlsVersion {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// `SSLv3`, `TLSv1.0`, ... as HAProxy writes them (and logs them in `%sslv`).
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Ssl3 => "SSLv3",
            TlsVersion::Tls10 => "TLSv1.0",
            TlsVersion::Tls11 => "TLSv1.1",
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }
    pub fn parse(text: &str) -> Option<TlsVersion> {
        Some(match text {
            "SSLv3" => TlsVersion::Ssl3,
            "TLSv1.0" => TlsVersion::Tls10,
            "TLSv1.1" => TlsVersion::Tls11,
            "TLSv1.2" => TlsVersion::Tls12,
            "TLSv1.3" => TlsVersion::Tls13,
            _ => return None,
        })
    }
}

/// `verify none|optional|required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verify {
    #[default]
    None,
    Optional,
    Required,
}

/// TLS options of one `bind` or `server` line (or of `ssl-default-*-options`), as written;
/// `None`/empty: not written (a global default or the built-in default applies).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TlsOptions {
    /// Where the options were written (errors about them point here).
    pub span: Option<Span>,
    /// `crt FILE|DIR` (bind: certificates to serve; server: the client certificate).
    pub crt: Vec<String>,
    /// `crt-list FILE`.
    pub crt_list: Vec<String>,
    /// The bind line's `default-path` directory: without `crt-base`, the relative entries of
    /// its crt-lists are read under it (HAProxy reads them while parsing, in that directory).
    pub list_base: Option<String>,
    pub ca_file: Option<String>,
    pub crl_file: Option<String>,
    pub verify: Option<Verify>,
    /// `alpn` as a list (`h2,http/1.1` → ["h2", "http/1.1"]).
    pub alpn: Option<Vec<String>>,
    /// `ciphers` (TLS ≤ 1.2, OpenSSL names separated by ':').
    pub ciphers: Option<String>,
    /// `ciphersuites` (TLS 1.3).
    pub ciphersuites: Option<String>,
    /// `curves` / `ecdhe`.
    pub curves: Option<String>,
    pub min_ver: Option<TlsVersion>,
    pub max_ver: Option<TlsVersion>,
    /// `no-sslv3`, `no-tlsv10`, ... (HAProxy turns these into a min/max range).
    pub no_versions: Vec<TlsVersion>,
    /// `force-tlsv12` and friends: exactly this version.
    pub force: Option<TlsVersion>,
    pub no_tls_tickets: bool,
    /// `strict-sni` (bind): refuse a handshake whose SNI matches no certificate.
    pub strict_sni: bool,
    /// `default-crt FILE` (bind): the certificate served when no SNI matches.
    pub default_crt: Vec<String>,
    /// `prefer-client-ciphers` (bind).
    pub prefer_client_ciphers: bool,
    /// `sni EXPR` (server): the name sent to the server (a sample expression as written).
    pub sni: Option<String>,
    /// `verifyhost NAME` (server): the name the server's certificate must carry.
    pub verifyhost: Option<String>,
    /// `no-ssl-reuse` (server): a full handshake on every connection.
    pub no_ssl_reuse: bool,
    /// `tls-ticket-keys FILE` (bind): the keys session tickets are sealed with.
    pub ticket_keys: Option<String>,
}

/// The `global` section's TLS settings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GlobalTls {
    /// `crt-base DIR`: relative `crt`/`crt-list`/`default-crt` paths start here.
    pub crt_base: Option<String>,
    /// `ca-base DIR`: relative `ca-file`/`crl-file` paths start here.
    pub ca_base: Option<String>,
    /// `ssl-default-bind-ciphers`, `-ciphersuites`, `-options`, `ssl-default-bind-curves`.
    pub default_bind: TlsOptions,
    /// `ssl-default-server-ciphers`, `-ciphersuites`, `-options`.
    pub default_server: TlsOptions,
    /// `tune.ssl.cachesize N`: session-id cache entries (0 turns the cache off).
    pub cachesize: Option<u32>,
    /// `tune.ssl.lifetime TIME`: how long a session stays resumable.
    pub lifetime: Option<Duration>,
    /// `ssl-server-verify none|required`: the default of `verify` on server lines.
    pub server_verify: Option<Verify>,
}
