//! What an HTTP request or TCP session adds to the counters of its frontend, backend and
//! server, decided from what the log line already knows (status, termination flags, byte
//! counts, timers). As HAProxy, requests are counted when their head is read and responses by
//! status just before they are sent (so a client never sees an answer its counters lack);
//! bytes, times and errors when the request is finished.
//! The termination state is HAProxy's (see `termination`).

use crate::counters::{Counters, Ctr};
use crate::termination::{Cause, Phase, Termination};
use std::time::Duration;

/// Who produced the response a client gets: a server's counts in its `hrsp_*`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Answerer {
    Server,
    /// The proxy itself (an error page, a rule's answer, an applet), or nobody yet.
    #[default]
    Proxy,
}

/// Whether a request's status has been counted (it is, just before the answer is sent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusCount {
    #[default]
    Pending,
    Counted,
}

/// The facts of one finished HTTP request.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpDone {
    /// Status sent to the client (0: none).
    pub status: u16,
    pub term: Termination,
    /// Bytes received from the client (head and body) and sent to it (head and body).
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Who sent the response.
    pub answered_by: Answerer,
    /// Whether [`status`] was already called for this request.
    pub counted: StatusCount,
    /// Queue, connect, server response and total times.
    pub tw: Option<Duration>,
    pub tc: Option<Duration>,
    pub tr: Option<Duration>,
    pub tt: Duration,
}

fn ms(d: Option<Duration>) -> u64 {
    d.map_or(0, |d| d.as_millis() as u64)
}

/// Counts a request a frontend could not even parse or wait for (`ereq`): 400, 408. Call it
/// before sending the answer.
pub fn bad_request(fe: &Counters, status: u16, bytes_out: u64) {
    fe.request();
    fe.inc(Ctr::ErrReq);
    fe.inc(Ctr::for_status(status));
    fe.add(Ctr::BytesOut, bytes_out);
}

/// A request head was read: `req_tot` and the request rate of the frontend.
pub fn request_received(fe: &Counters) {
    fe.request();
}

/// The status the client gets is known, just before it is sent: `hrsp_*` of the frontend, of
/// the backend if the request was routed, of the server if it answered; the backend's and
/// server's `req_tot`; denied requests and request/response errors, from the termination
/// flags set so far.
pub fn status(
    fe: &Counters,
    be: Option<&Counters>,
    srv: Option<&Counters>,
    status: u16,
    term: Termination,
    answered_by: Answerer,
) {
    if status == 0 {
        return;
    }
    let (who, phase) = (term.cause, term.phase);
    let denied = who == Cause::Proxy && status == 403;
    match (who, phase) {
        (Cause::Proxy, Phase::Request) if denied => fe.inc(Ctr::DeniedReq),
        (Cause::Proxy, Phase::Headers) if denied => fe.inc(Ctr::DeniedResp),
        (Cause::Proxy | Cause::ClientTimeout | Cause::Client, Phase::Request)
            if status == 400 || status == 408 =>
        {
            fe.inc(Ctr::ErrReq)
        }
        _ => {}
    }
    let class = Ctr::for_status(status);
    fe.inc(class);
    let Some(be) = be else { return };
    let bc = be;
    bc.inc(class);
    let both = |c: Ctr| {
        bc.inc(c);
        if let Some(s) = srv {
            s.inc(c);
        }
    };
    match (who, phase) {
        (Cause::Proxy, Phase::Request) if denied => bc.inc(Ctr::DeniedReq),
        (Cause::Proxy, Phase::Headers) if denied => both(Ctr::DeniedResp),
        (Cause::Server | Cause::ServerTimeout, Phase::Headers) => both(Ctr::ErrResp),
        _ => {}
    }
    let Some(s) = srv else { return };
    bc.request();
    s.request();
    if answered_by == Answerer::Server {
        s.inc(class);
    }
}

/// Counts a finished HTTP request on its frontend, backend (if it was routed) and server (if
/// one was assigned).
pub fn http(fe: &Counters, be: Option<&Counters>, srv: Option<&Counters>, d: &HttpDone) {
    let (who, phase) = (d.term.cause, d.term.phase);
    if d.counted == StatusCount::Pending {
        status(fe, be, srv, d.status, d.term, d.answered_by);
    }
    fe.add(Ctr::BytesIn, d.bytes_in);
    fe.add(Ctr::BytesOut, d.bytes_out);
    let Some(be) = be else { return };
    let bc = be;
    let both = |c: Ctr| {
        bc.inc(c);
        if let Some(s) = srv {
            s.inc(c);
        }
    };
    // Aborts happen while the body flows, after the status was counted.
    match (who, phase) {
        (Cause::Client, Phase::Data) => both(Ctr::CliAbort),
        (Cause::Server | Cause::ServerTimeout, Phase::Data) => both(Ctr::SrvAbort),
        _ => {}
    }
    let Some(s) = srv else {
        bc.add(Ctr::BytesIn, d.bytes_in);
        bc.add(Ctr::BytesOut, d.bytes_out);
        return;
    };
    let times = [ms(d.tw), ms(d.tc), ms(d.tr), d.tt.as_millis() as u64];
    bc.transfer(d.bytes_in, d.bytes_out, times);
    s.transfer(d.bytes_in, d.bytes_out, times);
}

/// Counts a finished TCP session's bytes, times and aborts (its sessions were counted when it
/// started and when its server was assigned).
#[allow(clippy::too_many_arguments)]
pub fn tcp(
    fe: &Counters,
    be: Option<&Counters>,
    srv: Option<&Counters>,
    bytes_in: u64,
    bytes_out: u64,
    term: Termination,
    tw: Option<Duration>,
    tc: Option<Duration>,
    tt: Duration,
) {
    fe.add(Ctr::BytesIn, bytes_in);
    fe.add(Ctr::BytesOut, bytes_out);
    let Some(be) = be else { return };
    let abort = match term.cause {
        Cause::Client => Some(Ctr::CliAbort),
        Cause::Server => Some(Ctr::SrvAbort),
        _ => None,
    };
    for c in std::iter::once(be).chain(srv) {
        c.add(Ctr::BytesIn, bytes_in);
        c.add(Ctr::BytesOut, bytes_out);
        if let Some(a) = abort {
            c.inc(a);
        }
        if srv.is_some() {
            c.times(ms(tw), ms(tc), 0, tt.as_millis() as u64);
        }
    }
}
