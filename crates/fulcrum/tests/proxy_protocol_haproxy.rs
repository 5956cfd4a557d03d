//! Issue 19 item 8: the PROXY protocol both ways against the real `haproxy`.
//!
//! - haproxy `server ... send-proxy` / `send-proxy-v2` → fulcrum `bind ... accept-proxy`: the
//!   client's address (the test's client leaves from 127.0.0.5, haproxy from 127.0.0.1) is the
//!   one fulcrum uses: its `return lf-string "%[src]"` answers it.
//! - fulcrum `server ... send-proxy` / `send-proxy-v2` → haproxy `bind ... accept-proxy`:
//!   haproxy's `%[src]` is the address fulcrum's client came from (127.0.0.6).
//! - a connection to an `accept-proxy` bind without a header is closed without an answer by
//!   both.
//! - fulcrum's HTTP checks of a `send-proxy` server start with the header too (as HAProxy's):
//!   the check of haproxy's `accept-proxy` bind passes (`show stat` check_status L7OK).

mod common;

use common::{free_port, Fulcrum, Scratch};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One GET to `port` from the local address `from`; the response's body (None: no answer).
fn get_from(from: &str, port: u16) -> Option<String> {
    use socket2::{Domain, Socket, Type};
    let v6 = from.contains(':');
    let s = Socket::new(
        if v6 { Domain::IPV6 } else { Domain::IPV4 },
        Type::STREAM,
        None,
    )
    .expect("socket");
    let src: SocketAddr = if v6 {
        format!("[{from}]:0")
    } else {
        format!("{from}:0")
    }
    .parse()
    .expect("addr");
    s.bind(&src.into()).expect("bind source");
    let dst: SocketAddr = if v6 {
        format!("[::1]:{port}")
    } else {
        format!("127.0.0.1:{port}")
    }
    .parse()
    .expect("addr");
    s.connect(&dst.into()).ok()?;
    let c: TcpStream = s.into();
    exchange(c)
}

/// One GET over a unix socket; the response's body.
fn get_unix(path: &std::path::Path) -> Option<String> {
    let c = std::os::unix::net::UnixStream::connect(path).ok()?;
    exchange(c)
}

fn exchange<C: Read + Write + SetTimeout>(mut c: C) -> Option<String> {
    c.timeout(Duration::from_secs(5)).ok()?;
    c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    if !out.starts_with("HTTP/1.1 200") {
        return None;
    }
    out.split("\r\n\r\n").nth(1).map(|b| b.trim().to_string())
}

trait SetTimeout {
    fn timeout(&self, d: Duration) -> std::io::Result<()>;
}

impl SetTimeout for TcpStream {
    fn timeout(&self, d: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(d))
    }
}

impl SetTimeout for std::os::unix::net::UnixStream {
    fn timeout(&self, d: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(d))
    }
}

/// `status/check_status` of BACKEND/SERVER from `show stat` (e.g. `UP/L7OK`).
fn check_status(sock: &std::path::Path, backend: &str, server: &str) -> Option<String> {
    let mut s = std::os::unix::net::UnixStream::connect(sock).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"show stat\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let header: Vec<&str> = out
        .lines()
        .next()?
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = header.iter().position(|h| *h == "check_status")?;
    let st = header.iter().position(|h| *h == "status")?;
    out.lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&backend) && f.get(1) == Some(&server))
        .and_then(|f| Some(format!("{}/{}", f.get(st)?, f.get(col)?)))
}

fn haproxy(scratch: &Scratch, name: &str, cfg: &str, port: u16) -> fulcrum_testlab::process::Child {
    let path = scratch.write(name, cfg);
    fulcrum_testlab::process::Child::haproxy_listening(
        &path,
        scratch.0.join(format!("{name}.log")),
        port,
    )
}

const DEFAULTS: &str =
    "defaults\n mode http\n timeout connect 1s\n timeout client 3s\n timeout server 3s\n";

#[test]
fn proxy_protocol_both_ways_with_haproxy() {
    if !fulcrum_testlab::require::tool(
        "proxy_protocol_both_ways_with_haproxy",
        "haproxy",
        "haproxy",
    ) {
        return;
    }
    let scratch = Scratch::new("pp-haproxy");
    // fulcrum: an accept-proxy frontend answering the client's address, and a frontend that
    // forwards to haproxy with send-proxy (v1) and send-proxy-v2.
    let (f_accept, f_v1, f_v2, h_accept) = (free_port(), free_port(), free_port(), free_port());
    let fcfg = scratch.write(
        "f.cfg",
        &format!(
            "global\n stats socket {sock} level admin\n{DEFAULTS}frontend accept\n bind 127.0.0.1:{f_accept} accept-proxy\n\
             http-request return status 200 content-type text/plain lf-string \"%[src]\"\n\
             frontend send1\n bind 127.0.0.1:{f_v1}\n default_backend h1\n\
             frontend send2\n bind 127.0.0.1:{f_v2}\n default_backend h2\n\
             backend h1\n option httpchk GET /\n server h 127.0.0.1:{h_accept} send-proxy check inter 200\n\
             backend h2\n server h 127.0.0.1:{h_accept} send-proxy-v2\n",
            sock = scratch.0.join("f.sock").display()
        ),
    );
    let _f = Fulcrum::start(&fcfg);
    // haproxy: the mirror image.
    let (h_v1, h_v2, h_v6) = (free_port(), free_port(), free_port());
    let unix = scratch.0.join("h.sock");
    let unix_s = unix.display();
    let _h = haproxy(
        &scratch,
        "h.cfg",
        &format!(
            "{DEFAULTS}frontend accept\n bind 127.0.0.1:{h_accept} accept-proxy\n\
             http-request return status 200 content-type text/plain lf-string \"%[src]\"\n\
             frontend send1\n bind 127.0.0.1:{h_v1}\n default_backend f1\n\
             frontend send2\n bind 127.0.0.1:{h_v2}\n default_backend f2\n\
             frontend send6\n bind [::1]:{h_v6}\n default_backend f2\n\
             frontend sendunix\n bind unix@{unix_s}\n default_backend f2\n\
             backend f1\n server f 127.0.0.1:{f_accept} send-proxy\n\
             backend f2\n server f 127.0.0.1:{f_accept} send-proxy-v2\n"
        ),
        h_accept,
    );

    // haproxy sends, fulcrum accepts.
    assert_eq!(get_from("127.0.0.5", h_v1).as_deref(), Some("127.0.0.5"));
    assert_eq!(get_from("127.0.0.5", h_v2).as_deref(), Some("127.0.0.5"));
    // An IPv6 client: v2 INET6 addresses.
    assert_eq!(get_from("::1", h_v6).as_deref(), Some("::1"));
    // A unix-socket client: haproxy sends no IP address; fulcrum keeps the connection's own.
    assert_eq!(get_unix(&unix).as_deref(), Some("127.0.0.1"));
    // fulcrum's check (started before haproxy: wait for it to pass) of h1's server went through haproxy's accept-proxy bind.
    let sock = scratch.0.join("f.sock");
    let l7ok = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        check_status(&sock, "h1", "h").is_some_and(|s| s == "UP/L7OK")
    });
    assert!(
        l7ok.is_some(),
        "the check with a PROXY header passed: {:?}",
        check_status(&sock, "h1", "h")
    );
    // fulcrum sends, haproxy accepts.
    assert_eq!(get_from("127.0.0.6", f_v1).as_deref(), Some("127.0.0.6"));
    assert_eq!(get_from("127.0.0.6", f_v2).as_deref(), Some("127.0.0.6"));
    // Without a header: both close without answering.
    assert_eq!(get_from("127.0.0.7", f_accept), None);
    assert_eq!(get_from("127.0.0.7", h_accept), None);
}
