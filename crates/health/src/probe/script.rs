//! The one engine of HAProxy's tcp-check family, pure part: a check is a script of steps
//! (connect, send, expect) that one driver (`script_run`) runs in order. `tcp-check` rule
//! sequences are scripts as written; `redis-check`, `smtpchk`, `pgsql-check`, `mysql-check` and
//! `ldap-check` are pre-built scripts of the same steps (`protocols`), as HAProxy builds them.
//!
//! This file owns the script's data (steps, connects, expectations, messages); `script_judge`
//! judges an expect step and a whole script, `script_match` holds the protocol matchers that
//! read a structure (MySQL, LDAP, SPOP) and `ssl-hello-chk`'s hello.

use crate::probe::check_sample::{Lf, SampleExpr, VarName};
use crate::probe::expect::Re;
use crate::status::CheckStatus;
use std::net::IpAddr;

/// Whether the script is a user's `tcp-check` sequence or a built-in protocol check: HAProxy
/// words their messages differently (protocol checks report only what the server said).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    TcpCheck,
    Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub flavor: Flavor,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// HAProxy's step number (1-based; 0 for the implicit first connect).
    pub number: u32,
    pub action: Action,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Connect(Connect),
    Send(Vec<u8>),
    /// An `http-check send` request under `http-check send-state`: the
    /// `x-haproxy-server-state` header goes in at byte `state_at` (after the written headers).
    SendHttp {
        request: Vec<u8>,
        state_at: usize,
    },
    /// `option ssl-hello-chk`'s SSLv3 client hello, with the current time in it as HAProxy's.
    SendSslHello,
    /// `send-lf` / `send-binary-lf`: rendered when sent (`binary`: the result is hex).
    SendLf {
        format: Lf,
        binary: bool,
    },
    /// `http-check send` with `uri-lf` / `body-lf`: the request is built when sent.
    SendHttpLf(Box<HttpLf>),
    /// `set-var(SCOPE.NAME[,COND...]) EXPR` / `unset-var(SCOPE.NAME)`.
    SetVar {
        var: VarName,
        expr: SampleExpr,
        conditions: crate::probe::check_vars::Conditions,
    },
    /// `set-var-fmt(SCOPE.NAME[,COND...]) FMT`: the variable gets the rendered text.
    SetVarFmt {
        var: VarName,
        format: Lf,
        conditions: crate::probe::check_vars::Conditions,
    },
    UnsetVar(VarName),
    Expect(Expect),
    /// `http-check expect` (and `option httpchk`'s default): one complete HTTP response.
    ExpectHttp(crate::probe::expect::Expect, Box<HttpExpectOpts>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connect {
    pub port: Option<u16>,
    /// `port EXPR`: a sample expression (e.g. `var(check.port)`), evaluated at the connect.
    pub port_expr: Option<SampleExpr>,
    pub addr: Option<IpAddr>,
    /// A PROXY protocol header goes first (`send-proxy`, or the server's `check-send-proxy`
    /// on the default connect).
    pub send_proxy: bool,
    /// Close cleanly with a FIN (`linger`); without it a check ends with a single RST, as
    /// HAProxy's (no TIME_WAIT left behind).
    pub linger: bool,
    /// Inserted because the rules did not start with a connect.
    pub implicit: bool,
    /// `connect default`: the server's check settings apply, as to an implicit connect.
    pub server_defaults: bool,
    /// TLS after the connect (`connect ssl`, or the server's `check-ssl` on the default one).
    pub tls: Option<TlsSettings>,
    /// `via-socks4` (or the server's `check-via-socks4` on the default connect).
    pub via_socks4: bool,
    /// The server's `socks4` proxy when this connect goes through it (set from the server).
    pub socks4: Option<std::net::SocketAddr>,
    /// HTTP/2 on this connection (`http-check connect proto h2`, or the server's `check-proto
    /// h2` / `proto h2` on the default connect); an HTTP check over TLS also speaks HTTP/2
    /// when ALPN chose `h2`, as HAProxy's.
    pub h2: bool,
}

/// How a check's TLS handshake goes: SNI, ALPN, and the CA that verifies the server's
/// certificate (None: `verify none`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub ca_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    String(Vec<u8>),
    Rstring(Re),
    Binary(Vec<u8>),
    /// A regex over the upper-case hex dump of the bytes, as HAProxy matches `rbinary`.
    Rbinary(Re),
    /// `string-lf`: the pattern rendered from a log-format string when the rule runs.
    StringLf(Lf),
    /// `binary-lf`: rendered, then read as hex.
    BinaryLf(Lf),
    /// MySQL: a complete packet that is not an error packet (`offset` skips earlier packets).
    MysqlPacket {
        after_first: bool,
    },
    /// LDAP: a bindResponse with resultCode 0.
    LdapBindResponse,
    /// SPOP: an AGENT-HELLO frame (`option spop-check`).
    SpopAgentHello,
}

/// Where a message comes from: fixed text, or a slice of what the server sent (HAProxy's
/// `%[res.payload(FROM,0),ltrim(' '),cut_crlf]` forms of its protocol checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    /// The received bytes from `from`, leading spaces trimmed when `ltrim`, cut at the first
    /// CR or LF when `cut_crlf`, and at the first NUL (a C string).
    Payload {
        from: usize,
        ltrim: bool,
        cut_crlf: bool,
    },
    /// A log-format string with `%[...]` samples (`on-success "%[res.payload(4,0)]"`).
    Format(Lf),
}

/// `http-check expect` options: the statuses it reports, its messages (log-format strings
/// over the answer) and `status-code EXPR`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpExpectOpts {
    pub ok_status: Option<CheckStatus>,
    pub error_status: Option<CheckStatus>,
    pub tout_status: Option<CheckStatus>,
    pub on_success: Option<Message>,
    pub on_error: Option<Message>,
    pub status_code: Option<SampleExpr>,
    /// `min-recv N`: a body rule judges once N body bytes came (a mismatch is then final).
    pub min_recv: Option<usize>,
}

/// An `http-check send` whose URI or body is a log-format string: the parts to build the
/// request from when it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLf {
    pub httpchk: fulcrum_config::model::HttpChk,
    pub send: fulcrum_config::model::HttpCheckSend,
    pub uri: Option<Lf>,
    pub body: Option<Lf>,
    /// Each `hdr` value that is a log-format string (None: sent as written).
    pub headers: Vec<Option<Lf>>,
    /// `http-check send-state`: the state header goes in too.
    pub send_state: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub negate: bool,
    pub matcher: Matcher,
    pub min_recv: Option<usize>,
    pub ok_status: CheckStatus,
    pub error_status: CheckStatus,
    pub tout_status: CheckStatus,
    pub on_success: Option<Message>,
    pub on_error: Option<Message>,
    /// `status-code` of HAProxy's smtpchk: the code is the first three bytes received.
    pub code_from_payload: bool,
    /// `status-code EXPR`: the code is the expression's value.
    pub status_code: Option<SampleExpr>,
}

impl Expect {
    /// `tcp-check expect` defaults: L7OK / L7RSP / L7TOUT, no messages.
    pub fn new(negate: bool, matcher: Matcher) -> Expect {
        Expect {
            negate,
            matcher,
            min_recv: None,
            ok_status: CheckStatus::L7Ok,
            error_status: CheckStatus::L7Response,
            tout_status: CheckStatus::L7Timeout,
            on_success: None,
            on_error: None,
            code_from_payload: false,
            status_code: None,
        }
    }
}

/// What an expect step says about the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not decided: read more (unless the server closed, then [`evaluate`] decides).
    Wait,
    /// Go on with the next step; `code`/`info` are kept in case this is the last step.
    Pass { code: Option<u16>, info: String },
    Fail {
        status: CheckStatus,
        code: Option<u16>,
        info: String,
    },
}

pub use crate::probe::script_judge::{evaluate, evaluate_with, hex_upper, success, where_info};
pub use crate::probe::script_match::ssl_hello;

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
