//! The log line of a connection that failed before it carried a request (HAProxy 2.6,
//! section 8.2.5 "error log format"): a TLS handshake that failed, timed out or was closed,
//! or an `accept-proxy` (`accept-netscaler-cip`) connection without a usable PROXY (NetScaler
//! Client IP) header.
//! Without `error-log-format` it is HAProxy's fixed line `CLIENT:PORT [ACCEPT_DATE]
//! FRONTEND/BIND: MESSAGE`; with one, that format rendered from what the connection has
//! (addresses, dates, frontend, connection counts). Logged at `info`, or `err` under
//! `option log-separate-errors`.

use crate::accept_proxy::Missing;
use crate::log::accept_date;
use crate::logline::{Entry, Timers};
use crate::net::shown;
use crate::state::Frontend;
use crate::termination::Termination;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

/// Why a connection failed, in HAProxy's words (its `conn_err_code_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The TLS handshake failed (no common version or suite, a refused certificate...).
    TlsHandshake,
    /// The client sent nothing more and closed during the handshake.
    TlsClosed,
    /// `timeout client` ran out during the handshake.
    TlsTimeout,
    /// `accept-proxy`: no usable PROXY protocol header (why, in HAProxy's words).
    Proxy(crate::accept_proxy::Missing),
    /// `accept-netscaler-cip`: no usable NetScaler Client IP header.
    Cip(crate::accept_proxy::Missing),
}

impl From<crate::accept_proxy::Refused> for Failure {
    fn from(r: crate::accept_proxy::Refused) -> Failure {
        match r {
            crate::accept_proxy::Refused::Proxy(m) => Failure::Proxy(m),
            crate::accept_proxy::Refused::Cip(m) => Failure::Cip(m),
        }
    }
}

impl Failure {
    pub fn message(self) -> &'static str {
        match self {
            Failure::TlsHandshake => "SSL handshake failure",
            Failure::TlsClosed => "Connection closed during SSL handshake",
            Failure::TlsTimeout => "Timeout during SSL handshake",
            Failure::Proxy(m) => m.message(),
            Failure::Cip(m) => m.cip_message(),
        }
    }

    /// What a failed handshake's I/O error says about it.
    pub fn of_tls(e: &std::io::Error) -> Failure {
        match e.kind() {
            std::io::ErrorKind::TimedOut => Failure::TlsTimeout,
            std::io::ErrorKind::UnexpectedEof => Failure::TlsClosed,
            _ => Failure::TlsHandshake,
        }
    }
}

/// Logs connection `failure` of frontend `fe` (`bind`: the listener's number in it),
/// accepted at `accept`.
pub fn connection_error(
    fe: &Frontend,
    (peer, local): (SocketAddr, SocketAddr),
    accept: SystemTime,
    bind: u16,
    failure: Failure,
) {
    let Some(log) = &fe.log else { return };
    // `option dontlognull`: a connection that closed without a byte of handshake.
    let null = matches!(
        failure,
        Failure::TlsClosed
            | Failure::Proxy(Missing::Closed | Missing::Aborted)
            | Failure::Cip(Missing::Closed | Missing::Aborted)
    );
    if fe.options.dontlognull && null {
        return;
    }
    let level = if fe.options.log_separate_errors {
        3
    } else {
        crate::log::INFO
    };
    let line = match &log.error_format {
        None => format!(
            "{}:{} [{}] {}/{bind}: {}",
            shown(peer.ip()),
            peer.port(),
            accept_date(accept),
            fe.name,
            failure.message()
        ),
        Some(f) => {
            let took = SystemTime::now()
                .duration_since(accept)
                .unwrap_or(Duration::ZERO);
            // A TLS listener's connection: `%ft` has HAProxy's `~` (no TLS figures are
            // written in these lines: the config refuses them).
            let tls = crate::stream::TlsInfo::default();
            let on_tls = !matches!(failure, Failure::Proxy(_) | Failure::Cip(_));
            let place = crate::place::Place::at(fe);
            let entry = Entry {
                mode: fe.mode,
                frontend: &fe.name,
                tls: on_tls.then_some(&tls),
                peer,
                local,
                accept,
                backend: None,
                server: None,
                timers: Timers {
                    total: took,
                    ..Timers::default()
                },
                status: 0,
                bytes: 0,
                term: Termination::NORMAL,
                cookie: *b"--",
                active: crate::counters::active_connections(),
                frontend_conns: fe.conns.load(Ordering::Relaxed),
                retries: Default::default(),
                bytes_in: 0,
                log_count: log.count(),
                unique_id: None,
                samples: &[],
                server_addr: None,
                source: None,
                rt: 0,
                handshake: took,
                idle: Duration::ZERO,
                asap: false,
                place: Some(&place),
                counters: None,
                open: false,
                priority: (0, 0),
            };
            crate::log_format::render(f, &entry, None, None, &fe.captures)
        }
    };
    log.send_level(level, &line);
}
