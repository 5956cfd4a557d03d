//! Model of proxy keywords beyond the core model: `compression`, `option originalto`.
//!
//! Kept apart from `model.rs` (which holds the core proxy model); each type here is one
//! keyword family, parsed by `haproxy/extras.rs` and run by the proxy crate.

use serde::Serialize;

/// A `compression algo` name, as HAProxy 2.6 knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompAlgo {
    /// No encoding (debugging): the body is passed as is, but chunked.
    Identity,
    /// zlib-wrapped deflate (RFC 1950), `Content-Encoding: deflate`.
    Deflate,
    /// Raw deflate (RFC 1951), also sent as `Content-Encoding: deflate`.
    RawDeflate,
    /// gzip (RFC 1952).
    Gzip,
}

impl CompAlgo {
    pub fn parse(name: &str) -> Option<CompAlgo> {
        Some(match name {
            "identity" => CompAlgo::Identity,
            "deflate" => CompAlgo::Deflate,
            "raw-deflate" => CompAlgo::RawDeflate,
            "gzip" => CompAlgo::Gzip,
            _ => return None,
        })
    }

    /// The name a client asks for in `Accept-Encoding` (and `Content-Encoding` carries).
    pub fn token(self) -> &'static str {
        match self {
            CompAlgo::Identity => "identity",
            CompAlgo::Deflate | CompAlgo::RawDeflate => "deflate",
            CompAlgo::Gzip => "gzip",
        }
    }
}

/// `compression algo ...`, `compression type ...`, `compression offload`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Compression {
    /// In HAProxy's list order: each `algo` word is put in front of the ones before it
    /// (which matters for `Accept-Encoding: *`).
    pub algos: Vec<CompAlgo>,
    /// MIME type prefixes (empty: any type but `multipart/*`).
    pub types: Vec<String>,
    /// Remove `Accept-Encoding` from requests so servers never compress themselves.
    pub offload: bool,
    /// The global `tune.comp.maxlevel` (None: HAProxy's default, 1).
    pub maxlevel: Option<u32>,
}

/// `option originalto [except NETWORK] [header NAME]`: the address the client connected to,
/// in a request header (IPv4 only, as HAProxy 2.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OriginalTo {
    /// No header when the destination is in this network (`ADDR[/MASK]`).
    pub except: Option<String>,
    /// Default `X-Original-To`.
    pub header: String,
}

/// `unique-id-format FMT` and `unique-id-header NAME`: an id made per request (the
/// `unique-id` fetch, `%ID` in logs), sent to the server in that header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UniqueId {
    pub format: Option<String>,
    /// Where `format` was written (here or in the `defaults` section it came from).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_at: Option<crate::diagnostics::Span>,
    pub header: Option<String>,
}

/// A proxy's log options beyond the format (in `ProxyOptions::log`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LogOptions {
    /// `option httpslog`: HAProxy 2.6's HTTPS log format (httplog plus the TLS fields).
    pub httpslog: bool,
    /// `option logasap`: the line is written when the response head is sent (HTTP) or the
    /// server connection is made (TCP), with `+` before the total time and the byte count.
    pub logasap: bool,
    /// `capture cookie NAME len N`: the first request cookie and response `Set-Cookie`
    /// whose name starts with NAME, as `name=value` cut to N bytes (`%CC`, `%CS`).
    pub capture_cookie: Option<(String, usize)>,
    /// `error-log-format STRING`: the line of a connection that failed before any request
    /// (TLS handshake, PROXY header).
    pub error_log_format: Option<String>,
}
