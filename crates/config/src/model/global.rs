//! HAProxy's `global` section: process settings, tuning, log targets, the runtime socket.

use crate::diagnostics::Span;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Global {
    pub span: Option<Span>,
    pub maxconn: Option<u32>,
    /// None: one thread per CPU (HAProxy 2.x default).
    pub nbthread: Option<u32>,
    pub logs: Vec<LogTarget>,
    pub stats_sockets: Vec<StatsSocket>,
    /// `cache NAME` sections, in file order.
    pub caches: Vec<crate::model_cache::CacheSection>,
    pub stats_timeout: Option<Duration>,
    pub daemon: bool,
    /// `user` / `uid`: who the process runs as once its sockets are open (see the binary's
    /// privileges.rs); `uid` wins over `user` as in HAProxy when both are written.
    pub user: Option<String>,
    pub group: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub chroot: Option<String>,
    pub pidfile: Option<String>,
    /// `tune.bufsize`, default 16384.
    pub tune_bufsize: u32,
    /// `tune.http.maxhdr`, `h1-case-adjust`, `h1-case-adjust-file`.
    pub h1: crate::model_codec::H1Global,
    /// `tune.maxrewrite`, default 1024.
    pub tune_maxrewrite: u32,
    /// `spread-checks` in percent (0..=50), default 0.
    pub spread_checks: u32,
    /// `localpeer NAME`: this process's name in `peers` sections (default: the host name).
    pub localpeer: Option<String>,
    /// `node NAME`: this node's name (HAProxy's default: the host name); health checks'
    /// `X-Haproxy-Server-State` carries it.
    pub node: Option<String>,
    /// `crt-base`, `ca-base`, `ssl-default-*`, `tune.ssl.*`.
    pub tls: crate::tls::GlobalTls,
    /// `zero-warning`: where it was written (any warning then refuses the configuration).
    pub zero_warning: Option<Span>,
    /// `tune.comp.maxlevel` (1..=9; None: 1).
    pub tune_comp_maxlevel: Option<u32>,
    /// `tune.h2.*`: HTTP/2 settings fulcrum advertises to clients (HAProxy's defaults).
    pub tune_h2: TuneH2,
    /// `log-tag TAG`: the syslog tag of every line (default: the program's name).
    pub log_tag: Option<String>,
    /// `log-send-hostname [NAME]`: the syslog header carries NAME (empty: the host's name).
    pub log_send_hostname: Option<String>,
    /// `setenv`, `presetenv`, `resetenv`, `unsetenv`, ... (issue 13).
    pub keywords: crate::model_keywords::GlobalKeywords,
    /// `maxconnrate`, `maxsessrate`, `maxsslrate`, `maxcompcpuusage`, `tune.http.logurilen`.
    pub limits: crate::model_limits::GlobalLimits,
    /// `nosplice`, `maxpipes`, `tune.pipesize`.
    pub splice: GlobalSplice,
}

/// The global settings of kernel splicing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GlobalSplice {
    /// `nosplice`: never splice, whatever the proxies' options say.
    pub off: bool,
    /// `maxpipes N` (None: HAProxy's default, a quarter of `maxconn`).
    pub maxpipes: Option<u32>,
    /// `tune.pipesize SIZE` (None: the kernel's default).
    pub pipesize: Option<u32>,
}

/// `tune.h2.initial-window-size` (65535), `tune.h2.max-concurrent-streams` (100),
/// `tune.h2.header-table-size` (4096).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TuneH2 {
    pub initial_window_size: u32,
    pub max_concurrent_streams: u32,
    pub header_table_size: u32,
}

impl Default for TuneH2 {
    fn default() -> Self {
        TuneH2 {
            initial_window_size: 65535,
            max_concurrent_streams: 100,
            header_table_size: 4096,
        }
    }
}

impl Default for Global {
    fn default() -> Self {
        Global {
            span: None,
            maxconn: None,
            nbthread: None,
            logs: Vec::new(),
            stats_sockets: Vec::new(),
            caches: Vec::new(),
            stats_timeout: None,
            daemon: false,
            user: None,
            group: None,
            uid: None,
            gid: None,
            chroot: None,
            pidfile: None,
            tune_bufsize: 16384,
            h1: Default::default(),
            tune_maxrewrite: 1024,
            spread_checks: 0,
            localpeer: None,
            node: None,
            tls: Default::default(),
            zero_warning: None,
            tune_comp_maxlevel: None,
            tune_h2: TuneH2::default(),
            log_tag: None,
            log_send_hostname: None,
            keywords: Default::default(),
            limits: Default::default(),
            splice: GlobalSplice::default(),
        }
    }
}

/// `log ADDRESS [len N] [format F] FACILITY [LEVEL [MINLEVEL]]`, or `log global` (expanded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogTarget {
    pub span: Span,
    /// As written: `127.0.0.1:514`, `/dev/log`, `stderr`, `udp@host:port`, ...
    pub address: String,
    pub facility: String,
    pub level: Option<String>,
    pub min_level: Option<String>,
    /// `format rfc3164|rfc5424|short|raw` (None: rfc3164).
    pub format: Option<String>,
    /// `len N`: the longest datagram (None: 1024, HAProxy's default).
    pub len: Option<u32>,
    /// `sample RANGES:SIZE`: of every SIZE lines sent to this target, only those whose rank
    /// (from 1) is in one of the inclusive ranges, sorted (`1,3-4:5`: lines 1, 3 and 4 of 5).
    pub sample: Option<LogSample>,
}

/// A `log` target's `sample` setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogSample {
    pub ranges: Vec<(u32, u32)>,
    pub size: u32,
}

/// `stats socket PATH|ADDR [mode M] [level L] ...`
#[derive(Debug, Clone, Serialize)]
pub struct StatsSocket {
    pub span: Span,
    pub address: String,
    pub mode: Option<u32>,
    pub level: StatsLevel,
    /// `user`/`uid`, `group`/`gid`: owner of a unix socket's file.
    pub user: Option<String>,
    pub group: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StatsLevel {
    User,
    Operator,
    Admin,
}
