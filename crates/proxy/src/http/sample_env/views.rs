//! The views the layers above answer the sample language through: where a stream is
//! ([`Where`]: its proxies, servers and connections) and its log line's facts in rule values
//! ([`LogFacts`]: `%t %b %s %ID`..., `crate::rule_facts`).

use super::HttpEnv;
use fulcrum_sample::fetch::Fetch;
use fulcrum_sample::{Scope, Value};
use std::net::SocketAddr;

/// The proxies and connections a stream passes through, for `fe_name fe_id be_name be_id
/// srv_name srv_id nbsrv srv_is_up connslots thread`, `so_*`, `fc_*` and `bc_*`: answered by
/// the layer that knows them (`crate::place`).
pub trait Where: Sync {
    /// The value of one of those fetches (`None`: none here, e.g. no server yet).
    fn fetch(&self, f: &Fetch) -> Option<Value>;
    /// Server `index` of the backend is the one whose answer is being handled (a request's
    /// place follows it; a fixed view ignores this).
    fn at_server(&self, _index: usize) {}
    /// The server connection's local address, when known (`bc_src`, `bc_src_port`).
    fn at_source(&self, _src: Option<SocketAddr>) {}
    /// What the server connection's TLS handshake settled, on a `server ... ssl` (`ssl_bc*`).
    fn at_server_tls(&self, _tls: Option<&std::sync::Arc<crate::stream::TlsInfo>>) {}
    /// The names of the stream's backend (none before routing) and server (none before
    /// one is chosen), and the server's fixed address (`%b %s %si %sp`).
    fn names(&self) -> (Option<&str>, Option<(&str, Option<SocketAddr>)>) {
        (None, None)
    }
    /// The sessions the backend and the server have now (`%bc`, `%sc`).
    fn conns(&self) -> (Option<u64>, Option<u64>) {
        (None, None)
    }
    /// The stream's position in its backend's queue (`%bq`; 0: it did not wait).
    fn queue_pos(&self) -> u32 {
        0
    }
    /// A variable of the stream, where the view has no stick counters (log lines).
    fn var(&self, _scope: Scope, _name: &fulcrum_sample::VarName) -> Option<Value> {
        None
    }
}

/// The fetches [`Where`] answers.
pub const WHERE_FETCHES: &[&str] = &[
    "fe_name",
    "fe_id",
    "be_name",
    "be_id",
    "srv_name",
    "srv_id",
    "thread",
    "nbsrv",
    "connslots",
    "srv_is_up",
    "be_conn",
    "queue",
    "avg_queue",
    "srv_conn",
    "srv_queue",
    "bc_src",
    "bc_src_port",
    "bc_dst",
    "bc_dst_port",
    "bc_err",
    "bc_err_str",
    "bc_http_major",
    "fc_err_str",
    "http_first_req",
];

/// Whether [`Where`] answers fetch `name`: [`WHERE_FETCHES`] and the server connection's TLS
/// (`ssl_bc*`).
pub fn answers(name: &str) -> bool {
    WHERE_FETCHES.contains(&name) || name.starts_with("ssl_bc")
}

/// The `%` variables of a log line that the exchange alone does not answer (`%t %Ts %b %s
/// %ID %Tw %B %ac`...), in rule values: written with what the stream knows when the rule
/// runs by the same function as the log line (`crate::rule_facts`, `crate::log_vars`).
pub trait LogFacts: Sync {
    /// Writes `%` variable `name`; `None`: it has no value now.
    fn var(
        &self,
        env: &HttpEnv<'_>,
        name: &str,
        flags: fulcrum_sample::logformat::Flags,
        out: &mut Vec<u8>,
    ) -> Option<fulcrum_sample::logformat::Written>;
    /// A `unique-id` fetch made the stream's id: HAProxy makes it when first used (else after
    /// the request rules), and `%ID` writes it from then on.
    fn id_made(&self) {}
    /// The response head is there (before the `http-response` rules): what it brings.
    fn response(&self, _r: ResponseFacts) {}
}

/// What a response brings to a rule's log facts.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResponseFacts {
    /// `%TR %Tw %Tc %Tr`.
    pub request: Option<std::time::Duration>,
    pub queue: Option<std::time::Duration>,
    pub connect: Option<std::time::Duration>,
    pub response: Option<std::time::Duration>,
    /// `%rc`.
    pub retries: crate::farm::outcome::Retries,
    /// The request cookie's flag (`%tsc`'s third character; `-`: none).
    pub cookie: u8,
    /// The server connection's own address (`%bi %bp`).
    pub source: Option<SocketAddr>,
    /// `%bq`.
    pub queue_pos: u32,
}
