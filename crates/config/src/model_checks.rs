//! The health-check parts of the HAProxy model that HAProxy builds on its tcp-check engine:
//! `tcp-check` rule sequences and the protocol checks (`option redis-check`, ...). Re-exported
//! by [`crate::model`].

use crate::diagnostics::Span;
use serde::Serialize;
use std::net::IpAddr;

/// Which check a backend runs when it is not `option httpchk` (the last `option` wins, as in
/// HAProxy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckProtocol {
    /// `option tcp-check`: the backend's `tcp-check` rules.
    TcpCheck,
    /// `option mysql-check [user U [post-41|pre-41]]`
    Mysql { user: Option<String>, pre41: bool },
    /// `option pgsql-check user U`
    Pgsql { user: String },
    /// `option redis-check`
    Redis,
    /// `option ldap-check`
    Ldap,
    /// `option ssl-hello-chk`: an SSLv3 hello, a TLS record back.
    SslHello,
    /// `option spop-check`: an SPOP HAPROXY-HELLO (healthcheck), an AGENT-HELLO expected.
    Spop,
    /// `option smtpchk [HELO|EHLO domain]`: the command line sent (default `HELO localhost`).
    Smtp { command: String },
    /// `option external-check`: runs the proxy's `external-check command`.
    External,
}

/// `external-check command CMD` and `external-check path PATH` of a proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExternalCheck {
    pub command: Option<String>,
    pub path: Option<String>,
}

/// One `tcp-check` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcpCheckRule {
    pub span: Span,
    pub action: TcpCheckAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TcpCheckAction {
    Connect(TcpCheckConnect),
    /// `send`, `send-binary` (decoded), and their `-lf` forms without `%` expressions.
    Send {
        data: Vec<u8>,
        comment: Option<String>,
    },
    /// `send-lf` / `send-binary-lf` with `%[...]` samples: rendered when the check runs
    /// (`binary`: the rendered text is hex, decoded then).
    SendLf {
        format: String,
        binary: bool,
        comment: Option<String>,
    },
    Expect(TcpCheckExpect),
    Comment(String),
    /// `set-var(SCOPE.NAME[,COND...]) EXPR`: scope `check` or `sess` (both live for one
    /// check run) or `proc` (the process's, shared with the data plane); HAProxy 2.6's
    /// conditions (`ifexists`, `ifnotexists`, `ifempty`, `ifnotempty`, `ifset`, `ifnotset`,
    /// `ifgt`, `iflt`).
    SetVar {
        scope: String,
        name: String,
        expr: String,
        conditions: Vec<String>,
        /// `set-var-fmt`: `expr` is a log-format string (the variable gets its text).
        fmt: bool,
    },
    /// `unset-var(SCOPE.NAME)`
    UnsetVar {
        scope: String,
        name: String,
    },
}

/// `tcp-check connect [default] [port P] [addr IP] [send-proxy] [linger] [comment C]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TcpCheckConnect {
    pub port: Option<u16>,
    /// `port EXPR` given as a sample expression (e.g. `var(check.port)`), evaluated per check.
    pub port_expr: Option<String>,
    pub addr: Option<IpAddr>,
    pub send_proxy: bool,
    pub linger: bool,
    pub comment: Option<String>,
    /// `ssl`, `sni NAME`, `alpn LIST` (verification follows the server's `verify`/`ca-file`).
    pub ssl: bool,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    /// `via-socks4`: through the server's `socks4` proxy (directly without one, as HAProxy).
    pub via_socks4: bool,
    /// `default`: the server line's check settings apply to this connect too (`check-ssl`,
    /// `check-sni`, `check-alpn`, `send-proxy`/`check-send-proxy`, `check-via-socks4`,
    /// `check-proto`), as to the implicit first connect.
    pub default: bool,
    /// `http-check connect proto h2`: the check speaks HTTP/2 (prior knowledge on a plain
    /// connection, or over its TLS whatever ALPN says).
    pub proto_h2: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TcpExpectKind {
    String,
    Rstring,
    Binary,
    Rbinary,
    /// `string-lf` / `binary-lf`: the pattern is a log-format string rendered when the rule
    /// runs (`binary-lf`: the rendered text is hex).
    StringLf,
    BinaryLf,
}

/// `tcp-check expect [min-recv N] [ok-status S] [error-status S] [tout-status S]
/// [on-success TEXT] [on-error TEXT] [comment C] [!] KIND PATTERN`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcpCheckExpect {
    pub negate: bool,
    pub kind: TcpExpectKind,
    /// The pattern as written (`binary`: the hex string; `rbinary`: a regex over hex).
    pub pattern: String,
    pub min_recv: Option<usize>,
    /// HAProxy status names (`L7OK`, `L7STS`, ...), checked at parse time.
    pub ok_status: Option<String>,
    pub error_status: Option<String>,
    pub tout_status: Option<String>,
    /// Log-format strings (`%[...]` samples rendered when the check ends).
    pub on_success: Option<String>,
    pub on_error: Option<String>,
    pub comment: Option<String>,
    /// `status-code EXPR`: the check's code, from a sample expression (e.g. `res.payload(0,3)`).
    pub status_code: Option<String>,
}

/// A server's agent check (`agent-check`): a TCP agent whose one-line replies set the state,
/// weight and admin mode, as HAProxy applies them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Agent {
    pub enabled: bool,
    pub port: Option<u16>,
    pub addr: Option<IpAddr>,
    /// `agent-inter` (default: the server's `inter`).
    pub inter: Option<std::time::Duration>,
    /// `agent-send`: sent once connected.
    pub send: Option<String>,
}
