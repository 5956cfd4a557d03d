//! HAProxy's proxies (frontend, backend, listen, defaults): binds, servers, balancing,
//! persistence, timeouts, options, health-check settings, ACLs and routing.

use super::*;
use crate::diagnostics::Span;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

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
    pub http_after_response: Vec<HttpRule>,
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
    /// `accept-netscaler-cip MAGIC`: every connection starts with a NetScaler Client IP
    /// header carrying this magic number.
    pub netscaler_cip: Option<u32>,
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
    /// `maxconn`, `defer-accept`, `mss`, `interface` (`model_limits`).
    pub limits: crate::model_limits::BindLimits,
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

impl Balance {
    /// It hashes a part of an HTTP request (`uri`, `url_param`, `hdr`): HAProxy 2.6 balances
    /// a proxy not in `mode http` by round robin instead ("Layer 7 hash not possible").
    pub fn needs_http(&self) -> bool {
        matches!(
            self,
            Balance::Uri { .. } | Balance::UrlParam { .. } | Balance::Hdr { .. }
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Server {
    pub name: String,
    pub span: Span,
    /// `id N`: the server's number in its backend (`srv_id`, a stick table's `server_id`,
    /// the stats' `sid`); see `model_ids`.
    pub id: Option<u32>,
    pub address: ServerAddress,
    /// `weight`, 0..=256, default 1.
    pub weight: u32,
    pub maxconn: Option<u32>,
    pub backup: bool,
    /// `non-stick` (`stick` clears it): stick rules never store this server.
    pub non_stick: bool,
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
    /// `socks4 ADDR:PORT`: connections to the server go through this SOCKS4 proxy (a
    /// CONNECT request, as HAProxy's with user id "HAProxy").
    pub socks4: Option<SocketAddr>,
    /// `check-via-socks4`: the health checks' default connect goes through `socks4` too.
    pub check_via_socks4: bool,
    /// `check-proto h2` (Some(true)) or `h1`/`none` (Some(false)): the multiplexer of the
    /// checks' default connect; unset, an HTTP check follows the server's `proto`.
    pub check_proto_h2: Option<bool>,
    /// `ssl`: connections to the server are TLS (`no-ssl` clears it).
    pub ssl: bool,
    /// TLS options of the line (`verify`, `ca-file`, `sni`, `alpn`, ...), as written.
    pub tls: crate::tls::TlsOptions,
    /// `proto h2`: requests go to the server in HTTP/2 (h2c with prior knowledge, or over
    /// TLS whatever ALPN says); `alpn h2` alone lets the TLS handshake choose.
    pub proto_h2: bool,
    /// `max-reuse N`: how many times a connection is reused after its first request (an
    /// HTTP/2 connection carries N+1 streams in all, then no new one); None: no limit (-1).
    pub max_reuse: Option<u32>,
    /// `pool-purge-delay`: how long a connection without requests stays open (HAProxy's
    /// default 5 s; zero: never closed for being idle).
    pub pool_purge_delay: Duration,
    /// `pool-max-conn N`: idle connections kept for the server (0: none); None: no limit (-1).
    pub pool_max_conn: Option<u32>,
    /// `pool-low-conn`: idle connections a thread keeps beyond the estimated need (default 0).
    pub pool_low_conn: u32,
    /// `slowstart`, `maxqueue`, `redir`, `track`, `on-marked-down|up` (`model_limits`).
    pub limits: crate::model_limits::ServerLimits,
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

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProxyOptions {
    pub redispatch: bool,
    pub forwardfor: Option<ForwardFor>,
    pub http_connection: HttpConnectionMode,
    pub httplog: bool,
    /// `option httplog clf`: the Common Log Format variant.
    pub httplog_clf: bool,
    /// `log-tag TAG`: this proxy's syslog tag (over the global one).
    pub log_tag: Option<String>,
    /// `log-format-sd STRING`: RFC 5424 structured data of the traffic lines.
    pub log_format_sd: Option<String>,
    /// `option dontlog-normal`: only requests and sessions that ended in an error are logged.
    pub dontlog_normal: bool,
    /// `option log-separate-errors`: those are logged at level `err` instead of `info`.
    pub log_separate_errors: bool,
    pub tcplog: bool,
    /// `option httpslog`, `option logasap`, `capture cookie`, `error-log-format`.
    pub log: crate::model_extras::LogOptions,
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
    /// `http-response wait-for-body` as the proxy's first `http-response` rule: the
    /// server's answer body is waited for before the rules (`haproxy::wait_body`).
    pub response_wait_for_body: Option<WaitForBody>,
    /// `retry-on none`: a failed connection is not retried (nor redispatched).
    pub retry_on_none: bool,
    /// `retry-on` conditions met after the request was sent (HAProxy's layer-7 retries).
    pub retry_on: RetryOn,
    /// `disabled`, `use-server`, `force-persist`, `http-send-name-header`, ... (issue 13).
    pub keywords: crate::model_keywords::ProxyKeywords,
    /// `http-reuse`: which requests may ride an idle server connection.
    pub http_reuse: HttpReuse,
    pub h1: crate::model_codec::H1Options,
    /// `option prefer-last-server`: a keep-alive connection's next request goes to the server
    /// of the previous one while it is usable (without persistence deciding otherwise).
    pub prefer_last_server: bool,
    /// `option splice-auto|splice-request|splice-response`.
    pub splice: SpliceOptions,
}

/// `option splice-auto|splice-request|splice-response` as written: `None` not written,
/// `Some(false)` written with `no` (the proxy's `splice` module decides what each means).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SpliceOptions {
    pub auto: Option<bool>,
    pub request: Option<bool>,
    pub response: Option<bool>,
}

/// What `retry-on` retries once the request has reached a server: statuses among 401 403
/// 404 408 425 500 501 502 503 504, a close without answer, a non-HTTP answer, the server
/// timeout before the answer. Each retry counts against `retries`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetryOn {
    pub statuses: Vec<u16>,
    pub empty_response: bool,
    pub junk_response: bool,
    pub response_timeout: bool,
}

impl RetryOn {
    /// Whether any retry after the request was sent is asked for.
    pub fn after_sending(&self) -> bool {
        !self.statuses.is_empty()
            || self.empty_response
            || self.junk_response
            || self.response_timeout
    }
}

/// `http-reuse never|safe|aggressive|always` (HAProxy's default: `safe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpReuse {
    /// Server connections are private to the client connection that opened them.
    Never,
    /// A client connection's first request gets its own server connection; later ones may
    /// use any idle one.
    #[default]
    Safe,
    /// As `safe`, and a first request may use an idle connection that already carried more
    /// than one request (proven to keep connections alive).
    Aggressive,
    /// Any request may use any idle connection.
    Always,
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
