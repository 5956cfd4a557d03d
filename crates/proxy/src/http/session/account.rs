//! The end of every HTTP request: what it adds to the counters (`record`) and its log line
//! (`logline`, shared with the TCP sessions).

use super::{Rec, Session};
use crate::clock::between;
use crate::logline::{Entry, Timers};
use crate::record::{Answerer, StatusCount};
use crate::stream::ClientStream;
use crate::termination::Termination;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

/// When a request started: its accept date, the instant of its first byte (`%TR` and `%Ta`
/// run from it; `clock::monotonic_ns`), and the waits before it (`%Th`, `%Ti`).
pub(super) type Start = (SystemTime, u64, crate::logline::Waits);

impl<C: ClientStream> Session<C> {
    /// The accept date and clock a connection's first request counts from when it ends before
    /// a request (HAProxy's timers run from the accept, before the handshake and the wait for
    /// the first byte).
    pub(super) fn clock_of(
        &self,
        turn: super::Turn,
        accept: SystemTime,
        t0: u64,
    ) -> (SystemTime, u64) {
        if turn == super::Turn::First {
            self.first_clock(accept, t0)
        } else {
            (accept, t0)
        }
    }

    fn first_clock(&self, accept: SystemTime, t0: u64) -> (SystemTime, u64) {
        let (at, _, waits) = self.start(true, accept, t0, None);
        let back = waits.idle + waits.handshake;
        (at, t0.saturating_sub(back.as_nanos() as u64))
    }

    /// A request's [`Start`] from when its turn began (`accept`, `t0`) and when its first
    /// byte `arrived` (if it was not here already): the first request waited for its first
    /// byte since the accept (before `run`, after the handshakes), a later one since the
    /// previous request ended.
    pub(super) fn start(
        &self,
        first: bool,
        accept: SystemTime,
        t0: u64,
        arrived: Option<u64>,
    ) -> Start {
        use crate::logline::Waits;
        if first {
            // (a connection's first request only: the accept's `Instant` read as nanoseconds)
            let idle = between(crate::clock::ns_of(self.started.into_std()), t0);
            let handshake = self.handshake;
            let at = accept.checked_sub(idle + handshake).unwrap_or(accept);
            (at, t0, Waits { idle, handshake })
        } else {
            let at = arrived.unwrap_or(t0);
            let idle = between(t0, at);
            (
                accept,
                at,
                Waits {
                    idle,
                    handshake: Duration::ZERO,
                },
            )
        }
    }

    /// Counts the response's status (`hrsp_*`) before it is sent.
    pub(super) fn count_status(&self, r: &mut Rec) {
        if r.counted == StatusCount::Pending {
            r.counted = StatusCount::Counted;
            crate::record::status(
                &self.fe.counters,
                r.backend.as_deref().map(|b| &*b.counters),
                r.server.as_deref().map(|s| &*s.counters),
                r.status,
                r.term,
                answerer(r),
            );
        }
    }

    /// Adds the finished request to its frontend's, backend's and server's counters.
    pub(super) fn count(&self, r: &Rec, end: u64) {
        let done = crate::record::HttpDone {
            status: r.status,
            term: r.term,
            bytes_in: r.bytes_in,
            bytes_out: r.bytes + r.head_out,
            answered_by: answerer(r),
            counted: r.counted,
            tw: r.tw,
            tc: r.tc,
            tr: r.trs,
            tt: between(r.t0, end),
        };
        crate::record::http(
            &self.fe.counters,
            r.backend.as_deref().map(|b| &*b.counters),
            r.server.as_deref().map(|s| &*s.counters),
            &done,
        );
    }

    /// Logs a request that ended before it had a head (timeout, bad request).
    pub(super) fn log_simple(&self, accept: SystemTime, t0: u64, status: u16, term: Termination) {
        let rec = Rec {
            accept,
            t0,
            tr: None,
            tw: None,
            tc: None,
            trs: None,
            status,
            bytes: 0,
            backend: None,
            server: None,
            term,
            cookie: *b"--",
            retries: Default::default(),
            bytes_in: 0,
            head_out: 0,
            log_adjust: 0,
            interim: 0,
            priority: None,
            in_adjust: 0,
            counted: StatusCount::Counted,
            nolog: false,
            cache_hit: false,
            unique_id: None,
            log_level: None,
            captures: None,
            applet: None,
            client_asked: super::Next::Close,
            source: None,
            bc_tls: None,
            rt: crate::logline::next_request(),
            waits: Default::default(),
            queue_pos: 0,
            badreq: true,
            routed: None,
        };
        self.log(&rec);
    }

    /// `option logasap`: the line is written now that the response head was sent, with
    /// what is known (HAProxy 2.6: `%B` is the answer's HTX size so far, its head after the
    /// response rules and the body bytes received with it; `+` before `%Ta %Tt %Tu %B`), and
    /// not at the end.
    pub(super) fn log_asap(&self, r: &mut Rec) {
        if !self.fe.options.log.logasap || r.nolog {
            return;
        }
        let chunked = self
            .bufs
            .res
            .headers(b"transfer-encoding")
            .any(|v| v.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked")));
        let body = if chunked {
            let mut c = crate::http::body::Chunked::default();
            let _ = c.advance(&self.bufs.sbuf);
            c.htx()
        } else {
            r.bytes
        };
        let bytes = crate::http::log_bytes::head(&self.bufs.res) + body;
        self.log_line(r, Some(bytes));
        r.nolog = true;
    }

    /// Phase "log": the request's line in the frontend's format.
    pub(super) fn log(&self, r: &Rec) {
        self.log_line(r, None);
    }

    /// The request's line; `asap`: an `option logasap` line with `%B` so far.
    fn log_line(&self, r: &Rec, asap: Option<u64>) {
        let Some(log) = self.fe.log.as_ref().filter(|_| !r.nolog) else {
            return;
        };
        let error = crate::log_format::is_error(self.fe.mode, r.term, r.retries, r.status);
        let Some(plain) = crate::log_format::level(&self.fe.options, error) else {
            return;
        };
        let level = r.log_level.as_ref().map_or(crate::http::rules::UNSET, |l| {
            l.load(std::sync::atomic::Ordering::Relaxed)
        });
        if level == crate::http::rules::SILENT {
            return;
        }
        let level = if level == crate::http::rules::UNSET {
            plain
        } else {
            level
        };
        // A bad request's line reads no request and no response (the session's messages
        // may still hold a previous request's on a keep-alive connection).
        let req = (!r.badreq).then_some(&self.bufs.req);
        let res =
            (r.status != 0 && self.bufs.res.status != 0 && !r.badreq).then_some(&self.bufs.res);
        let samples = r.captures.as_ref().and_then(|c| c.lock().ok());
        let samples: &[Option<Vec<u8>>] = samples.as_deref().map_or(&[], |v| v.as_slice());
        let place = crate::place::Place {
            be: r.backend.as_deref(),
            srv: r.server.as_deref(),
            conn: self.track.as_deref().and_then(|t| t.conn()),
            vars: self.track.as_deref(),
            bc_src: r.source,
            bc_tls: r.bc_tls.as_deref(),
            bq: r.queue_pos,
            // the requests this connection served before this one (an `option logasap` line
            // is written before the count goes up)
            not_first: !C::H2 && self.served > u32::from(asap.is_none()),
            ..crate::place::Place::at(&self.fe)
        };
        let entry = Entry {
            mode: self.fe.mode,
            frontend: &self.fe.name,
            tls: self.client.tls().map(|t| &**t),
            peer: self.peer,
            local: self.local,
            accept: r.accept,
            backend: r.backend.as_ref().map(|b| b.name.as_str()),
            server: r
                .server
                .as_ref()
                .map(|s| s.name.as_str())
                .or(r.cache_hit.then_some("<CACHE>"))
                .or(r.applet),
            timers: Timers {
                request: r.tr,
                queue: r.tw,
                connect: r.tc,
                response: r.trs,
                total: between(r.t0, crate::clock::monotonic_ns()),
            },
            status: r.status,
            bytes: asap
                .unwrap_or((r.bytes + r.head_out + r.interim).saturating_add_signed(r.log_adjust)),
            term: r.term,
            cookie: r.cookie,
            active: crate::counters::active_connections(),
            frontend_conns: self.fe.conns.load(Ordering::Relaxed),
            retries: r.retries,
            bytes_in: r.bytes_in.saturating_add_signed(r.in_adjust),
            log_count: log.count(),
            unique_id: r.unique_id.as_deref(),
            samples,
            server_addr: r.server.as_ref().and_then(|s| s.fixed_addr()),
            source: r.source,
            rt: r.rt,
            handshake: r.waits.handshake,
            idle: r.waits.idle,
            asap: asap.is_some(),
            place: Some(&place),
            counters: self
                .fe
                .counters(self.track.as_deref(), self.fe.own_table.as_ref()),
            open: false,
            priority: r.priority.unwrap_or_default(),
        };
        let line = match &self.fe.log_format {
            Some(f) => crate::log_format::render(f, &entry, req, res, &self.fe.captures),
            None => entry.connect(),
        };
        let sd = log
            .sd
            .as_ref()
            .map(|f| crate::log_format::render(f, &entry, req, res, &self.fe.captures));
        log.send_sd(level, &line, sd.as_deref());
    }
}

/// A response time is only measured when a server's response head arrived (a cache hit or
/// an applet shows 0 in the log, as HAProxy, but no server answered).
fn answerer(r: &Rec) -> Answerer {
    if r.trs.is_some() && !r.cache_hit && r.applet.is_none() {
        Answerer::Server
    } else {
        Answerer::Proxy
    }
}
