//! What a TCP session's log line reads besides its outcome ([`Done`]): its addresses as the
//! content rules moved them, its clocks, captures and tracking, built at the accept and held
//! to the end (handed from the boxed phases to the exchange), and the line itself.

use super::Done;
use crate::logline::{Entry, Timers};
use crate::state::Frontend;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub(super) struct Session {
    pub fe: Arc<Frontend>,
    /// The client's and the local address, as accepted (`moved` holds what rules set).
    pub addrs: (SocketAddr, SocketAddr),
    pub tls: Option<Arc<crate::stream::TlsInfo>>,
    pub track: Option<Arc<crate::track::Tracking>>,
    pub accepted: Instant,
    pub accept_wall: SystemTime,
    /// `%Th`: the PROXY header and TLS handshake before this session (`%Tt` counts it).
    pub handshake: Duration,
    /// `%rt`
    pub rt: u64,
    /// What `tcp-request content set-src|set-dst|...` make of the addresses (the log line,
    /// routing, persistence and the server connection see them).
    pub moved: crate::tcp_rules::Moved,
    /// `tcp-request content capture` slots (`%hr`)
    pub samples: Option<crate::http::capture::Samples>,
    /// The server connection's address (`%bi`/`%bp`) once there is one.
    pub source: Mutex<Option<SocketAddr>>,
    /// `%bq`: the session's position in its backend's queue, once it has a server.
    pub queue_pos: AtomicU32,
    /// `option logasap`: logged once the server connection is made, not at the end.
    logged: AtomicBool,
}

impl Session {
    pub fn new(
        fe: Arc<Frontend>,
        addrs: (SocketAddr, SocketAddr),
        handshake: Duration,
        tls: Option<Arc<crate::stream::TlsInfo>>,
        track: Option<Arc<crate::track::Tracking>>,
    ) -> Session {
        let accepted = Instant::now();
        let accept_wall = SystemTime::now()
            .checked_sub(handshake)
            .unwrap_or_else(SystemTime::now);
        let samples = fe.captures.has_samples().then(|| fe.captures.new_samples());
        Session {
            fe,
            addrs,
            tls,
            track,
            accepted,
            accept_wall,
            handshake,
            rt: crate::logline::next_request(),
            moved: Default::default(),
            samples,
            source: Mutex::new(None),
            queue_pos: AtomicU32::new(0),
            logged: AtomicBool::new(false),
        }
    }

    /// The server connection's source address, once known and asked for.
    pub fn source(&self) -> Option<SocketAddr> {
        self.source.lock().ok().and_then(|s| *s)
    }

    /// Logs the session's end (unless `option logasap` logged it already).
    pub fn log_end(&self, d: &Done<'_>) {
        if !self.logged.load(Ordering::Relaxed) {
            self.line(d, false);
        }
    }

    /// `option logasap`'s line, once the server connection is made (none at the end).
    pub fn log_asap(&self, d: &Done<'_>) {
        self.logged.store(true, Ordering::Relaxed);
        self.line(d, true);
    }

    fn line(&self, d: &Done<'_>, asap: bool) {
        let (peer, local) = self.moved.get(self.addrs.0, self.addrs.1);
        log_tcp(
            &self.fe,
            (peer, local, self.tls.as_deref()),
            self.accept_wall,
            self.accepted.elapsed(),
            d,
            (self.source(), self.rt, asap, self.handshake),
            (
                self.track.as_deref(),
                self.queue_pos.load(Ordering::Relaxed),
                &self.moved,
                self.samples.as_ref(),
            ),
        )
    }
}

fn log_tcp(
    fe: &Frontend,
    (peer, local, tls): (SocketAddr, SocketAddr, Option<&crate::stream::TlsInfo>),
    accept: SystemTime,
    total: Duration,
    d: &Done<'_>,
    (source, rt, asap, handshake): (Option<SocketAddr>, u64, bool, Duration),
    (track, bq, moved, samples): (
        Option<&crate::track::Tracking>,
        u32,
        &crate::tcp_rules::Moved,
        Option<&crate::http::capture::Samples>,
    ),
) {
    let Some(log) = &fe.log else { return };
    // `option dontlognull`: no line for a session whose client sent no byte, however it
    // ended (haproxy 2.6 tests the request channel's total); not for `option logasap`'s
    // line nor the legacy one, which haproxy writes before knowing (at accept).
    if fe.options.dontlognull && d.bytes_in == 0 && !asap && fe.log_format.is_some() {
        return;
    }
    let error = crate::log_format::is_error(fe.mode, d.term, d.retries, 0);
    let Some(level) = crate::log_format::level(&fe.options, error) else {
        return;
    };
    // `tcp-request content set-log-level` (8: `silent`, no line)
    let level = match moved.level() {
        Some(8) => return,
        Some(l) => l,
        None => level,
    };
    let place = crate::place::Place {
        be: d.backend,
        srv: d.server,
        conn: track.and_then(|t| t.conn()),
        vars: track,
        bc_src: source,
        bq,
        bc_gone: !asap,
        ..crate::place::Place::at(fe)
    };
    let taken: Vec<Option<Vec<u8>>> = samples
        .and_then(|s| s.lock().ok().map(|g| g.clone()))
        .unwrap_or_default();
    let entry = Entry {
        mode: fe.mode,
        frontend: &fe.name,
        tls,
        peer,
        local,
        accept,
        backend: d.backend.map(|b| b.name.as_str()),
        server: d.server.map(|s| s.name.as_str()),
        timers: Timers {
            request: None,
            queue: d.queue,
            connect: d.connect,
            response: None,
            total,
        },
        status: 0,
        bytes: d.bytes,
        term: d.term,
        cookie: *b"--",
        active: crate::counters::active_connections(),
        frontend_conns: fe.conns.load(Ordering::Relaxed),
        retries: d.retries,
        bytes_in: d.bytes_in,
        log_count: log.count(),
        unique_id: None,
        samples: &taken,
        server_addr: d.server.and_then(|s| s.fixed_addr()),
        source,
        rt,
        handshake,
        idle: Duration::ZERO,
        asap,
        place: Some(&place),
        counters: fe.counters(track, fe.own_table.as_ref()),
        open: false,
        // `tcp-request content set-priority-class|offset`, logged as haproxy 2.6 does.
        priority: moved.priority().unwrap_or_default(),
    };
    let line = match &fe.log_format {
        Some(f) => crate::log_format::render(f, &entry, None, None, &fe.captures),
        None => entry.connect(),
    };
    let sd = log
        .sd
        .as_ref()
        .map(|f| crate::log_format::render(f, &entry, None, None, &fe.captures));
    log.send_sd(level, &line, sd.as_deref());
}
