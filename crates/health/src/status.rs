//! What one health check found: HAProxy's check statuses and their log descriptions.
//!
//! The words are HAProxy's own (`Layer4 connection problem`, `Layer7 wrong status`, ...), so a
//! log line or a stats page reads the same as with HAProxy. keepalived's checkers report with the
//! same type (a MISC_CHECK script maps to HAProxy's "External check" statuses). Data only.

use std::fmt;
use std::time::Duration;

/// HAProxy's check status codes (`HCHK_STATUS_*`), the ones fulcrum produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// L4OK: the TCP connection was accepted.
    L4Ok,
    /// L4TOUT: the connection did not complete in time.
    L4Timeout,
    /// L4CON: refused, reset, unreachable...
    L4Connection,
    /// L6OK: the TLS handshake of a check's connect completed.
    L6Ok,
    /// L6TOUT: the TLS handshake did not complete in time (SSL_GET).
    L6Timeout,
    /// L6RSP: the TLS handshake failed (SSL_GET).
    L6Response,
    /// L7OK: the HTTP answer matched the expectation.
    L7Ok,
    /// L7OKC: conditionally passed (an expect's `ok-status L7OKC`).
    L7OkConditional,
    /// CHECKED: an agent replied without a state word (`* CHECKED`, "No status change").
    Checked,
    /// SOCKERR: an I/O error on an established check connection.
    SocketError,
    /// L7TOUT: connected but no complete answer in time.
    L7Timeout,
    /// L7RSP: the answer was not HTTP (or was cut).
    L7Response,
    /// L7STS: the status (or body) did not match the expectation.
    L7Status,
    /// HANA: passive health analysis (observe) found too many errors.
    HealthAnalyze,
    /// EXPOK: an external check (keepalived MISC_CHECK) exited 0.
    ExternalOk,
    /// EXPERR: an external check exited non-zero or could not be run.
    ExternalError,
    /// EXPTOUT: an external check ran past its timeout and was killed.
    ExternalTimeout,
    /// The check kind is not available in this build (e.g. SSL_GET without TLS).
    Unsupported,
}

impl CheckStatus {
    /// HAProxy's description, used after "reason:" in log lines.
    pub fn description(self) -> &'static str {
        match self {
            CheckStatus::L4Ok => "Layer4 check passed",
            CheckStatus::L4Timeout => "Layer4 timeout",
            CheckStatus::L4Connection => "Layer4 connection problem",
            CheckStatus::L6Ok => "Layer6 check passed",
            CheckStatus::L6Timeout => "Layer6 timeout",
            CheckStatus::L7OkConditional => "Layer7 check conditionally passed",
            CheckStatus::SocketError => "Socket error",
            CheckStatus::Checked => "No status change",
            CheckStatus::L6Response => "Layer6 invalid response",
            CheckStatus::L7Ok => "Layer7 check passed",
            CheckStatus::L7Timeout => "Layer7 timeout",
            CheckStatus::L7Response => "Layer7 invalid response",
            CheckStatus::L7Status => "Layer7 wrong status",
            CheckStatus::HealthAnalyze => "Health analyze",
            CheckStatus::ExternalOk => "External check passed",
            CheckStatus::ExternalError => "External check error",
            CheckStatus::ExternalTimeout => "External check timeout",
            CheckStatus::Unsupported => "Check not supported",
        }
    }
    /// HAProxy's short code as shown on the stats page (`L4CON`, `L7STS`, ...).
    pub fn code(self) -> &'static str {
        match self {
            CheckStatus::L4Ok => "L4OK",
            CheckStatus::L4Timeout => "L4TOUT",
            CheckStatus::L4Connection => "L4CON",
            CheckStatus::L6Ok => "L6OK",
            CheckStatus::L6Timeout => "L6TOUT",
            CheckStatus::L7OkConditional => "L7OKC",
            CheckStatus::SocketError => "SOCKERR",
            CheckStatus::Checked => "CHECKED",
            CheckStatus::L6Response => "L6RSP",
            CheckStatus::L7Ok => "L7OK",
            CheckStatus::L7Timeout => "L7TOUT",
            CheckStatus::L7Response => "L7RSP",
            CheckStatus::L7Status => "L7STS",
            CheckStatus::HealthAnalyze => "HANA",
            CheckStatus::ExternalOk => "PROCOK",
            CheckStatus::ExternalError => "PROCERR",
            CheckStatus::ExternalTimeout => "PROCTOUT",
            CheckStatus::Unsupported => "UNSUPP",
        }
    }
    pub fn passed(self) -> bool {
        matches!(
            self,
            CheckStatus::L4Ok
                | CheckStatus::L6Ok
                | CheckStatus::L7Ok
                | CheckStatus::L7OkConditional
                | CheckStatus::ExternalOk
        )
    }

    /// A status by its HAProxy code (`L7OK`, `L4CON`, ...), as `tcp-check expect ok-status`
    /// and friends write it.
    pub fn from_code(code: &str) -> Option<CheckStatus> {
        use CheckStatus::*;
        [
            L4Ok,
            L4Timeout,
            L4Connection,
            L6Ok,
            L6Timeout,
            L6Response,
            L7Ok,
            L7OkConditional,
            L7Timeout,
            L7Response,
            L7Status,
            SocketError,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// The result of one probe: status, the HTTP code when there was one, free text, duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub status: CheckStatus,
    /// HTTP status code (HAProxy prints it as `code: N`).
    pub code: Option<u16>,
    /// Extra detail (HAProxy prints it as `info: "..."`), e.g. "Connection refused".
    pub info: Option<String>,
    /// How long the probe took; None for passive health analysis (HAProxy prints none then).
    pub duration: Option<Duration>,
}

impl CheckOutcome {
    pub fn new(status: CheckStatus, duration: Duration) -> Self {
        CheckOutcome {
            status,
            code: None,
            info: None,
            duration: Some(duration),
        }
    }
    pub fn with_code(mut self, code: u16) -> Self {
        self.code = Some(code);
        self
    }
    pub fn with_info(mut self, info: impl Into<String>) -> Self {
        self.info = Some(info.into());
        self
    }
    pub fn passed(&self) -> bool {
        self.status.passed()
    }
}

impl fmt::Display for CheckOutcome {
    /// `reason: Layer7 wrong status, code: 500, info: "...", check duration: 3ms` as HAProxy.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reason: {}", self.status.description())?;
        if let Some(code) = self.code {
            write!(f, ", code: {code}")?;
        }
        // HAProxy prints no info when its text is empty (an HTTP/2 answer has no reason)
        if let Some(info) = self.info.as_deref().filter(|i| !i.is_empty()) {
            write!(f, ", info: \"{info}\"")?;
        }
        if let Some(d) = self.duration {
            write!(f, ", check duration: {}ms", d.as_millis())?;
        }
        Ok(())
    }
}
