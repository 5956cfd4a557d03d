//! Rules of HAProxy's proxies: `tcp-request`/`http-request`/`http-response` rules and their
//! actions, captures, variables, redirects, local answers, stick tables and stick rules,
//! error files, the stats page settings.

use super::*;
use crate::diagnostics::Span;
use serde::Serialize;
use std::time::Duration;

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
    /// The `tcp-request connection|session|content` rules, in that order.
    pub fn requests(&self) -> impl Iterator<Item = &TcpRule> {
        self.connection
            .iter()
            .chain(&self.session)
            .chain(&self.content)
    }

    /// Every rule: the request phases', then `tcp-response content`.
    pub fn all(&self) -> impl Iterator<Item = &TcpRule> {
        self.requests().chain(&self.response)
    }

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
    /// `tcp-response content close`: the server connection closes at once; what was
    /// received reaches the client, then the connection ends.
    Close,
    /// `track-scN`, `sc-inc-gpc0/1`, `sc-set-gpt0`.
    Counter(CounterAction),
    /// `set-var`, `set-var-fmt`, `unset-var`.
    Var(VarAction),
    /// `set-src|set-dst|set-src-port|set-dst-port EXPR` (`tcp-request` phases): the
    /// connection's addresses from then on.
    SetAddr { part: AddrPart, expr: String },
    /// `set-mark`, `set-tos`, `set-nice`, `set-priority-class|offset`.
    Conn(ConnAction),
    /// `capture SAMPLE len N` (`tcp-request content`): the sample's value, cut to N bytes, in
    /// the request capture slot `slot` (a new one, as `http-request capture ... len N`).
    Capture {
        expr: String,
        len: usize,
        slot: usize,
    },
    /// `expect-proxy layer4` (`tcp-request connection`): the connection must start with a
    /// PROXY header (as `accept-proxy` on the bind), whose addresses are the client's after.
    ExpectProxy,
    /// `expect-netscaler-cip layer4` (`tcp-request connection`): the connection must start
    /// with a NetScaler Client IP header (as `accept-netscaler-cip` on the bind, with the
    /// bind's magic number, 0 without it), whose addresses are the client's after.
    ExpectNetscalerCip,
    /// `set-log-level LEVEL` (`tcp-request content`): the session's log line at this
    /// severity (0 emerg .. 7 debug); `None`: `silent`.
    SetLogLevel { level: Option<u8> },
    /// `switch-mode http [proto h1|h2]` (`tcp-request content`, frontends): the stream is
    /// HTTP from then on (the frontend's HTTP rules, HTTP backends, one log line per
    /// request); stops the phase's rules, as `accept`. `h2`: HTTP/2 with prior knowledge.
    SwitchModeHttp { h2: bool },
}

/// Actions on the client's connection or the stream's scheduling, in `tcp-request` and
/// `http-request|http-response` rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "conn")]
pub enum ConnAction {
    /// `set-mark MARK`: the client socket's `SO_MARK`.
    SetMark(u32),
    /// `set-tos TOS`: the client socket's `IP_TOS` (`IPV6_TCLASS`).
    SetTos(u32),
    /// `set-nice N` (-1024..1024): HAProxy's task priority (see the README for what fulcrum
    /// does with it).
    SetNice(i32),
    /// `set-priority-class EXPR` / `set-priority-offset EXPR`: the request's place in a
    /// backend queue (`prio_class`, `prio_offset`).
    SetPriority { offset: bool, expr: String },
}

/// One `http-request` or `http-response` rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpRule {
    pub span: Span,
    pub action: HttpAction,
    pub condition: Option<Condition>,
}

/// What a `set-map` / `del-map` / `add-acl` / `del-acl` rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MapEditOp {
    SetMap,
    DelMap,
    AddAcl,
    DelAcl,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum HttpAction {
    /// `strict-mode on|off`: whether a failed rewrite fails the message (HAProxy answers 500).
    /// fulcrum's rewrites do not fail (no rewrite reserve to exhaust), so both are the same.
    StrictMode(bool),
    /// `set-map(FILE) KEY VALUE`, `del-map(FILE) KEY`, `add-acl(FILE) KEY`, `del-acl(FILE) KEY`:
    /// KEY and VALUE are log-format strings; FILE is the map or ACL file as written.
    MapEdit {
        op: MapEditOp,
        file: String,
        key: String,
        value: Option<String>,
    },
    /// `http-request wait-for-body` after other rules or with a condition (a frontend's
    /// leading unconditional one is `ProxyOptions::wait_for_body`): the chain pauses there
    /// until the body is in (HAProxy 2.6), then goes on.
    WaitForBody(WaitForBody),
    /// `http-request reject` (the connection closes, nothing answered) and `silent-drop`
    /// (the same, without the client being told: `silent`).
    Reject {
        silent: bool,
    },
    Allow,
    Deny {
        status: Option<u16>,
    },
    /// `deny` with response options (`content-type`, `string`, `lf-string`, `file`,
    /// `lf-file`, `errorfile`, `errorfiles`, `hdr`): that answer, logged as the proxy's
    /// refusal (`PR`/`PH`), not as a local answer.
    DenyReply(Reply),
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
        /// `target` is a log-format string (`%[...]`, in `http-request`/`http-response`
        /// rules): rendered per request.
        log_format: bool,
        code: u16,
        /// `drop-query`: the query string is not carried over (prefix, scheme).
        drop_query: bool,
        /// `append-slash`: a `/` is added to a path not ending with one (with `drop-query`).
        append_slash: bool,
        /// `set-cookie NAME[=VALUE]` / `clear-cookie NAME[=]`: the Set-Cookie value sent.
        cookie: Option<String>,
        /// `ignore-empty`: a log-format `location` that renders empty skips the rule.
        ignore_empty: bool,
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
        /// Response options (as `deny`'s), rendered once the hold is over.
        reply: Option<Reply>,
    },
    /// `set-log-level LEVEL`: the request's log line is sent at this syslog severity
    /// (0 emerg .. 7 debug); `None`: `silent`, no line.
    SetLogLevel {
        level: Option<u8>,
    },
    /// `set-timeout server|tunnel TIME|EXPR`: this request's server (or tunnel) timeout;
    /// with `expr` (a sample expression giving milliseconds) `value` is unused.
    SetTimeout {
        tunnel: bool,
        value: Duration,
        #[serde(skip_serializing_if = "Option::is_none")]
        expr: Option<String>,
    },
    /// `http-request capture SAMPLE len N`: the sample's value, cut to N bytes, in the
    /// request capture slot `slot` (a new one, after those declared before it); `... id N`
    /// (also `http-response`): in the existing slot N of its side (`len` unlimited: the
    /// slot's own length applies).
    Capture {
        expr: String,
        len: usize,
        slot: usize,
        response: bool,
    },
    /// `set-src|set-dst|set-src-port|set-dst-port EXPR`.
    SetAddr {
        part: AddrPart,
        expr: String,
    },
    /// `set-mark`, `set-tos`, `set-nice`, `set-priority-class|offset`.
    Conn(ConnAction),
    /// `disable-l7-retry`: no `retry-on` retry for this request.
    DisableL7Retry,
    /// `wait-for-handshake`: wait until the TLS handshake is complete (no TLS 1.3 early
    /// data pending). fulcrum accepts no early data, so it always is: nothing to wait for.
    WaitForHandshake,
    /// `early-hint NAME FMT`: a field of the `103 Early Hints` sent before the answer (the
    /// fields of consecutive rules go in one 103).
    EarlyHint {
        name: String,
        value: String,
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
    /// A slot a rule fills: one of `http-request capture SAMPLE len N` or `declare capture`
    /// (`name` is empty), or a header slot a `capture SAMPLE id N` rule names (the rule's
    /// value, when it has one, replaces the header's).
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
    /// `set-var(scope.name[,COND...]) EXPR`: a sample expression; `conditions`: HAProxy
    /// 2.6's `ifexists ifnotexists ifempty ifnotempty ifset ifnotset ifgt iflt`.
    Set {
        scope: String,
        name: String,
        expr: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        conditions: Vec<String>,
    },
    /// `set-var-fmt(scope.name[,COND...]) FMT`: a log-format string.
    SetFmt {
        scope: String,
        name: String,
        format: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        conditions: Vec<String>,
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
    /// `sc-inc-gpc(IDX,N)` (`array`) / `sc-inc-gpc0(N)` / `sc-inc-gpc1(N)`.
    IncGpc { slot: u8, idx: u8, array: bool },
    /// `sc-set-gpt(IDX,N) VALUE` (`array`) / `sc-set-gpt0(N) VALUE`: VALUE a sample
    /// expression (an integer is written `int(N)`).
    SetGpt {
        slot: u8,
        idx: u8,
        array: bool,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RedirectKind {
    Location,
    Prefix,
    Scheme,
}

/// The answer of `deny`/`tarpit` written with `return`'s response options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: ReturnBody,
    /// `hdr NAME FMT`: FMT is a log-format string.
    pub headers: Vec<(String, String)>,
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
    /// `errorfiles NAME`: the file of the `http-errors` section NAME for the status, resolved
    /// once the whole configuration is read (`Errorfile`, or `None`: an empty answer).
    Errorfiles(String),
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
    /// The pattern's first fetch (its name and its first argument as written).
    pub fetch: Fetch,
    /// The whole pattern, a sample expression (`src`, `req.cook(a),lower`).
    pub expr: String,
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
    /// `errorloc*` / `http-error`: the page is built from this, not read from `path`
    /// (`http-error ... errorfile F` keeps the file in `path`).
    pub reply: Option<crate::model_keywords::ErrorReply>,
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
