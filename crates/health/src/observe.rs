//! What the data plane saw while talking to a server (`observe layer4|layer7`), and whether
//! each event counts as an error, a success, or nothing, in each observe mode.
//!
//! The table is HAProxy's (analyze_statuses in src/check.c, and the manual's `observe`: "Valid
//! status codes include 100 to 499, 501 and 505"): in `layer4` mode only connection successes
//! and failures matter; in `layer7` mode connection failures and HTTP answers count, and a bare
//! connection success changes nothing. Data and one pure function; no I/O.

use fulcrum_config::model::Observe;

/// One event seen on a real client connection to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// The TCP connection to the server was established.
    ConnectOk,
    /// The connection to the server failed (refused, reset, timeout).
    ConnectError,
    /// A complete HTTP response head with this status arrived.
    HttpStatus(u16),
    /// The response head could not be parsed.
    HttpInvalid,
    /// Reading the response failed.
    HttpReadError,
    /// `timeout server` struck while waiting for the response.
    HttpReadTimeout,
    /// The server closed before a complete response.
    HttpBrokenPipe,
}

/// How one observation counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ignore,
    /// Resets the consecutive error counter.
    Ok,
    Error,
}

/// HAProxy's rule for a valid answer under `observe layer7`.
pub fn valid_observed_status(status: u16) -> bool {
    (100..=499).contains(&status) || status == 501 || status == 505
}

impl Observed {
    pub fn verdict(self, mode: Observe) -> Verdict {
        match (self, mode) {
            (Observed::ConnectOk, Observe::Layer4) => Verdict::Ok,
            (Observed::ConnectOk, Observe::Layer7) => Verdict::Ignore,
            (Observed::ConnectError, _) => Verdict::Error,
            (_, Observe::Layer4) => Verdict::Ignore,
            (Observed::HttpStatus(s), Observe::Layer7) if valid_observed_status(s) => Verdict::Ok,
            (_, Observe::Layer7) => Verdict::Error,
        }
    }
    /// HAProxy's wording, used in "Detected N consecutive errors, last one was: ...".
    pub fn description(self) -> &'static str {
        match self {
            Observed::ConnectOk => "L4 successful connection",
            Observed::ConnectError => "L4 unsuccessful connection",
            Observed::HttpStatus(s) if valid_observed_status(s) => "Correct http response",
            Observed::HttpStatus(_) => "Wrong http response",
            Observed::HttpInvalid => "Invalid http response",
            Observed::HttpReadError => "Read error (http)",
            Observed::HttpReadTimeout => "Read timeout (http)",
            Observed::HttpBrokenPipe => "Close from server (http)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer7_counts_5xx_but_not_501_505() {
        assert_eq!(
            Observed::HttpStatus(500).verdict(Observe::Layer7),
            Verdict::Error
        );
        assert_eq!(
            Observed::HttpStatus(503).verdict(Observe::Layer7),
            Verdict::Error
        );
        assert_eq!(
            Observed::HttpStatus(501).verdict(Observe::Layer7),
            Verdict::Ok
        );
        assert_eq!(
            Observed::HttpStatus(505).verdict(Observe::Layer7),
            Verdict::Ok
        );
        assert_eq!(
            Observed::HttpStatus(404).verdict(Observe::Layer7),
            Verdict::Ok
        );
        assert_eq!(
            Observed::ConnectOk.verdict(Observe::Layer7),
            Verdict::Ignore
        );
        assert_eq!(
            Observed::ConnectError.verdict(Observe::Layer7),
            Verdict::Error
        );
    }

    #[test]
    fn layer4_ignores_http() {
        assert_eq!(
            Observed::HttpStatus(500).verdict(Observe::Layer4),
            Verdict::Ignore
        );
        assert_eq!(
            Observed::HttpReadTimeout.verdict(Observe::Layer4),
            Verdict::Ignore
        );
        assert_eq!(Observed::ConnectOk.verdict(Observe::Layer4), Verdict::Ok);
        assert_eq!(
            Observed::ConnectError.verdict(Observe::Layer4),
            Verdict::Error
        );
    }
}
