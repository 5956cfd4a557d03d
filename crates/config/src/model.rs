//! The typed config model: one tree for everything fulcrum runs, whichever dialect it came from.
//!
//! HAProxy files fill `global` and `proxies`; keepalived files fill `keepalived`. Values here are
//! *resolved*: `defaults` sections and `default-server` lines have been applied, units converted,
//! and HAProxy's documented defaults filled in, so a subsystem reads a field and never needs to
//! know the file syntax. Names follow the users' words (frontend, backend, server, bind,
//! vrrp_instance, virtual_ipaddress, real_server). This module holds data only: no parsing, no I/O.

use crate::diagnostics::Span;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use crate::model_checks::*;

/// Everything loaded from all `-f` files.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    /// The files read, in order, with the dialect each was read as.
    pub files: Vec<SourceFile>,
    pub global: Global,
    /// Frontends, backends and listens in file order (defaults sections are not proxies).
    pub proxies: Vec<Proxy>,
    pub keepalived: Keepalived,
    /// The `cluster` section (VIPs placed over N nodes through etcd), if any.
    pub cluster: Option<Cluster>,
    /// The `api` section, when one is written (the LBaaS REST API).
    pub api: Option<Api>,
    /// `peers NAME` sections: stick tables naming one are replicated between its peers.
    pub peers: Vec<Peers>,
    /// `userlist NAME` sections (`http-request auth`, `http_auth(L)`).
    pub userlists: Vec<crate::model_userlist::Userlist>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceFile {
    pub path: String,
    pub dialect: Dialect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Haproxy,
    Keepalived,
}

/// Who a stick table is replicated with ([`Config::stick_peers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerSet<'a> {
    /// `stick-table ... peers NAME`: the peers of that section.
    Section(&'a Peers),
    /// In cluster mode with `peers-bind`, a table without `peers NAME`: the cluster's nodes.
    Cluster(&'a Cluster),
}

impl Config {
    /// This node's name in `peers` sections: global `localpeer`, else the cluster's `node`,
    /// else the host name (as HAProxy's `-L`, default the host name).
    pub fn local_peer(&self) -> String {
        self.global
            .localpeer
            .clone()
            .or_else(|| self.cluster.as_ref().map(|c| c.node.clone()))
            .unwrap_or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_string())
                    .unwrap_or_default()
            })
    }

    /// Who `table` is replicated with, if anyone (a section without this node as a peer is
    /// not run: warned at load).
    pub fn stick_peers(&self, table: &StickTable) -> Option<PeerSet<'_>> {
        match &table.peers {
            Some(name) => {
                let me = self.local_peer();
                self.peers
                    .iter()
                    .find(|s| &s.name == name && s.peers.iter().any(|p| p.name == me))
                    .map(PeerSet::Section)
            }
            None => self
                .cluster
                .as_ref()
                .filter(|c| c.peers_bind.is_some())
                .map(PeerSet::Cluster),
        }
    }

    pub fn proxy(&self, name: &str) -> Option<&Proxy> {
        self.proxies.iter().find(|p| p.name == name)
    }
    /// Proxies that accept connections (`frontend` and `listen`).
    pub fn frontends(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies.iter().filter(|p| p.kind.is_frontend())
    }
    /// Proxies that hold servers (`backend` and `listen`).
    pub fn backends(&self) -> impl Iterator<Item = &Proxy> {
        self.proxies.iter().filter(|p| p.kind.is_backend())
    }
    pub fn backend(&self, name: &str) -> Option<&Proxy> {
        self.backends().find(|p| p.name == name)
    }
}

// ---------------------------------------------------------------------------------------------
// HAProxy: global
// ---------------------------------------------------------------------------------------------

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
            tune_maxrewrite: 1024,
            spread_checks: 0,
            localpeer: None,
            node: None,
            tls: Default::default(),
            zero_warning: None,
            tune_comp_maxlevel: None,
            tune_h2: TuneH2::default(),
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

// ---------------------------------------------------------------------------------------------
// HAProxy: proxies
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyKind {
    Frontend,
    Backend,
    Listen,
}

impl ProxyKind {
    pub fn is_frontend(self) -> bool {
        matches!(self, ProxyKind::Frontend | ProxyKind::Listen)
    }
    pub fn is_backend(self) -> bool {
        matches!(self, ProxyKind::Backend | ProxyKind::Listen)
    }
    pub fn keyword(self) -> &'static str {
        match self {
            ProxyKind::Frontend => "frontend",
            ProxyKind::Backend => "backend",
            ProxyKind::Listen => "listen",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// HAProxy's default when no `mode` is set.
    #[default]
    Tcp,
    Http,
}

/// A `frontend`, `backend` or `listen` section with its `defaults` applied.
#[derive(Debug, Clone, Serialize)]
pub struct Proxy {
    pub name: String,
    pub kind: ProxyKind,
    pub span: Span,
    /// Name of the `defaults` section it inherited from, if that section was named.
    pub defaults: Option<String>,
    pub mode: Mode,
    pub binds: Vec<Bind>,
    pub acls: Vec<Acl>,
    pub default_backend: Option<Reference>,
    pub use_backends: Vec<UseBackend>,
    pub balance: Balance,
    pub servers: Vec<Server>,
    pub cookie: Option<CookiePersistence>,
    pub timeouts: Timeouts,
    /// `retries`, default 3.
    pub retries: u32,
    pub maxconn: Option<u32>,
    pub fullconn: Option<u32>,
    pub options: ProxyOptions,
    pub http_check: HttpCheck,
    /// `tcp-check` rules, run with `option tcp-check`.
    pub tcp_check: Vec<TcpCheckRule>,
    /// `external-check command|path`, run with `option external-check`.
    pub external_check: ExternalCheck,
    pub http_request: Vec<HttpRule>,
    pub http_response: Vec<HttpRule>,
    /// `tcp-request connection|session|content` and `tcp-response content` rules, in order
    /// (a named `defaults` section's first).
    pub tcp_rules: TcpRules,
    /// `log-format STRING`: the traffic log line, replacing `option httplog`/`tcplog`.
    pub log_format: Option<String>,
    /// `capture request|response header NAME len N`, in order.
    pub captures: Vec<Capture>,
    pub stick_table: Option<StickTable>,
    pub stick_rules: Vec<StickRule>,
    pub logs: Vec<LogTarget>,
    pub errorfiles: Vec<ErrorFile>,
    pub stats: Option<Stats>,
    /// `source ADDR[:PORT]`: the local address connections to this proxy's servers (and their
    /// health checks) are bound to, unless a server sets its own.
    pub source: Option<SocketAddr>,
    /// `monitor-uri PATH`: requests for it are answered by the frontend itself (200).
    pub monitor_uri: Option<String>,
    /// `monitor fail if|unless COND`: the monitor URI answers 503 when one holds.
    pub monitor_fail: Vec<crate::model_cache::MonitorFail>,
}

impl Proxy {
    /// The local address connections to `server` leave from: the server's `source`, else the
    /// proxy's (`source` in the backend or its `defaults`), else the system's choice.
    pub fn server_source(&self, server: &Server) -> Option<SocketAddr> {
        server.source.or(self.source)
    }
}

/// A name that refers to another item, with where it was written (checked by validation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bind {
    pub span: Span,
    pub address: BindAddress,
    /// First and last port of `PORT` or `PORT-PORT`.
    pub port_first: u16,
    pub port_last: u16,
    pub transparent: bool,
    pub freebind: bool,
    pub v4v6: bool,
    pub v6only: bool,
    pub ssl: bool,
    /// TLS options of the line (`crt`, `alpn`, `verify`, ...), as written.
    pub tls: crate::tls::TlsOptions,
    /// `proto h2`: the bind speaks HTTP/2 without TLS (h2c with prior knowledge).
    pub proto_h2: bool,
    pub name: Option<String>,
    /// `accept-proxy`
    pub accept_proxy: bool,
    /// `mode` (octal) of a unix socket's file.
    pub mode: Option<u32>,
    /// `uid` / `user`: owner of a unix socket's file (a name is looked up when binding).
    pub uid: Option<u32>,
    pub user: Option<String>,
    /// `gid` / `group`: group of a unix socket's file.
    pub gid: Option<u32>,
    pub group: Option<String>,
    /// `id`: the listener's number in its frontend (logged as `unix:ID` for unix clients);
    /// None: its position among the frontend's listeners, from 1, as HAProxy numbers them.
    pub id: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BindAddress {
    /// `*`, `0.0.0.0` written as `:PORT` or `*:PORT`: every IPv4 address.
    AnyV4,
    /// `:::PORT`: every IPv6 (and IPv4 unless v6only) address.
    AnyV6,
    Ip(IpAddr),
    /// A unix socket path (`/path` or `unix@/path`).
    Unix(String),
    /// `abns@NAME`: a name in Linux's abstract unix socket namespace (no file).
    Abns(String),
    /// `fd@N`: an already open socket inherited from the parent (systemd, a wrapper script).
    Fd(i32),
    /// `sockpair@N`: connections arrive as file descriptors over the unix socket pair N.
    Sockpair(i32),
}

/// `acl NAME CRITERION [FLAGS] [OPERATOR] VALUE...`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Acl {
    pub name: String,
    pub span: Span,
    pub fetch: Fetch,
    /// `-i`
    pub ignore_case: bool,
    /// `-m METHOD` when written, e.g. `beg`, `str`, `reg`, `found`.
    pub match_method: Option<String>,
    pub patterns: Vec<String>,
    /// The ACL as written after its name: criterion (a sample expression or an ACL keyword
    /// such as `hdr_beg(host)`), flags and patterns. The data plane compiles these with the
    /// sample engine (`fulcrum_sample::acl`); the fields above are a summary for tooling.
    pub words: Vec<String>,
}

/// A sample fetch with its optional argument, e.g. `hdr(host)` → name `hdr`, arg `host`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fetch {
    pub name: String,
    pub arg: Option<String>,
}

/// `if|unless` followed by ACL terms; OR of AND groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    /// `unless` inverts the whole condition.
    pub unless: bool,
    /// Terms separated by `||`/`or`: any group true → condition true.
    pub any_of: Vec<Vec<AclTerm>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AclTerm {
    pub negate: bool,
    pub acl: AclRef,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AclRef {
    /// A named `acl` of the proxy, or a predefined one (`TRUE`, `FALSE`, `HTTP`, ...).
    Named(Reference),
    /// An anonymous ACL written in braces: `{ path /metrics }`.
    Anonymous(Box<Acl>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UseBackend {
    pub span: Span,
    pub backend: Reference,
    pub condition: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case", tag = "algorithm")]
pub enum Balance {
    #[default]
    Roundrobin,
    StaticRr,
    Leastconn,
    First,
    Source,
    Uri {
        whole: bool,
        len: Option<u32>,
        depth: Option<u32>,
    },
    UrlParam {
        param: String,
    },
    Hdr {
        name: String,
        use_domain_only: bool,
    },
    Random {
        draws: u32,
    },
    RdpCookie {
        name: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Server {
    pub name: String,
    pub span: Span,
    pub address: ServerAddress,
    /// `weight`, 0..=256, default 1.
    pub weight: u32,
    pub maxconn: Option<u32>,
    pub backup: bool,
    pub disabled: bool,
    pub check: bool,
    /// `inter`, default 2s.
    pub inter: Duration,
    pub fastinter: Option<Duration>,
    pub downinter: Option<Duration>,
    /// `fall`, default 3.
    pub fall: u32,
    /// `rise`, default 2.
    pub rise: u32,
    /// `port`: where checks go, when not the server's port.
    pub check_port: Option<u16>,
    /// `addr`: where checks go, when not the server's address.
    pub check_addr: Option<IpAddr>,
    pub cookie: Option<String>,
    pub observe: Option<Observe>,
    /// `error-limit`, default 10.
    pub error_limit: u32,
    pub on_error: OnError,
    pub send_proxy: bool,
    /// `send-proxy-v2`: connections start with a PROXY protocol v2 header.
    pub send_proxy_v2: bool,
    /// `check-send-proxy`: checks start with a PROXY protocol header.
    pub check_send_proxy: bool,
    /// `check-ssl`, `check-sni NAME`, `check-alpn LIST`, `verify none|required`, `ca-file`:
    /// health checks over TLS (the data path's `ssl` is issue 14's).
    pub check_tls: CheckTls,
    /// `agent-check` with `agent-port`, `agent-addr`, `agent-inter`, `agent-send`.
    pub agent: Agent,
    /// `source ADDR[:PORT]` on the server line (port 0: any); see [`Proxy::server_source`].
    pub source: Option<SocketAddr>,
    /// `ssl`: connections to the server are TLS (`no-ssl` clears it).
    pub ssl: bool,
    /// TLS options of the line (`verify`, `ca-file`, `sni`, `alpn`, ...), as written.
    pub tls: crate::tls::TlsOptions,
}

/// `ADDRESS[:PORT]` of a server. `host` is an IP or a name resolved when the proxy starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerAddress {
    pub host: String,
    /// Set when `host` is a literal IP address.
    pub ip: Option<IpAddr>,
    pub port: ServerPort,
    /// `unix@PATH`, `/PATH` or `abns@NAME`: a unix stream socket instead of HOST:PORT (then
    /// `host` is the address as written, `ip` is None and `port` Unset).
    pub unix: Option<UnixAddress>,
}

/// A server reached over a unix stream socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnixAddress {
    /// `unix@PATH` or `/PATH`: a socket file.
    Path(String),
    /// `abns@NAME`: a name in Linux's abstract namespace (HAProxy pads it with NULs to the
    /// whole `sun_path`).
    Abns(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerPort {
    /// No port: the connection's destination port is kept.
    Unset,
    Fixed(u16),
    /// `+N` / `-N`: offset from the connection's destination port.
    Offset(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Observe {
    Layer4,
    Layer7,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    #[default]
    FailCheck,
    Fastinter,
    SuddenDeath,
    MarkDown,
}

/// `cookie NAME [rewrite|insert|prefix] [indirect] [nocache] [postonly] [preserve] [httponly]
/// [secure] [domain D]... [maxidle T] [maxlife T]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CookiePersistence {
    pub span: Span,
    pub name: String,
    pub method: CookieMethod,
    pub indirect: bool,
    pub nocache: bool,
    pub postonly: bool,
    pub preserve: bool,
    pub httponly: bool,
    pub secure: bool,
    pub domains: Vec<String>,
    pub maxidle: Option<Duration>,
    pub maxlife: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CookieMethod {
    /// HAProxy's default when no method is named.
    #[default]
    Rewrite,
    Insert,
    Prefix,
}

/// All `timeout` settings; `None` means not set (HAProxy then waits forever and warns).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    pub connect: Option<Duration>,
    pub client: Option<Duration>,
    pub server: Option<Duration>,
    pub http_request: Option<Duration>,
    pub http_keep_alive: Option<Duration>,
    pub queue: Option<Duration>,
    pub check: Option<Duration>,
    pub tunnel: Option<Duration>,
    pub client_fin: Option<Duration>,
    pub server_fin: Option<Duration>,
    /// `timeout tarpit`: how long `http-request tarpit` holds a request (else `timeout connect`).
    pub tarpit: Option<Duration>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProxyOptions {
    pub redispatch: bool,
    pub forwardfor: Option<ForwardFor>,
    pub http_connection: HttpConnectionMode,
    pub httplog: bool,
    pub tcplog: bool,
    pub dontlognull: bool,
    pub httpchk: Option<HttpChk>,
    pub allbackups: bool,
    pub persist: bool,
    pub abortonclose: bool,
    /// `option log-health-checks`
    pub log_health_checks: bool,
    /// `option tcp-check`, `option redis-check`, ... (None: `option httpchk` or a connect).
    pub check_protocol: Option<CheckProtocol>,
    /// `compression algo|type|offload` (None: no `compression` line).
    pub compression: Option<crate::model_extras::Compression>,
    /// `option originalto [except NET] [header NAME]`.
    pub originalto: Option<crate::model_extras::OriginalTo>,
    /// `unique-id-format` / `unique-id-header`.
    pub unique_id: crate::model_extras::UniqueId,
    /// `option http-ignore-probes`: a connection that sends nothing gets no 408.
    pub http_ignore_probes: bool,
    /// `option http-buffer-request`: the request body (up to a buffer) is read before the
    /// `http-request` rules, for the `req.body*` fetches.
    pub http_buffer_request: bool,
    /// `http-request wait-for-body` as a frontend's first rule (`haproxy::wait_body`).
    pub wait_for_body: Option<WaitForBody>,
    /// `retry-on none`: a failed connection is not retried (nor redispatched).
    pub retry_on_none: bool,
}

/// `http-request wait-for-body time T [at-least N]`: wait up to `time` for the whole body,
/// or `at_least` bytes of it (0: the whole), or a bufferful.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitForBody {
    pub time: std::time::Duration,
    pub at_least: u64,
}

/// `option forwardfor [except NETWORK] [header NAME] [if-none]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardFor {
    pub except: Option<String>,
    /// Default `X-Forwarded-For`.
    pub header: String,
    pub if_none: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpConnectionMode {
    /// HAProxy 2.x default.
    #[default]
    KeepAlive,
    ServerClose,
    Close,
}

/// `option httpchk [METHOD] [URI] [VERSION]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpChk {
    pub method: String,
    pub uri: String,
    pub version: String,
    /// Anything written after the version (old-style `\r\nHost:\ x` headers).
    pub extra: Option<String>,
}

impl Default for HttpChk {
    fn default() -> Self {
        HttpChk {
            method: "OPTIONS".into(),
            uri: "/".into(),
            version: "HTTP/1.0".into(),
            extra: None,
        }
    }
}

/// The `http-check` rules of a backend, in order (several connect/send/expect in one check).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HttpCheck {
    pub rules: Vec<HttpCheckRule>,
    /// `http-check disable-on-404`: a 404 from an UP server puts it in NOLB (no new
    /// balanced traffic, persistent clients kept) instead of failing the check.
    pub disable_on_404: bool,
    /// `http-check send-state`: every check request carries `X-Haproxy-Server-State`.
    pub send_state: bool,
    /// The rules came from `defaults`: a proxy's own first rule replaces them (HAProxy
    /// inherits a defaults ruleset only when the proxy has none).
    #[serde(skip)]
    pub inherited: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpCheckRule {
    Connect(TcpCheckConnect),
    Send(HttpCheckSend),
    Expect(HttpCheckExpect),
    Comment(String),
}

/// `http-check send [meth M] [uri U] [ver V] [hdr N V]... [body S]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HttpCheckSend {
    pub method: Option<String>,
    pub uri: Option<String>,
    pub version: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// `http-check expect [!] status|rstatus|string|rstring PATTERN`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpCheckExpect {
    pub span: Span,
    pub negate: bool,
    pub kind: ExpectKind,
    pub pattern: String,
    /// `hdr|fhdr name [-m METH] NAME [value [-m METH] VALUE]`
    pub header: Option<HeaderMatch>,
}

/// How `http-check expect hdr|fhdr` matches a header name and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderMatch {
    pub name_method: MatchMethod,
    pub name: String,
    pub value: Option<(MatchMethod, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMethod {
    Str,
    Beg,
    End,
    Sub,
    Reg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectKind {
    Status,
    Rstatus,
    String,
    Rstring,
    /// A header, its value split at commas.
    Hdr,
    /// A header, its full value.
    Fhdr,
}

/// A proxy's `tcp-request` / `tcp-response` rules by phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TcpRules {
    pub connection: Vec<TcpRule>,
    pub session: Vec<TcpRule>,
    pub content: Vec<TcpRule>,
    pub response: Vec<TcpRule>,
    /// `tcp-request inspect-delay`.
    pub inspect_delay: Option<std::time::Duration>,
    /// `tcp-response inspect-delay`.
    pub response_inspect_delay: Option<std::time::Duration>,
}

impl TcpRules {
    pub fn is_empty(&self) -> bool {
        self.connection.is_empty()
            && self.session.is_empty()
            && self.content.is_empty()
            && self.response.is_empty()
    }
}

/// One `tcp-request` / `tcp-response` rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcpRule {
    pub span: Span,
    pub action: TcpAction,
    pub condition: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum TcpAction {
    /// Stops the rules of this phase; the connection goes on.
    Accept,
    /// Closes the connection at once.
    Reject,
    /// Closes the connection without telling the client (no FIN/RST reaches it).
    SilentDrop,
    /// `track-scN`, `sc-inc-gpc0/1`, `sc-set-gpt0`.
    Counter(CounterAction),
    /// `set-var`, `set-var-fmt`, `unset-var`.
    Var(VarAction),
}

/// One `http-request` or `http-response` rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpRule {
    pub span: Span,
    pub action: HttpAction,
    pub condition: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum HttpAction {
    Allow,
    Deny {
        status: Option<u16>,
    },
    /// `set-header NAME FMT` (FMT is a HAProxy log-format string, kept as written).
    SetHeader {
        name: String,
        value: String,
    },
    AddHeader {
        name: String,
        value: String,
    },
    DelHeader {
        name: String,
    },
    Redirect {
        kind: RedirectKind,
        target: String,
        code: u16,
        /// `drop-query`: the query string is not carried over (prefix, scheme).
        drop_query: bool,
        /// `append-slash`: a `/` is added to a path not ending with one (with `drop-query`).
        append_slash: bool,
        /// `set-cookie NAME[=VALUE]` / `clear-cookie NAME[=]`: the Set-Cookie value sent.
        cookie: Option<String>,
    },
    /// `return [status N] [content-type T] [string S | file F | errorfile F] [hdr N V]...`
    Return {
        status: u16,
        content_type: Option<String>,
        body: ReturnBody,
        headers: Vec<(String, String)>,
    },
    /// `use-service NAME`, e.g. `prometheus-exporter`.
    UseService {
        name: String,
    },
    /// `track-scN`, `sc-inc-gpc0/1`, `sc-set-gpt0`.
    Counter(CounterAction),
    /// `set-var`, `set-var-fmt`, `unset-var`.
    Var(VarAction),
    /// `set-method|set-path|set-pathq|set-query|set-uri FMT`.
    SetLine {
        part: LinePart,
        value: String,
    },
    /// `replace-path|replace-pathq|replace-uri REGEX FMT`.
    ReplaceLine {
        part: LinePart,
        regex: String,
        value: String,
    },
    /// `replace-header NAME REGEX FMT` (whole values) / `replace-value` (each comma-separated
    /// value): a value the regex matches is replaced by FMT with `\N` groups.
    ReplaceHeader {
        name: String,
        regex: String,
        value: String,
        each: bool,
    },
    /// `set-status CODE [reason TEXT]` (responses).
    SetStatus {
        status: u16,
        reason: Option<String>,
    },
    /// `del-header NAME -m beg|end|sub|reg` (`-m str` is [`HttpAction::DelHeader`]).
    DelHeaderMatch {
        name: String,
        method: String,
    },
    /// `http-request cache-use NAME`: serve from the cache section NAME when it holds the object.
    CacheUse {
        cache: String,
    },
    /// `http-response cache-store NAME`: store the response in the cache section NAME.
    CacheStore {
        cache: String,
    },
    /// `auth [realm REALM]`: 401 with `WWW-Authenticate: Basic realm="REALM"` (the proxy's
    /// name without a realm).
    Auth {
        realm: Option<String>,
    },
    /// `tarpit [deny_status N]`: the request is held `timeout tarpit`, then answered with
    /// the error page for N (500 by default).
    Tarpit {
        status: u16,
    },
    /// `set-log-level LEVEL`: the request's log line is sent at this syslog severity
    /// (0 emerg .. 7 debug); `None`: `silent`, no line.
    SetLogLevel {
        level: Option<u8>,
    },
    /// `set-timeout server|tunnel TIME`: this request's server (or tunnel) timeout.
    SetTimeout {
        tunnel: bool,
        value: Duration,
    },
    /// `http-request capture SAMPLE len N`: the sample's value, cut to N bytes, in the
    /// request capture slot `slot` (a new one, after those declared before it).
    Capture {
        expr: String,
        len: usize,
        slot: usize,
    },
    /// `set-src|set-dst|set-src-port|set-dst-port EXPR`.
    SetAddr {
        part: AddrPart,
        expr: String,
    },
}

/// Which address `http-request set-src` and its siblings rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AddrPart {
    Src,
    Dst,
    SrcPort,
    DstPort,
}

/// `capture request|response header NAME len N`: the header's last value, cut to `len`
/// bytes, written in the log line (`{...}` of `option httplog`, `%hr`/`%hs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capture {
    pub response: bool,
    pub name: String,
    pub len: usize,
    /// A slot an `http-request capture SAMPLE len N` rule fills (`name` is empty).
    pub sample: bool,
}

/// The part of the request line a rule rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinePart {
    Method,
    Path,
    Pathq,
    Query,
    Uri,
}

/// Variable actions, in `http-request`/`http-response` and `tcp-request` rules. `scope` is
/// one of `proc sess txn req res`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "var")]
pub enum VarAction {
    /// `set-var(scope.name) EXPR`: a sample expression.
    Set {
        scope: String,
        name: String,
        expr: String,
    },
    /// `set-var-fmt(scope.name) FMT`: a log-format string.
    SetFmt {
        scope: String,
        name: String,
        format: String,
    },
    /// `unset-var(scope.name)`.
    Unset { scope: String, name: String },
}

/// Stick-counter actions, in `http-request` and `tcp-request` rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "counter")]
pub enum CounterAction {
    /// `track-scN KEY [table T]`: KEY is a sample expression; T a proxy with a stick-table
    /// (default: the rule's own proxy).
    TrackSc {
        slot: u8,
        key: String,
        table: Option<String>,
    },
    /// `sc-inc-gpc0(N)` / `sc-inc-gpc1(N)`.
    IncGpc { slot: u8, idx: u8 },
    /// `sc-set-gpt0(N) VALUE`.
    SetGpt0 { slot: u8, value: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RedirectKind {
    Location,
    Prefix,
    Scheme,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReturnBody {
    None,
    String(String),
    /// `lf-string`: a log-format string, kept as written.
    LfString(String),
    File(String),
    Errorfile(String),
}

/// `stick-table type ip|ipv6|integer|string|binary [len N] size N [expire T] [nopurge] [store ...]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StickTable {
    pub span: Span,
    pub key_type: StickKeyType,
    pub len: Option<u32>,
    pub size: u64,
    pub expire: Option<Duration>,
    pub nopurge: bool,
    pub store: Vec<String>,
    /// `peers NAME`: the table is replicated between the peers of that section.
    pub peers: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StickKeyType {
    Ip,
    Ipv6,
    Integer,
    String,
    Binary,
}

/// `stick on|match|store-request|store-response PATTERN [table T] [if|unless COND]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StickRule {
    pub span: Span,
    pub kind: StickRuleKind,
    pub fetch: Fetch,
    pub table: Option<Reference>,
    pub condition: Option<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StickRuleKind {
    On,
    Match,
    StoreRequest,
    StoreResponse,
}

/// `errorfile CODE FILE`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorFile {
    pub span: Span,
    pub status: u16,
    pub path: String,
}

/// `stats enable|uri|realm|auth|refresh|admin|hide-version|show-legends|scope` in a proxy.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub enabled: bool,
    pub uri: Option<String>,
    pub realm: Option<String>,
    pub auth: Vec<(String, String)>,
    pub refresh: Option<Duration>,
    pub admin: Option<Condition>,
    pub hide_version: bool,
    pub show_legends: bool,
    pub scope: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// keepalived
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Serialize)]
pub struct Keepalived {
    pub global_defs: GlobalDefs,
    pub vrrp_scripts: Vec<VrrpScript>,
    pub vrrp_instances: Vec<VrrpInstance>,
    pub vrrp_sync_groups: Vec<VrrpSyncGroup>,
    pub virtual_servers: Vec<VirtualServer>,
    /// `track_file NAME { file PATH weight W [reverse] init_file [V] [overwrite] }`
    /// (`vrrp_track_file` is its old name): read by real servers' `FILE_CHECK`.
    pub track_files: Vec<TrackFile>,
}

/// A file whose number a `FILE_CHECK` follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackFile {
    pub span: Span,
    pub name: String,
    pub file: String,
    /// Default 1; 0 means "a non-zero value is a failure".
    pub weight: i32,
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]`: write VALUE (default 0) at start when the file is
    /// missing, or always with `overwrite`.
    pub init_file: Option<(i64, bool)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    /// `vrrp_version`, default 2.
    pub vrrp_version: Option<u8>,
    pub enable_script_security: bool,
    pub script_user: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<String>,
    pub smtp_connect_timeout: Option<Duration>,
    /// `smtp_helo_name`, default the host name.
    pub smtp_helo_name: Option<String>,
    /// `smtp_alert [BOOL]`: the default for every instance (and checker) without its own.
    pub smtp_alert: Option<bool>,
    /// `smtp_alert_vrrp [BOOL]`: the default for VRRP instances, over `smtp_alert`.
    pub smtp_alert_vrrp: Option<bool>,
    /// `smtp_alert_checker [BOOL]`: the default for checkers, over `smtp_alert`.
    pub smtp_alert_checker: Option<bool>,
}

/// `vrrp_script NAME { script ... interval ... }`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VrrpScript {
    pub name: String,
    pub span: Span,
    pub script: String,
    /// Default 1s.
    pub interval: Duration,
    pub timeout: Option<Duration>,
    /// Default 0 (keepalived: -253..=253; 0 means a failing script puts the instance in FAULT).
    pub weight: i32,
    /// Default 1.
    pub fall: u32,
    /// Default 1.
    pub rise: u32,
    /// `user USER [GROUP]`: runs as that user instead of `script_user`.
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VrrpState {
    Master,
    Backup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VrrpInstance {
    pub name: String,
    pub span: Span,
    /// Initial state asked for; keepalived starts as BACKUP unless MASTER is named.
    pub state: Option<VrrpState>,
    pub interface: Option<String>,
    pub virtual_router_id: u8,
    /// Default 100; 255 means address owner.
    pub priority: u8,
    /// Default 1s; VRRPv3 allows centiseconds.
    pub advert_int: Duration,
    /// Resolved: `version` in the instance, else `vrrp_version` in global_defs, else 2;
    /// an IPv6 instance always runs 3 (as keepalived).
    pub version: u8,
    pub authentication: Option<VrrpAuth>,
    pub virtual_ipaddress: Vec<VirtualIp>,
    pub virtual_ipaddress_excluded: Vec<VirtualIp>,
    pub nopreempt: bool,
    pub preempt_delay: Option<Duration>,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peer: Vec<IpAddr>,
    pub track_script: Vec<TrackScript>,
    pub track_interface: Vec<TrackInterface>,
    pub notify: Option<String>,
    pub notify_master: Option<String>,
    pub notify_backup: Option<String>,
    pub notify_fault: Option<String>,
    pub notify_stop: Option<String>,
    /// Default 5s.
    pub garp_master_delay: Duration,
    /// Default 5.
    pub garp_master_repeat: u32,
    /// Default: no refresh.
    pub garp_master_refresh: Option<Duration>,
    /// `smtp_alert [BOOL]`: mail on state changes (None: global_defs decides).
    pub smtp_alert: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VrrpAuth {
    pub auth_type: VrrpAuthType,
    pub auth_pass: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VrrpAuthType {
    Pass,
    Ah,
}

/// One line of `virtual_ipaddress { ADDR[/PREFIX] [brd B] [dev X] [label L] [scope S] }`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualIp {
    pub span: Span,
    pub address: IpAddr,
    /// Default 32 for IPv4, 128 for IPv6 (as keepalived).
    pub prefix: u8,
    pub dev: Option<String>,
    pub label: Option<String>,
    pub brd: Option<IpAddr>,
    pub scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackScript {
    pub script: Reference,
    /// Overrides the script's own weight when written.
    pub weight: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackInterface {
    pub span: Span,
    pub interface: String,
    pub weight: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VrrpSyncGroup {
    pub name: String,
    pub span: Span,
    pub group: Vec<Reference>,
    pub notify: Option<String>,
    pub notify_master: Option<String>,
    pub notify_backup: Option<String>,
    pub notify_fault: Option<String>,
    /// `smtp_alert [BOOL]`: mail on the group's state changes.
    pub smtp_alert: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualServer {
    pub span: Span,
    pub address: VirtualServerAddress,
    /// Default 60s.
    pub delay_loop: Duration,
    /// `lb_algo` / `lvs_sched`, e.g. `rr`, `wrr`, `lc`, `wlc`, `sh`, `dh`; default `wlc`.
    pub lb_algo: String,
    /// `lb_kind` / `lvs_method`: NAT, DR, TUN; default NAT.
    pub lb_kind: LbKind,
    pub persistence_timeout: Option<Duration>,
    pub protocol: IpProtocol,
    /// `sorry_server IP [PORT]`; a missing port is the virtual server's.
    pub sorry_server: Option<(IpAddr, u16)>,
    /// Default 1.
    pub quorum: u32,
    pub hysteresis: u32,
    pub real_servers: Vec<RealServer>,
    /// `persistence_granularity MASK`: persistence per source network.
    pub persistence_granularity: Option<IpAddr>,
    /// Scripts run when the quorum is gained / lost.
    pub quorum_up: Option<String>,
    pub quorum_down: Option<String>,
    /// `virtual_server group NAME`: the group's name; `address` is its first address and
    /// `also` the others.
    pub group: Option<String>,
    pub also: Vec<VirtualServerAddress>,
    /// `alpha`: real servers with checkers start DOWN until a check passes.
    pub alpha: bool,
    /// `omega`: on shutdown, the quorum_down script runs (if the quorum was up).
    pub omega: bool,
    /// `smtp_alert [BOOL]`: mail on its real servers' changes (None: global_defs decides).
    pub smtp_alert: Option<bool>,
    /// `expire_nodest_conn [BOOL]` (fulcrum's keyword for LVS's sysctl of that name, off by
    /// default as in LVS): a real server that goes DOWN loses its flows at once (conntrack
    /// entries and persistence entries), so its clients reconnect elsewhere immediately.
    pub expire_nodest_conn: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VirtualServerAddress {
    Ip { ip: IpAddr, port: u16 },
    Fwmark(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LbKind {
    #[default]
    Nat,
    Dr,
    Tun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IpProtocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RealServer {
    pub span: Span,
    pub ip: IpAddr,
    /// When not written: the virtual server's port (0 for a fwmark service).
    pub port: u16,
    /// Default 1.
    pub weight: u32,
    pub inhibit_on_failure: bool,
    pub checkers: Vec<Checker>,
    /// `smtp_alert [BOOL]`: mail on this server's changes (None: the virtual server decides).
    pub smtp_alert: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", tag = "type")]
pub enum Checker {
    /// `HTTP_GET` (ssl = false) or `SSL_GET` (ssl = true).
    HttpGet {
        span: Span,
        ssl: bool,
        urls: Vec<CheckUrl>,
        /// Default 5s.
        connect_timeout: Duration,
        connect_port: Option<u16>,
        /// `retry` / `nb_get_retry`, default 1.
        retry: u32,
        /// Default 3s for HTTP_GET/SSL_GET (keepalived.conf(5); 1s is the TCP_CHECK default).
        delay_before_retry: Duration,
        /// `connect_ip`, `bindto`, `bind_port` (the rest of keepalived's connection options).
        addr: CheckAddrOpts,
        /// `http_protocol 1.0|1.0C|1.1` (default 1.0).
        http_protocol: HttpProtocol,
        /// `virtualhost` of the checker, else of the real server, else of the virtual server:
        /// the `Host:` header (and with `enable_sni`, the TLS server name).
        virtualhost: Option<String>,
        /// SSL_GET `enable_sni`.
        enable_sni: bool,
    },
    TcpCheck {
        span: Span,
        connect_timeout: Duration,
        connect_port: Option<u16>,
        retry: u32,
        delay_before_retry: Duration,
        addr: CheckAddrOpts,
    },
    /// `SMTP_CHECK { helo_name NAME }`: banner 220, `HELO NAME` → 250, `QUIT`.
    SmtpCheck {
        span: Span,
        conn: CheckConn,
        /// Default `smtpchecker.keepalived.org`.
        helo_name: String,
    },
    /// `DNS_CHECK { type T name N }`: a UDP query answered with rcode 0.
    DnsCheck {
        span: Span,
        conn: CheckConn,
        /// A NS CNAME SOA MX TXT AAAA as their numbers (default SOA = 6).
        query_type: u16,
        /// Default `.`.
        name: String,
    },
    /// `UDP_CHECK { payload HEX require_reply [HEX] min_reply_length N max_reply_length N }`.
    UdpCheck {
        span: Span,
        conn: CheckConn,
        /// None: a random payload, as keepalived.
        payload: Option<Vec<u8>>,
        require_reply: bool,
        /// The reply's first bytes as (value, mask of the bits compared); `x` nibbles are 0.
        reply: Vec<(u8, u8)>,
        /// Default 0.
        min_reply_length: u16,
        /// Default 255.
        max_reply_length: u16,
    },
    /// `PING_CHECK`: an ICMP (ICMPv6) echo answered within connect_timeout.
    PingCheck { span: Span, conn: CheckConn },
    /// `FILE_CHECK { track_file NAME weight W [reverse] }`: the number in a `track_file`.
    FileCheck {
        span: Span,
        track_file: String,
        /// None: the track_file's weight.
        weight: Option<(i32, bool)>,
    },
    MiscCheck {
        span: Span,
        misc_path: String,
        /// Default: the virtual server's delay_loop.
        misc_timeout: Option<Duration>,
        misc_dynamic: bool,
    },
}

/// A server's TLS settings for its health checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckTls {
    /// `check-ssl`.
    pub enabled: bool,
    pub sni: Option<String>,
    /// `check-alpn h2,http/1.1`.
    pub alpn: Vec<String>,
    /// `verify none`: the certificate is not checked (else `ca-file` is required, as HAProxy's
    /// default `ssl-server-verify required`).
    pub verify_none: bool,
    pub ca_file: Option<String>,
}

impl Checker {
    /// Where the checker block starts.
    pub fn span(&self) -> &Span {
        match self {
            Checker::HttpGet { span, .. }
            | Checker::TcpCheck { span, .. }
            | Checker::SmtpCheck { span, .. }
            | Checker::DnsCheck { span, .. }
            | Checker::UdpCheck { span, .. }
            | Checker::PingCheck { span, .. }
            | Checker::FileCheck { span, .. }
            | Checker::MiscCheck { span, .. } => span,
        }
    }
}

/// `url { path P [status_code N] [digest HEX] [virtualhost H] [regex R] [regex_no_match] }`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CheckUrl {
    pub path: String,
    /// Empty: any 2xx, as keepalived.
    pub status_code: Vec<u16>,
    pub digest: Option<String>,
    /// Over the checker's `virtualhost` for this url.
    pub virtualhost: Option<String>,
    /// `regex` (PCRE2 in keepalived; the `regex` crate's syntax here, with `regex_options`
    /// caseless/multiline/dotall/extended/ungreedy mapped to its flags): searched in the body.
    pub regex: Option<String>,
    /// `regex_no_match`: a match fails the check.
    pub regex_no_match: bool,
    /// `regex_min_offset` / `regex_max_offset`: where in the body a match may start.
    pub regex_min_offset: Option<usize>,
    pub regex_max_offset: Option<usize>,
}

/// `http_protocol` of HTTP_GET/SSL_GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum HttpProtocol {
    /// `GET P HTTP/1.0` (keepalived's default).
    #[default]
    Http10,
    /// `1.0C`: HTTP/1.0 with `Connection: close`.
    Http10Close,
    /// `1.1`: HTTP/1.1 with `Connection: close`.
    Http11,
}

/// keepalived's connection options of a checker other than the port: `connect_ip` (default
/// the real server's address), `bindto` and `bind_port` (the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CheckAddrOpts {
    pub connect_ip: Option<IpAddr>,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
}

/// Everything a socket checker shares (keepalived's `conn_opts` plus its retry timing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckConn {
    pub addr: CheckAddrOpts,
    pub connect_port: Option<u16>,
    /// Default 5s.
    pub connect_timeout: Duration,
    pub retry: u32,
    pub delay_before_retry: Duration,
}

// ---------------------------------------------------------------------------------------------
// cluster: service VIPs placed over N nodes through etcd (Pacemaker's role in the seeds)

/// The `cluster` section of a HAProxy-syntax file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cluster {
    pub span: Span,
    /// `cluster NAME`: names the cluster's keys in etcd (default `fulcrum`).
    pub name: String,
    /// `node NAME`: this node (default: the host name).
    pub node: String,
    /// `etcd URL[,URL...]`.
    pub etcd: Vec<String>,
    /// `etcd-ca-file`, `etcd-cert`, `etcd-key`, `etcd-user`, `etcd-password`.
    pub etcd_auth: EtcdAuth,
    /// `lease-ttl TIME` (default 2s): a dead node's VIPs move within about twice this.
    pub lease_ttl: Duration,
    /// `etcd-keepalive TIME` (default 1s): HTTP/2 ping interval on the etcd connections while
    /// a request or stream is open (never on idle ones); it bounds how long a dead etcd
    /// member's connection keeps taking requests. etcd closes a connection pinged more often
    /// than its `--grpc-keepalive-min-time` (5s by default) while it sends nothing back.
    pub etcd_keepalive: Duration,
    pub no_quorum_policy: NoQuorumPolicy,
    /// `rebalance-after TIME` (default 30s): how long a node must be stable before VIPs move
    /// back to it to even the spread; 0 disables rebalancing.
    pub rebalance_after: Duration,
    /// `colocation frontends|none` (default frontends): a VIP only on a node whose frontends
    /// bound to its address have a server UP.
    pub colocation_frontends: bool,
    /// `garp-repeat COUNT` (default 5): gratuitous ARPs / unsolicited NAs sent on take-over,
    /// one per second.
    pub garp_repeat: u32,
    pub vips: Vec<ClusterVip>,
    /// `anti-affinity NAME VIP VIP...`: no two VIPs of a group on one node.
    pub anti_affinity: Vec<AntiAffinity>,
    /// `config-from-etcd`: the proxy config also comes from the key `/fulcrum/NAME/config`
    /// (read after the local files; every change applied with the in-process reload).
    pub config_from_etcd: bool,
    /// `peers-bind IP:PORT`: this node's address for stick-table replication, published in
    /// etcd; stick tables without `peers NAME` replicate between the cluster's online nodes.
    pub peers_bind: Option<SocketAddr>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EtcdAuth {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub user: Option<String>,
    #[serde(skip_serializing)]
    pub password: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoQuorumPolicy {
    /// Drop every VIP when etcd cannot be reached (the default, as Pacemaker's).
    Stop,
    /// Keep the VIPs already held (never take new ones).
    Freeze,
}

/// `vip NAME ADDR/PREFIX dev IF [prefer NODE]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterVip {
    pub span: Span,
    pub name: String,
    pub address: IpAddr,
    pub prefix: u8,
    pub dev: String,
    pub prefer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AntiAffinity {
    pub span: Span,
    pub name: String,
    pub vips: Vec<String>,
}

/// A `peers NAME` section (HAProxy's stick-table replication): `peer NAME IP:PORT` lines, or
/// 2.x's `bind IP:PORT` + `server NAME [IP:PORT]` (the local peer's `server` has no address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peers {
    pub span: Span,
    pub name: String,
    /// `bind IP:PORT`: where the local peer listens (2.x form).
    pub bind: Option<SocketAddr>,
    pub peers: Vec<Peer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peer {
    pub span: Span,
    pub name: String,
    /// None for the 2.x form's local `server NAME`.
    pub address: Option<SocketAddr>,
}

/// The `api` section: fulcrum's LBaaS REST API (Octavia v2 compatible). See `haproxy/api.rs`.
#[derive(Debug, Clone, Serialize)]
pub struct Api {
    pub span: Span,
    /// `bind IP:PORT`: where the API listens (required).
    pub bind: Option<SocketAddr>,
    pub auth: ApiAuth,
    /// `store PATH`: the embedded database; without it the API keeps its state in memory only.
    pub store: Option<std::path::PathBuf>,
    /// `subnet ID CIDR`: Neutron subnets answered to lookups when auth is not `noauth`.
    pub subnets: Vec<ApiSubnet>,
    /// `vip_interface IFACE`: load balancers' VIPs are added to this interface (unless a
    /// vrrp_instance holds them); without it, VIPs must already be local (or come by VRRP).
    pub vip_interface: Option<String>,
    /// `auth keystone https://... ca-file PEM`: the CAs Keystone's certificate is checked
    /// against (the system's bundle without it).
    pub keystone_ca: Option<std::path::PathBuf>,
    /// `certificates DIR`: TLS container refs of TERMINATED_HTTPS listeners read from this
    /// directory (the ref's last path segment names `DIR/ID` or `DIR/ID.pem`).
    pub certificates: Option<std::path::PathBuf>,
    /// `barbican URL`: TLS container refs under this URL fetched from Barbican (containers
    /// with certificate/private_key/intermediates secrets, or a PEM secret).
    pub barbican: Option<String>,
}

/// `auth noauth | token SECRET | keystone URL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiAuth {
    NoAuth,
    #[serde(serialize_with = "hidden_secret")]
    Token(String),
    Keystone(String),
}

fn hidden_secret<S: serde::Serializer>(_: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("<hidden>")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiSubnet {
    pub id: String,
    pub cidr: String,
}
