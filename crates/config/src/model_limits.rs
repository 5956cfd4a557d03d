//! Model of issue 13's "never silent" keywords that were warned and ignored and now run:
//! server `slowstart`, `maxqueue`, `redir`, `track`, `on-marked-down`/`on-marked-up`; bind
//! `maxconn`, `defer-accept`, `mss`, `interface`; global `maxconnrate`, `maxsessrate`,
//! `maxsslrate`, `maxcompcpuusage`, `tune.http.logurilen`, `ulimit-n`, `strict-limits`,
//! `stats maxconn` (the descriptor budget is `model_fds`'s).
//!
//! Parsed by `haproxy/server.rs`, `haproxy/bind.rs` and `haproxy/global.rs`.

use serde::Serialize;
use std::time::Duration;

/// A server's keywords of this file (inherited from `default-server` as the others).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerLimits {
    /// `slowstart T`: after coming UP the server's weight (dynamic algorithms) and `maxconn`
    /// grow from almost nothing to full over T, as HAProxy's warm-up.
    pub slowstart: Option<Duration>,
    /// `maxqueue N`: at most N requests wait for this server when a persistence (cookie,
    /// stick table, `use-server`) sends them to it while it is at `maxconn`; the next one is
    /// redispatched (`option redispatch`) or answered 503.
    pub maxqueue: Option<u32>,
    /// `redir PREFIX`: GET and HEAD requests for this server get a 302 to PREFIX + the
    /// request's path (HTTP mode).
    pub redir: Option<String>,
    /// `track [BACKEND/]SERVER`: the server's UP/DOWN state is the tracked server's
    /// (resolved when the configuration is checked: BACKEND defaults to the server's own).
    pub track: Option<(Option<String>, String)>,
    /// `on-marked-down shutdown-sessions`: when health checks mark the server DOWN, its
    /// established sessions are closed.
    pub shutdown_on_down: bool,
    /// `on-marked-up shutdown-backup-sessions`: when this (active) server comes UP, the
    /// sessions on the backend's backup servers are closed.
    pub shutdown_backup_on_up: bool,
}

/// A bind line's options of this file (socket options and its own connection limit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BindLimits {
    /// `maxconn N`: connections this listener holds at once; more wait in the backlog.
    pub maxconn: Option<u32>,
    /// `defer-accept`: TCP_DEFER_ACCEPT, a connection is accepted once data arrived.
    pub defer_accept: bool,
    /// `mss N`: TCP_MAXSEG on the listening socket; negative: the socket's default MSS
    /// lowered by that much (HAProxy's reading).
    pub mss: Option<i32>,
    /// `interface NAME`: SO_BINDTODEVICE.
    pub interface: Option<String>,
}

/// Global limits of this file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GlobalLimits {
    /// `maxconnrate N`: connections the process accepts per second.
    pub maxconnrate: Option<u32>,
    /// `maxsessrate N`: sessions the process creates per second (fulcrum makes a session of
    /// each accepted connection, as HAProxy without `tcp-request connection` rejections).
    pub maxsessrate: Option<u32>,
    /// `maxsslrate N`: TLS handshakes the process starts per second (connections to `ssl`
    /// listeners accepted per second).
    pub maxsslrate: Option<u32>,
    /// `maxcompcpuusage N`: above N% of CPU use, new responses are not compressed.
    pub maxcompcpuusage: Option<u32>,
    /// `tune.http.logurilen N`: the request line in log lines (`%r`, and the `%HU`... read
    /// from it) is cut to N bytes (HAProxy's default 1024).
    pub logurilen: Option<u32>,
    /// `ulimit-n N`: the descriptor limit to set at start (None: the one `model_fds`
    /// computes from `maxconn`).
    pub ulimit_n: Option<u32>,
    /// `strict-limits` / `no strict-limits` (None: off — HAProxy 2.6 defaults to on; fulcrum
    /// starts with the most the hard limit allows and warns unless `strict-limits` is written):
    /// a descriptor limit that cannot be set refuses to start.
    pub strict_limits: Option<bool>,
    /// `stats maxconn N`: connections each stats socket holds at once (None: 10).
    pub stats_maxconn: Option<u32>,
}

impl GlobalLimits {
    /// Whether a descriptor limit that cannot be applied refuses to start.
    pub fn strict(&self) -> bool {
        self.strict_limits.unwrap_or(false)
    }
}

impl crate::model::Balance {
    /// HAProxy's `BE_LB_KIND_HI` algorithms (a hash or random picks the server), where
    /// `option prefer-last-server` does not apply.
    pub fn is_hashed(&self) -> bool {
        use crate::model::Balance::*;
        matches!(
            self,
            Source | Uri { .. } | UrlParam { .. } | Hdr { .. } | Random { .. } | RdpCookie { .. }
        )
    }
}
