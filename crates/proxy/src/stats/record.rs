//! What one finished HTTP request or TCP session adds to the counters of its frontend, backend
//! and server, decided from what the log line already knows (status, termination flags, byte
//! counts, timers). One call per request, so the forward path stays free of stats code.
//!
//! The termination flags are HAProxy's: first character who ended it (`C` client, `S` server,
//! `P` proxy, `s` server-side timeout, `c` client-side timeout, `-` normal), second character
//! the phase (`R` request, `Q` queue, `C` connect, `H` response headers, `D` data).

use super::counters::{Counters, Ctr};
use crate::backend::Backend;
use crate::server::ServerRt;
use std::time::Duration;

/// The facts of one finished HTTP request.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpDone<'a> {
    /// Status sent to the client (0: none).
    pub status: u16,
    pub flags: &'a str,
    /// Bytes received from the client (head and body) and sent to it (head and body).
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Whether the server sent the response (not the proxy).
    pub server_answered: bool,
    /// Queue, connect, server response and total times.
    pub tw: Option<Duration>,
    pub tc: Option<Duration>,
    pub tr: Option<Duration>,
    pub tt: Duration,
}

fn ms(d: Option<Duration>) -> u64 {
    d.map_or(0, |d| d.as_millis() as u64)
}

/// Counts a request a frontend could not even parse or wait for (`ereq`): 400, 408.
pub fn bad_request(fe: &Counters, status: u16, bytes_out: u64) {
    fe.request();
    fe.inc(Ctr::ErrReq);
    fe.inc(Ctr::for_status(status));
    fe.add(Ctr::BytesOut, bytes_out);
}

/// Counts a finished HTTP request on its frontend, backend (if it was routed) and server (if
/// one was assigned).
pub fn http(fe: &Counters, be: Option<&Backend>, srv: Option<&ServerRt>, d: &HttpDone<'_>) {
    let mut f = d.flags.chars();
    let who = f.next().unwrap_or('-');
    let phase = f.next().unwrap_or('-');
    fe.request();
    fe.add(Ctr::BytesIn, d.bytes_in);
    fe.add(Ctr::BytesOut, d.bytes_out);
    if d.status != 0 {
        fe.inc(Ctr::for_status(d.status));
    }
    let denied = who == 'P' && d.status == 403;
    match (who, phase) {
        ('P', 'R') if denied => fe.inc(Ctr::DeniedReq),
        ('P', 'H') if denied => fe.inc(Ctr::DeniedResp),
        ('P' | 'c' | 'C', 'R') if d.status == 400 || d.status == 408 => fe.inc(Ctr::ErrReq),
        _ => {}
    }
    let Some(be) = be else { return };
    let bc = &be.counters;
    bc.add(Ctr::BytesIn, d.bytes_in);
    bc.add(Ctr::BytesOut, d.bytes_out);
    if d.status != 0 {
        bc.inc(Ctr::for_status(d.status));
    }
    let both = |c: Ctr| {
        bc.inc(c);
        if let Some(s) = srv {
            s.counters.inc(c);
        }
    };
    match (who, phase) {
        ('P', 'R') if denied => bc.inc(Ctr::DeniedReq),
        ('P', 'H') if denied => both(Ctr::DeniedResp),
        ('S' | 's', 'H') => both(Ctr::ErrResp),
        ('C', 'D') => both(Ctr::CliAbort),
        ('S' | 's', 'D') => both(Ctr::SrvAbort),
        _ => {}
    }
    let Some(s) = srv else { return };
    bc.request();
    bc.times(ms(d.tw), ms(d.tc), ms(d.tr), d.tt.as_millis() as u64);
    let sc = &s.counters;
    sc.request();
    sc.add(Ctr::BytesIn, d.bytes_in);
    sc.add(Ctr::BytesOut, d.bytes_out);
    if d.server_answered && d.status != 0 {
        sc.inc(Ctr::for_status(d.status));
    }
    sc.times(ms(d.tw), ms(d.tc), ms(d.tr), d.tt.as_millis() as u64);
}

/// Counts a finished TCP session's bytes, times and aborts (its sessions were counted when it
/// started and when its server was assigned).
#[allow(clippy::too_many_arguments)]
pub fn tcp(fe: &Counters, be: Option<&Backend>, srv: Option<&ServerRt>, bytes_in: u64, bytes_out: u64, flags: &str, tw: Option<Duration>, tc: Option<Duration>, tt: Duration) {
    fe.add(Ctr::BytesIn, bytes_in);
    fe.add(Ctr::BytesOut, bytes_out);
    let Some(be) = be else { return };
    let abort = match flags.as_bytes().first() {
        Some(b'C') => Some(Ctr::CliAbort),
        Some(b'S') => Some(Ctr::SrvAbort),
        _ => None,
    };
    for c in std::iter::once(&be.counters).chain(srv.map(|s| &s.counters)) {
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
