//! What one traffic log line says ([`Entry`], filled by the HTTP and the TCP sessions), and
//! the default (legacy) line of a frontend without a log format (8.2.1, `Connect from
//! SRC:PORT to DST:PORT (FRONTEND/MODE)`). `option httplog`, `tcplog` and `log-format` lines
//! are rendered from the same entry by `log_format` (HAProxy's predefined formats).
//!
//! A unix-socket client is written `unix:ID` (ID: its listener's number), and the default
//! format says `Connect to unix:ID (FRONTEND/MODE)`, as HAProxy 2.6 writes them.

use crate::net::shown;
use crate::termination::Termination;
use fulcrum_config::model::Mode;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// What a request waited for before its first byte: the connection's handshakes (`%Th`,
/// first request only) and the idle time (`%Ti`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Waits {
    pub idle: Duration,
    pub handshake: Duration,
}

/// HAProxy's `%rt`: the process's request (HTTP) and session (TCP) counter, from 0.
static REQUESTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The next request's `%rt` (taken when a request or a TCP session starts).
pub fn next_request() -> u64 {
    REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Timers of a request (HTTP: `Tq/Tw/Tc/Tr/Ta`; TCP: `Tw/Tc/Tt`); `None` is logged `-1`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timers {
    /// Request head received.
    pub request: Option<Duration>,
    /// Queue.
    pub queue: Option<Duration>,
    /// Connect.
    pub connect: Option<Duration>,
    /// Server response head.
    pub response: Option<Duration>,
    /// Total.
    pub total: Duration,
}

/// What one log line says.
pub struct Entry<'a> {
    pub mode: Mode,
    pub frontend: &'a str,
    /// The client connection's TLS, when it is one: `%ft` is the frontend's name with `~`
    /// (HAProxy's), `%sslv`/`%sslc` its version and cipher.
    pub tls: Option<&'a crate::stream::TlsInfo>,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub accept: SystemTime,
    /// `None`: not routed (the frontend's name is written, as HAProxy's `%b`).
    pub backend: Option<&'a str>,
    /// `None`: `<NOSRV>`.
    pub server: Option<&'a str>,
    pub timers: Timers,
    /// HTTP status (HTTP only).
    pub status: u16,
    /// Bytes sent to the client.
    pub bytes: u64,
    pub term: Termination,
    /// The cookie characters of `%tsc` (HTTP only): `--` without `cookie`.
    pub cookie: [u8; 2],
    /// Connections of the process (`%ac`) and of the frontend (`%fc`).
    pub active: u64,
    pub frontend_conns: u64,
    /// `%rc`: the connection retries, and whether the stream was redispatched.
    pub retries: crate::farm::outcome::Retries,
    /// Bytes read from the client as HAProxy 2.6 counts them for `%U` (head without the
    /// `: ` and line end of each header field, and the body).
    pub bytes_in: u64,
    /// Lines the frontend logged before this one (`%lc`).
    pub log_count: u64,
    /// The request's `unique-id-format` id (`%ID`).
    pub unique_id: Option<&'a [u8]>,
    /// The values `http-request capture` rules took, by request capture slot.
    pub samples: &'a [Option<Vec<u8>>],
    /// The server's address when it is a fixed IP:port (`%si`/`%sp`).
    pub server_addr: Option<SocketAddr>,
    /// The server connection's own address (`%bi`/`%bp`), when one was made or reused.
    pub source: Option<SocketAddr>,
    /// The process's request (HTTP) or session (TCP) counter when this one started (`%rt`).
    pub rt: u64,
    /// `%Th`: the connection's handshake (TLS, PROXY header) before its first request.
    pub handshake: Duration,
    /// `%Ti`: the idle time before the request's first byte (after the accept, or after the
    /// previous request on a keep-alive connection). `timers.request` (`%TR`) and
    /// `timers.total` (`%Ta`) run from that first byte.
    pub idle: Duration,
    /// An `option logasap` line, written before the end (`+` before `%Ta %Tt %Tu %B`).
    pub asap: bool,
    /// Where the stream went, for `%[fe_name]`, `%[srv_id]`... (`crate::place`).
    pub place: Option<&'a dyn crate::http::sample_env::Where>,
    /// The stick counters the stream tracked (`%[sc0_http_req_rate]`, `table_*`).
    pub counters: Option<crate::track::Counters<'a>>,
    /// The stream is not finished: the line is a rule value's view of it (`rule_facts`;
    /// HAProxy's `t_close` is 0 then).
    pub open: bool,
    /// `set-priority-class|offset` (`%[prio_class]`, `%[prio_offset]`: 0 unless set).
    pub priority: (i32, i32),
}

impl Entry<'_> {
    /// `%tr`: when the request began (after the handshake and the idle time).
    pub fn request_date(&self) -> SystemTime {
        self.accept + self.handshake + self.idle
    }
}

impl Entry<'_> {
    /// `%ft`: the frontend's name, with `~` on a TLS connection.
    pub fn frontend_transport(&self) -> String {
        if self.tls.is_some() {
            format!("{}~", self.frontend)
        } else {
            self.frontend.to_string()
        }
    }

    /// The default (legacy) line of a frontend with neither `log-format` nor `option
    /// httplog`/`tcplog`.
    pub fn connect(&self) -> String {
        let mode = match self.mode {
            Mode::Http => "HTTP",
            Mode::Tcp => "TCP",
        };
        if crate::net::is_unix_peer(self.peer.ip()) {
            // HAProxy 2.6 writes a unix-socket client this way (no source address).
            return format!(
                "Connect to unix:{} ({}/{mode})",
                self.peer.port(),
                self.frontend
            );
        }
        format!(
            "Connect from {}:{} to {}:{} ({}/{mode})",
            shown(self.peer.ip()),
            self.peer.port(),
            shown(self.local.ip()),
            self.local.port(),
            self.frontend,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::termination::{Cause, Phase};

    fn entry(peer: SocketAddr, mode: Mode) -> Entry<'static> {
        Entry {
            mode,
            frontend: "fe",
            tls: None,
            peer,
            local: "127.0.0.1:8080".parse().expect("addr"),
            accept: SystemTime::UNIX_EPOCH,
            backend: Some("be"),
            server: Some("s1"),
            timers: Timers::default(),
            status: 0,
            bytes: 5,
            term: Termination::NORMAL,
            cookie: *b"--",
            active: 1,
            frontend_conns: 1,
            retries: crate::farm::outcome::Retries::default(),
            bytes_in: 0,
            log_count: 0,
            unique_id: None,
            samples: &[],
            server_addr: None,
            source: None,
            rt: 0,
            handshake: Duration::ZERO,
            idle: Duration::ZERO,
            asap: false,
            place: None,
            counters: None,
            open: false,
            priority: (0, 0),
        }
    }

    #[test]
    fn connect_lines_as_haproxy_writes_them() {
        let e = entry("10.0.0.1:4000".parse().expect("addr"), Mode::Tcp);
        // The legacy format names the address the client connected to, not the server.
        assert_eq!(
            e.connect(),
            "Connect from 10.0.0.1:4000 to 127.0.0.1:8080 (fe/TCP)"
        );
        // A unix-socket client is `unix:ID`.
        let mut e = entry(crate::net::unix_peer(2), Mode::Http);
        e.term = Termination::new(Cause::Server, Phase::Connect);
        assert_eq!(e.connect(), "Connect to unix:2 (fe/HTTP)");
    }
}
