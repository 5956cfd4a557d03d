//! The log lines of a finished request or session, in HAProxy's formats, built in one place
//! for the HTTP and the TCP sessions: `option httplog` (8.2.3), `option tcplog` (8.2.2) and
//! the default format (8.2.1, `Connect from SRC:PORT to DST:PORT (FRONTEND/MODE)`).
//!
//! Pure: the sessions fill an [`Entry`] with what they know; which format a frontend uses is
//! [`Format::of`]. A unix-socket client is written `unix:ID` (ID: its listener's number), and
//! the default format says `Connect to unix:ID (FRONTEND/MODE)`, as HAProxy 2.6 writes them.

use crate::log::{accept_date, ms};
use crate::net::shown;
use crate::termination::Termination;
use fulcrum_config::model::{Mode, ProxyOptions};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// The log format of a frontend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `option httplog` on an HTTP frontend.
    Http,
    /// `option tcplog` (or `httplog`, which HAProxy downgrades) on a TCP frontend.
    Tcp,
    /// Neither: the legacy one-line `Connect from` format.
    Connect,
}

impl Format {
    pub fn of(mode: Mode, options: &ProxyOptions) -> Format {
        match mode {
            Mode::Http if options.httplog => Format::Http,
            Mode::Tcp if options.tcplog || options.httplog => Format::Tcp,
            _ => Format::Connect,
        }
    }
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
    /// The client connection is TLS: `%ft` is the frontend's name with `~` (HAProxy's).
    pub tls: bool,
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
    pub retries: u32,
    /// `capture request|response header` blocks for `option httplog`, written as they
    /// appear after the queue field (` {req} {res}`; empty without captures).
    pub captures: &'a str,
    /// Bytes read from the client, head and body (`%U`).
    pub bytes_in: u64,
    /// The request's `unique-id-format` id (`%ID`).
    pub unique_id: Option<&'a [u8]>,
    /// The values `http-request capture` rules took, by request capture slot.
    pub samples: &'a [Option<Vec<u8>>],
    /// The server's address when it is a fixed IP:port (`%si`/`%sp`).
    pub server_addr: Option<SocketAddr>,
}

impl Entry<'_> {
    fn backend(&self) -> &str {
        self.backend.unwrap_or(self.frontend)
    }
    fn server(&self) -> &str {
        self.server.unwrap_or("<NOSRV>")
    }
    /// `%ft`: the frontend's name, with `~` on a TLS connection.
    pub fn frontend_transport(&self) -> String {
        if self.tls {
            format!("{}~", self.frontend)
        } else {
            self.frontend.to_string()
        }
    }

    /// The line in `format`; `request_line` is the HTTP request line (`None`: `<BADREQ>`).
    pub fn line(&self, format: Format, request_line: impl FnOnce() -> Option<String>) -> String {
        match format {
            Format::Http => self.http(request_line()),
            Format::Tcp => self.tcp(),
            Format::Connect => self.connect(),
        }
    }

    fn http(&self, request_line: Option<String>) -> String {
        let t = &self.timers;
        format!(
            "{}:{} [{}] {} {}/{} {}/{}/{}/{}/{} {} {} - - {}{}{} {}/{}/0/0/{} 0/0{} \"{}\"",
            shown(self.peer.ip()),
            self.peer.port(),
            accept_date(self.accept),
            self.frontend_transport(),
            self.backend(),
            self.server(),
            ms(t.request),
            ms(t.queue),
            ms(t.connect),
            ms(t.response),
            t.total.as_millis(),
            self.status,
            self.bytes,
            self.term,
            char::from(self.cookie[0]),
            char::from(self.cookie[1]),
            self.active,
            self.frontend_conns,
            self.retries,
            self.captures,
            request_line.as_deref().unwrap_or("<BADREQ>"),
        )
    }

    fn tcp(&self) -> String {
        let t = &self.timers;
        format!(
            "{}:{} [{}] {} {}/{} {}/{}/{} {} {} {}/{}/0/0/{} 0/0",
            shown(self.peer.ip()),
            self.peer.port(),
            accept_date(self.accept),
            self.frontend_transport(),
            self.backend(),
            self.server(),
            ms(t.queue),
            ms(t.connect),
            t.total.as_millis(),
            self.bytes,
            self.term,
            self.active,
            self.frontend_conns,
            self.retries,
        )
    }

    fn connect(&self) -> String {
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
            tls: false,
            peer,
            local: "127.0.0.1:8080".parse().expect("addr"),
            accept: SystemTime::UNIX_EPOCH,
            backend: Some("be"),
            server: Some("s1"),
            timers: Timers {
                queue: Some(Duration::ZERO),
                connect: Some(Duration::from_millis(2)),
                total: Duration::from_millis(7),
                ..Timers::default()
            },
            status: 0,
            bytes: 5,
            term: Termination::NORMAL,
            cookie: *b"--",
            active: 1,
            frontend_conns: 1,
            retries: 0,
            bytes_in: 0,
            unique_id: None,
            samples: &[],
            server_addr: None,
            captures: "",
        }
    }

    #[test]
    fn tcp_lines_as_haproxy_writes_them() {
        let e = entry("10.0.0.1:4000".parse().expect("addr"), Mode::Tcp);
        let line = e.line(Format::Tcp, || None);
        assert!(line.starts_with("10.0.0.1:4000 ["), "{line}");
        assert!(
            line.ends_with("] fe be/s1 0/2/7 5 -- 1/1/0/0/0 0/0"),
            "{line}"
        );
        // The legacy format names the address the client connected to, not the server.
        assert_eq!(
            e.line(Format::Connect, || None),
            "Connect from 10.0.0.1:4000 to 127.0.0.1:8080 (fe/TCP)"
        );
        // A unix-socket client is `unix:ID`.
        let u = crate::net::unix_peer(2);
        let mut e = entry(u, Mode::Tcp);
        e.backend = None;
        e.server = None;
        e.term = Termination::new(Cause::Server, Phase::Connect);
        assert_eq!(
            e.line(Format::Connect, || None),
            "Connect to unix:2 (fe/TCP)"
        );
        let line = e.line(Format::Tcp, || None);
        assert!(line.starts_with("unix:2 ["), "{line}");
        assert!(line.contains("] fe fe/<NOSRV> 0/2/7 5 SC "), "{line}");
    }

    #[test]
    fn formats_follow_the_options() {
        let mut o = ProxyOptions::default();
        assert_eq!(Format::of(Mode::Tcp, &o), Format::Connect);
        o.httplog = true;
        assert_eq!(Format::of(Mode::Tcp, &o), Format::Tcp);
        assert_eq!(Format::of(Mode::Http, &o), Format::Http);
        o.httplog = false;
        o.tcplog = true;
        assert_eq!(Format::of(Mode::Http, &o), Format::Connect);
    }
}
