//! HAProxy's termination state, the first two characters of the log's `%ts`/`%tsc`: who or
//! what ended the session (`C` client, `S` server, `P` proxy, `L` a local answer, `c`/`s`
//! client-/server-side timeout, `-` nothing abnormal) and in which phase (`R` request, `Q`
//! queue, `C` connect, `H` response headers, `D` data, `-` after the end). Shared by the HTTP
//! and TCP sessions, the counters (`record`) and the log lines (`logline`).

use std::fmt;

/// Who or what ended the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// `-`: nothing abnormal.
    Normal,
    /// `C`: the client aborted or sent something wrong.
    Client,
    /// `S`: the server aborted, refused or answered something wrong.
    Server,
    /// `P`: the proxy (rules, a protocol error it detected).
    Proxy,
    /// `L`: the proxy answered itself (stats page).
    Local,
    /// `c`: a client-side timeout.
    ClientTimeout,
    /// `s`: a server-side timeout.
    ServerTimeout,
    /// `I`: an internal error (a stream made HTTP routed to a `mode tcp` backend).
    Internal,
}

/// The phase the session was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `-`: it completed.
    Done,
    /// `R`: waiting for or processing the request.
    Request,
    /// `Q`: waiting in the queue.
    Queue,
    /// `T`: held by `http-request tarpit`.
    Tarpit,
    /// `C`: connecting to the server.
    Connect,
    /// `H`: waiting for the response headers.
    Headers,
    /// `D`: transferring data.
    Data,
}

/// The termination state of a session or request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination {
    pub cause: Cause,
    pub phase: Phase,
}

impl Default for Termination {
    fn default() -> Self {
        Termination::NORMAL
    }
}

impl Termination {
    /// `--`: a normal end.
    pub const NORMAL: Termination = Termination::new(Cause::Normal, Phase::Done);
    /// `PR`: the proxy answered or refused during the request (rules, bad request, no backend).
    pub const PROXY_REQUEST: Termination = Termination::new(Cause::Proxy, Phase::Request);
    /// `PH`: the proxy refused the response (`http-response deny`).
    pub const PROXY_HEADERS: Termination = Termination::new(Cause::Proxy, Phase::Headers);
    /// `LR`: a local answer (the stats page).
    pub const LOCAL: Termination = Termination::new(Cause::Local, Phase::Request);
    /// `cR`: the client did not send its request in time.
    pub const CLIENT_TIMEOUT_REQUEST: Termination =
        Termination::new(Cause::ClientTimeout, Phase::Request);
    /// `CR`: the client went away before its request was complete.
    pub const CLIENT_REQUEST: Termination = Termination::new(Cause::Client, Phase::Request);
    /// `SC`: no server connection.
    pub const SERVER_CONNECT: Termination = Termination::new(Cause::Server, Phase::Connect);
    /// `SH`: the server failed before or while answering the headers.
    pub const SERVER_HEADERS: Termination = Termination::new(Cause::Server, Phase::Headers);
    /// `sH`: the server did not answer in time.
    pub const SERVER_TIMEOUT_HEADERS: Termination =
        Termination::new(Cause::ServerTimeout, Phase::Headers);
    /// `CD`: the client went away while data flowed.
    pub const CLIENT_DATA: Termination = Termination::new(Cause::Client, Phase::Data);
    /// `IR`: an internal error during the request.
    pub const INTERNAL_REQUEST: Termination = Termination::new(Cause::Internal, Phase::Request);
    /// `SD`: the server went away while data flowed.
    pub const SERVER_DATA: Termination = Termination::new(Cause::Server, Phase::Data);

    pub const fn new(cause: Cause, phase: Phase) -> Termination {
        Termination { cause, phase }
    }

    /// The two characters HAProxy logs.
    pub fn chars(self) -> [u8; 2] {
        let c = match self.cause {
            Cause::Normal => b'-',
            Cause::Client => b'C',
            Cause::Server => b'S',
            Cause::Proxy => b'P',
            Cause::Local => b'L',
            Cause::ClientTimeout => b'c',
            Cause::ServerTimeout => b's',
            Cause::Internal => b'I',
        };
        let p = match self.phase {
            Phase::Done => b'-',
            Phase::Request => b'R',
            Phase::Queue => b'Q',
            Phase::Tarpit => b'T',
            Phase::Connect => b'C',
            Phase::Headers => b'H',
            Phase::Data => b'D',
        };
        [c, p]
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [c, p] = self.chars();
        write!(f, "{}{}", char::from(c), char::from(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_as_haproxy_writes_them() {
        assert_eq!(Termination::NORMAL.to_string(), "--");
        assert_eq!(
            Termination::new(Cause::ServerTimeout, Phase::Queue).to_string(),
            "sQ"
        );
        assert_eq!(
            Termination::new(Cause::Local, Phase::Request).to_string(),
            "LR"
        );
        assert_eq!(
            Termination::new(Cause::Client, Phase::Data).to_string(),
            "CD"
        );
    }
}
