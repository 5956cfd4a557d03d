//! Health-check settings of HAProxy's proxies: `option httpchk`, `http-check` sequences and
//! their expectations.

use super::*;
use crate::diagnostics::Span;
use serde::Serialize;

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
    /// `set-var(SCOPE.NAME) EXPR` / `unset-var(SCOPE.NAME)`, as for `tcp-check`.
    SetVar {
        scope: String,
        name: String,
        expr: String,
        conditions: Vec<String>,
        /// `set-var-fmt`: `expr` is a log-format string (the variable gets its text).
        fmt: bool,
    },
    UnsetVar {
        scope: String,
        name: String,
    },
}

/// `http-check send [meth M] [uri U] [ver V] [hdr N V]... [body S]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HttpCheckSend {
    pub method: Option<String>,
    pub uri: Option<String>,
    pub version: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// `uri-lf` / `body-lf` with `%[...]` samples: `uri` / `body` are rendered per check.
    pub uri_lf: bool,
    pub body_lf: bool,
    /// A `hdr NAME VALUE` value holds `%[...]` samples (header values are log-format strings
    /// in HAProxy 2.6): rendered per check.
    pub headers_lf: bool,
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
    /// `ok-status`, `error-status`, `tout-status`, `on-success`, `on-error`, `status-code`.
    pub options: HttpExpectOptions,
}

/// The options of an `http-check expect` rule (status names checked at parse time; the
/// messages are log-format strings, `status-code` a sample expression).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HttpExpectOptions {
    pub ok_status: Option<String>,
    pub error_status: Option<String>,
    pub tout_status: Option<String>,
    pub on_success: Option<String>,
    pub on_error: Option<String>,
    pub status_code: Option<String>,
    /// `min-recv N`: judge once N bytes of the body came (a mismatch is then final) instead
    /// of waiting for the whole answer (-1, the default, is None).
    pub min_recv: Option<usize>,
}

/// How `http-check expect hdr|fhdr` matches a header name and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderMatch {
    pub name_method: MatchMethod,
    pub name: String,
    pub value: Option<(MatchMethod, String)>,
    /// `name-lf` / `value-lf`: the pattern is a log-format string rendered when the rule runs.
    pub name_lf: bool,
    pub value_lf: bool,
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
    /// `string-lf`: the body pattern is a log-format string rendered when the rule runs.
    StringLf,
    /// A header, its value split at commas.
    Hdr,
    /// A header, its full value.
    Fhdr,
}
